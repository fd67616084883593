//! Reading request bodies within `http.max_body_size`, gzip, and JSON
//! objects.
//!
//! The limit holds at every stage: a `Content-Length` over it is refused
//! before reading, a streamed body is cut off as soon as it passes it, and a
//! gzip body is decompressed into a buffer that may grow only up to the limit
//! (so a small "gzip bomb" gets 413, never an out-of-memory). Decompression
//! is CPU work: [`decode`] is synchronous and runs on the blocking pool with
//! the rest of a write.

use std::io::Read as _;

use axum::body::Body;
use axum::http::{header, HeaderMap};
use bytes::Bytes;
use flate2::read::MultiGzDecoder;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};

use serde::de::DeserializeOwned;

use super::error::ApiError;

/// How a request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// As is.
    Identity,
    /// gzip (one or more members).
    Gzip,
}

/// The body's `Content-Encoding`.
pub fn content_encoding(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    let Some(value) = headers.get(header::CONTENT_ENCODING) else {
        return Ok(Encoding::Identity);
    };
    let text = value.to_str().unwrap_or_default().trim().to_ascii_lowercase();
    match text.as_str() {
        "" | "identity" => Ok(Encoding::Identity),
        "gzip" | "x-gzip" => Ok(Encoding::Gzip),
        _ => Err(ApiError::UnsupportedEncoding(String::from_utf8_lossy(value.as_bytes()).into_owned())),
    }
}

/// Reads the whole body as sent (still encoded), refusing more than `limit`
/// bytes.
pub async fn read_limited(body: Body, headers: &HeaderMap, limit: usize) -> Result<Bytes, ApiError> {
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::BodyTooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => Err(ApiError::BodyTooLarge { limit }),
        Err(err) => Err(ApiError::BodyRead(err.to_string())),
    }
}

/// Decodes a body read by [`read_limited`]; the decoded size is held to
/// `limit` as well.
pub fn decode(raw: Bytes, encoding: Encoding, limit: usize) -> Result<Bytes, ApiError> {
    match encoding {
        Encoding::Identity => Ok(raw),
        Encoding::Gzip if raw.is_empty() => Ok(raw),
        Encoding::Gzip => {
            let mut out = Vec::with_capacity(raw.len().saturating_mul(4).min(limit));
            let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
            MultiGzDecoder::new(&raw[..])
                .take(cap)
                .read_to_end(&mut out)
                .map_err(|e| ApiError::BadGzip(e.to_string()))?;
            if out.len() > limit {
                return Err(ApiError::BodyTooLarge { limit });
            }
            Ok(Bytes::from(out))
        }
    }
}

