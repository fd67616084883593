//! The dashboard: a small web UI served from the binary at `/` and `/ui/...`.
//!
//! The files (HTML, ES modules, CSS and the vendored uPlot charting library)
//! live in `server/assets/dashboard/` and are embedded at compile time, so
//! the server needs no asset directory and downloads nothing at run time
//! (docs/dashboard.md). The files themselves are public: they carry no data.
//! Everything the UI shows comes from the authenticated APIs (`/query`,
//! `/v1/pools`, `/v1/webhooks`), with the caller's own token.
//!
//! Every answer carries a content type, a strong `ETag` (SHA-256 of the
//! file; `If-None-Match` answers 304), `Cache-Control: no-cache` (the file
//! names are not versioned, so browsers revalidate), and a
//! `Content-Security-Policy` that lets the page load and fetch only from
//! this server.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest as _, Sha256};

use super::error::ApiError;

/// The policy every dashboard answer carries: scripts, styles, images and
/// API calls from this origin only; no framing, no foreign form targets.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    /// Its name under `/ui/`.
    name: &'static str,
    /// Its `Content-Type`.
    content_type: &'static str,
    /// Its bytes.
    body: &'static [u8],
}

/// The page served at `/`.
const INDEX: Asset = Asset {
    name: "index.html",
    content_type: "text/html; charset=utf-8",
    body: include_bytes!("../../assets/dashboard/index.html"),
};

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Everything under `/ui/`.
const ASSETS: &[Asset] = &[
    INDEX,
    Asset { name: "app.css", content_type: CSS, body: include_bytes!("../../assets/dashboard/app.css") },
    Asset { name: "app.js", content_type: JS, body: include_bytes!("../../assets/dashboard/app.js") },
    Asset { name: "api.js", content_type: JS, body: include_bytes!("../../assets/dashboard/api.js") },
    Asset { name: "chart.js", content_type: JS, body: include_bytes!("../../assets/dashboard/chart.js") },
    Asset { name: "dom.js", content_type: JS, body: include_bytes!("../../assets/dashboard/dom.js") },
    Asset { name: "explorer.js", content_type: JS, body: include_bytes!("../../assets/dashboard/explorer.js") },
    Asset { name: "forecast.js", content_type: JS, body: include_bytes!("../../assets/dashboard/forecast.js") },
    Asset { name: "pools.js", content_type: JS, body: include_bytes!("../../assets/dashboard/pools.js") },
    Asset { name: "models.js", content_type: JS, body: include_bytes!("../../assets/dashboard/models.js") },
    Asset { name: "webhooks.js", content_type: JS, body: include_bytes!("../../assets/dashboard/webhooks.js") },
    Asset { name: "anomalies.js", content_type: JS, body: include_bytes!("../../assets/dashboard/anomalies.js") },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../../assets/dashboard/favicon.svg"),
    },
    Asset {
        name: "uPlot.iife.min.js",
        content_type: JS,
        body: include_bytes!("../../assets/dashboard/vendor/uplot/uPlot.iife.min.js"),
    },
    Asset {
        name: "uPlot.min.css",
        content_type: CSS,
        body: include_bytes!("../../assets/dashboard/vendor/uplot/uPlot.min.css"),
    },
    Asset {
        name: "uPlot.LICENSE",
        content_type: "text/plain; charset=utf-8",
        body: include_bytes!("../../assets/dashboard/vendor/uplot/LICENSE"),
    },
];

/// Each asset's `ETag`, in the order of [`ASSETS`], computed once.
static ETAGS: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| ASSETS.iter().map(|a| etag(a.body)).collect());

/// A strong entity tag: the first 16 bytes of the body's SHA-256, quoted.
fn etag(body: &[u8]) -> HeaderValue {
    let digest = Sha256::digest(body);
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    // Only hex digits and quotes: always a valid header value.
    HeaderValue::from_str(&format!("\"{hex}\"")).unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// `GET /`: the dashboard's page.
pub async fn index(headers: HeaderMap) -> Response {
    serve(0, &headers)
}

/// `GET /ui/{file}`: one of the dashboard's files, or 404.
pub async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().position(|a| a.name == file) {
        Some(i) => serve(i, &headers),
        None => ApiError::RouteNotFound.into_response(),
    }
}

/// Answers asset `i` (200, or 304 when the client holds this version).
fn serve(i: usize, request: &HeaderMap) -> Response {
    let asset = &ASSETS[i];
    let tag = &ETAGS[i];
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag.to_str().unwrap_or_default() || t.trim() == "*"));
    let mut response =
        if fresh { StatusCode::NOT_MODIFIED.into_response() } else { (StatusCode::OK, asset.body).into_response() };
    let h = response.headers_mut();
    if !fresh {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    }
    h.insert(header::ETAG, tag.clone());
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_unique_name_and_a_body() {
        for (i, a) in ASSETS.iter().enumerate() {
            assert!(!a.body.is_empty(), "{} is empty", a.name);
            assert!(ASSETS[..i].iter().all(|b| b.name != a.name), "{} twice", a.name);
        }
    }

    #[test]
    fn every_module_the_page_imports_is_served() {
        // `import ... from './x.js'` in any module must name an embedded file.
        for a in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let text = String::from_utf8_lossy(a.body);
            for part in text.split("from './").skip(1) {
                let name = part.split('\'').next().unwrap_or_default();
                assert!(ASSETS.iter().any(|b| b.name == name), "{} imports {name}, which is not served", a.name);
            }
        }
    }

    #[test]
    fn etags_are_quoted_hex_and_differ_per_file() {
        let tags: Vec<_> = ETAGS.iter().map(|t| t.to_str().expect("ascii").to_string()).collect();
        assert!(tags.iter().all(|t| t.len() == 34 && t.starts_with('"') && t.ends_with('"')), "{tags:?}");
        let mut unique = tags.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), tags.len());
    }
}
