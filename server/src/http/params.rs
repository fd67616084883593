//! Request parameters from the query string and url-encoded form bodies.
//!
//! Parsed by hand (not with axum's `Query` extractor) so that a malformed
//! query string can never produce a non-InfluxDB-shaped rejection, and so
//! that `/query` can merge form-body and URL parameters the way Go's
//! `r.FormValue` does (body first, then URL; first value wins).

/// Decoded `key=value` pairs, in order.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parses a query string (`None` = no query string).
    pub fn from_query(raw: Option<&str>) -> Params {
        let mut params = Params::default();
        if let Some(raw) = raw {
            params.extend(raw.as_bytes());
        }
        params
    }

    /// Appends the pairs of an `application/x-www-form-urlencoded` text.
    pub fn extend(&mut self, encoded: &[u8]) {
        self.pairs.extend(form_urlencoded::parse(encoded).map(|(k, v)| (k.into_owned(), v.into_owned())));
    }

    /// The first value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The first value of `key` if present and not empty.
    pub fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }

    /// Whether `key` is `true` (InfluxDB's boolean parameters).
    pub fn flag(&self, key: &str) -> bool {
        self.get(key) == Some("true")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_prefers_the_first_value() {
        let mut p = Params::default();
        p.extend(b"q=SHOW+DATABASES&db=");
        p.extend("db=x&q=ignored&pretty=true&bad=%ZZ&%E2%9C%93=%C3".as_bytes());
        assert_eq!(p.get("q"), Some("SHOW DATABASES"));
        assert_eq!(p.get("db"), Some(""));
        assert_eq!(p.non_empty("db"), None);
        assert!(p.flag("pretty"));
        assert!(!p.flag("chunked"));
        assert_eq!(p.get("bad"), Some("%ZZ"));
        assert!(p.get("✓").is_some());
        assert!(Params::from_query(None).get("q").is_none());
    }
}