/// A JSON body as `T`, or 400 naming `what` and the field at fault
/// (`invalid quota: limits.cpu_cores: invalid type: ...`).
///
/// Why a check before serde: a derived struct also deserializes from an
/// array, field by field in declaration order, so `[]` would be read as
/// `{}` and `["web"]` as a body whose first field is `"web"`. No client
/// means that; the API's bodies are objects, and anything else is refused
/// as such.
pub fn json_object<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    let first = body.iter().copied().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| b != b'{') {
        return Err(ApiError::BadRequest(format!("invalid {what}: the body must be a JSON object ({{...}})")));
    }
    let mut decoder = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut decoder).map_err(|e| {
        let field = e.path().to_string();
        // serde cannot name an enum map key (a dimension): cut the `?`.
        let field = field.trim_end_matches(".?");
        let inner = e.into_inner();
        if field == "." || field == "?" {
            ApiError::BadRequest(format!("invalid {what}: {inner}"))
        } else {
            ApiError::BadRequest(format!("invalid {what}: {field}: {inner}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use axum::http::{HeaderValue, StatusCode};
    use flate2::write::GzEncoder;
    use flate2::Compression;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(data).expect("compress");
        enc.finish().expect("finish")
    }

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Quota {
        name: String,
        #[serde(default)]
        limit: u32,
    }

    fn refusal(body: &[u8]) -> String {
        match json_object::<Quota>(body, "quota") {
            Err(ApiError::BadRequest(message)) => message,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(body)),
        }
    }

    #[test]
    fn a_json_body_must_be_an_object() {
        let q: Quota = json_object(br#" {"name":"a","limit":3}"#, "quota").expect("object");
        assert_eq!(q, Quota { name: "a".into(), limit: 3 });
        // serde alone reads these as a Quota, field by field.
        assert!(serde_json::from_slice::<Quota>(br#"["a", 3]"#).is_ok());
        for body in [&br#"["a", 3]"#[..], b"[]", b"\n [\"a\"]", b"\"a\"", b"3", b"null"] {
            assert_eq!(refusal(body), "invalid quota: the body must be a JSON object ({...})");
        }
        // Faults inside the object name the field; the root has no path.
        assert_eq!(
            refusal(br#"{"name":"a","limit":-1}"#).split(": ").take(2).collect::<Vec<_>>(),
            ["invalid quota", "limit"]
        );
        assert!(refusal(b"{}").starts_with("invalid quota: missing field `name`"), "{}", refusal(b"{}"));
        #[derive(Debug, serde::Deserialize, PartialEq, Eq, PartialOrd, Ord)]
        #[serde(rename_all = "snake_case")]
        enum Dimension {
            CpuCores,
        }
        let e = json_object::<std::collections::BTreeMap<Dimension, f64>>(br#"{"cpu_cores":"x"}"#, "limits");
        assert!(matches!(&e, Err(ApiError::BadRequest(m)) if m.starts_with("invalid limits: invalid type")), "{e:?}");
        assert!(refusal(b"").starts_with("invalid quota: EOF"), "{}", refusal(b""));
    }

    #[tokio::test]
    async fn reads_within_the_limit() {
        let body = read_limited(Body::from("abc"), &HeaderMap::new(), 3).await.expect("read");
        assert_eq!(&body[..], b"abc");
    }

    #[tokio::test]
    async fn refuses_declared_and_streamed_excess() {
        let h = headers(&[(header::CONTENT_LENGTH, "100")]);
        let err = read_limited(Body::from("x"), &h, 10).await.expect_err("declared");
        assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let stream = futures::stream::iter(vec![
            Ok::<_, std::io::Error>(Bytes::from_static(b"12345")),
            Ok(Bytes::from_static(b"67890")),
        ]);
        let err = read_limited(Body::from_stream(stream), &HeaderMap::new(), 8).await.expect_err("streamed");
        assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn gzip_round_trip_and_multi_member() {
        let mut data = gzip(b"cpu v=1\n");
        data.extend(gzip(b"cpu v=2\n"));
        let out = decode(Bytes::from(data), Encoding::Gzip, 1 << 20).expect("decode");
        assert_eq!(&out[..], b"cpu v=1\ncpu v=2\n");
    }

    #[test]
    fn gzip_bomb_is_too_large_not_oom() {
        let bomb = gzip(&vec![b'a'; 10 << 20]);
        assert!(bomb.len() < 64 << 10, "compresses well: {}", bomb.len());
        let err = decode(Bytes::from(bomb), Encoding::Gzip, 1 << 20).expect_err("bomb");
        assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
        // Exactly at the limit is fine.
        let ok = decode(Bytes::from(gzip(&[b'a'; 1000])), Encoding::Gzip, 1000).expect("at limit");
        assert_eq!(ok.len(), 1000);
    }

    #[test]
    fn bad_gzip_is_a_400_naming_gzip() {
        let err = decode(Bytes::from_static(b"not gzip at all"), Encoding::Gzip, 1 << 20).expect_err("bad");
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert!(err.to_string().starts_with("invalid gzip body:"), "{err}");
        let mut truncated = gzip(b"cpu v=1\n");
        truncated.truncate(truncated.len() - 4);
        assert!(decode(Bytes::from(truncated), Encoding::Gzip, 1 << 20).is_err());
    }

    #[test]
    fn content_encodings() {
        assert_eq!(content_encoding(&HeaderMap::new()).ok(), Some(Encoding::Identity));
        let h = headers(&[(header::CONTENT_ENCODING, "GZIP")]);
        assert_eq!(content_encoding(&h).ok(), Some(Encoding::Gzip));
        let h = headers(&[(header::CONTENT_ENCODING, "br")]);
        assert_eq!(content_encoding(&h).map_err(|e| e.status()).err(), Some(StatusCode::UNSUPPORTED_MEDIA_TYPE));
    }
}
