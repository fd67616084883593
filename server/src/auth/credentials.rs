//! Reading a credential from a request, in every form InfluxDB 1.x clients
//! send one: `u`/`p` URL parameters, HTTP Basic, `Authorization: Token <t>`
//! (and `Bearer <t>`).

use axum::http::{header, HeaderMap};
use base64::Engine as _;

/// A credential as sent.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// A user name and password (`u`/`p` or Basic). The password may be a
    /// token, as InfluxDB 2's 1.x compatibility allows.
    Password {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
    /// An API token.
    Token(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Password { user, .. } => write!(f, "Password({user:?}, [REDACTED])"),
            Credential::Token(_) => f.write_str("Token([REDACTED])"),
        }
    }
}

impl Credential {
    /// The user name it claims, if it names one.
    pub fn user(&self) -> Option<&str> {
        match self {
            Credential::Password { user, .. } => Some(user),
            Credential::Token(_) => None,
        }
    }
}

/// Why a credential could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// None was sent.
    #[error("unable to parse authentication credentials")]
    Missing,
    /// The `Authorization` header is malformed.
    #[error("invalid Authorization header")]
    Malformed,
}

/// The credential of a request: the `Authorization` header first, then
/// the `u`/`p` URL parameters.
pub fn from_request(headers: &HeaderMap, query: Option<&str>) -> Result<Credential, CredentialError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let text = value.to_str().map_err(|_| CredentialError::Malformed)?.trim();
        let (scheme, rest) = text.split_once(' ').ok_or(CredentialError::Malformed)?;
        let rest = rest.trim();
        return match scheme.to_ascii_lowercase().as_str() {
            "token" | "bearer" if !rest.is_empty() => Ok(Credential::Token(rest.to_string())),
            "basic" => {
                let decoded =
                    base64::engine::general_purpose::STANDARD.decode(rest).map_err(|_| CredentialError::Malformed)?;
                let decoded = String::from_utf8(decoded).map_err(|_| CredentialError::Malformed)?;
                let (user, password) = decoded.split_once(':').ok_or(CredentialError::Malformed)?;
                Ok(Credential::Password { user: user.to_string(), password: password.to_string() })
            }
            _ => Err(CredentialError::Malformed),
        };
    }
    let mut user = None;
    let mut password = None;
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "u" => user = Some(value.into_owned()),
            "p" => password = Some(value.into_owned()),
            _ => {}
        }
    }
    match (user, password) {
        (Some(user), Some(password)) if !user.is_empty() => Ok(Credential::Password { user, password }),
        // A token alone in `p` (some clients have only a password field).
        (None, Some(password)) if !password.is_empty() => Ok(Credential::Token(password)),
        _ => Err(CredentialError::Missing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_auth(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).expect("header"));
        headers
    }

    #[test]
    fn reads_every_form() {
        let password = |u: &str, p: &str| Credential::Password { user: u.into(), password: p.into() };
        assert_eq!(from_request(&with_auth("Token abc"), None), Ok(Credential::Token("abc".into())));
        assert_eq!(from_request(&with_auth("Bearer abc"), None), Ok(Credential::Token("abc".into())));
        // "bob:pa:ss" in base64.
        assert_eq!(from_request(&with_auth("Basic Ym9iOnBhOnNz"), None), Ok(password("bob", "pa:ss")));
        assert_eq!(from_request(&HeaderMap::new(), Some("db=x&u=bob&p=p%26w")), Ok(password("bob", "p&w")));
        assert_eq!(from_request(&HeaderMap::new(), Some("p=augur_t")), Ok(Credential::Token("augur_t".into())));
    }

    #[test]
    fn missing_and_malformed() {
        assert_eq!(from_request(&HeaderMap::new(), Some("db=x")), Err(CredentialError::Missing));
        assert_eq!(from_request(&HeaderMap::new(), None), Err(CredentialError::Missing));
        assert_eq!(from_request(&with_auth("Basic !!!"), None), Err(CredentialError::Malformed));
        assert_eq!(from_request(&with_auth("Basic Ym9i"), None), Err(CredentialError::Malformed), "no colon");
        assert_eq!(from_request(&with_auth("Digest x"), None), Err(CredentialError::Malformed));
        assert_eq!(from_request(&with_auth("Token"), None), Err(CredentialError::Malformed));
        assert!(!format!("{:?}", from_request(&with_auth("Token secret"), None)).contains("secret"));
    }
}
