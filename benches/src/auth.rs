//! Credentials for the server under test: `AUGUR_TOKEN`, when set, is sent
//! as `Authorization: Token <token>` on every request (Augur requires a
//! credential unless started with `--auth-enabled false`; InfluxDB 1.x
//! without auth ignores the header).

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};

/// Environment variable holding the API token.
pub const ENV_TOKEN: &str = "AUGUR_TOKEN";

/// The default headers of every bench client.
pub fn default_headers() -> anyhow::Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    if let Some(token) = std::env::var(ENV_TOKEN).ok().filter(|t| !t.is_empty()) {
        let value = HeaderValue::from_str(&format!("Token {token}"))
            .map_err(|_| anyhow::anyhow!("{ENV_TOKEN} is not a valid header value"))?;
        headers.insert(AUTHORIZATION, value);
    }
    Ok(headers)
}
