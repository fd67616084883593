//! Comparing and printing InfluxDB JSON answers.
//!
//! Two servers answer the same query with the same *values* but may spell
//! floats differently (`1e+21` vs `1e21`, or the last digit of a sum taken
//! in another order), so answers are compared as parsed JSON: object keys
//! in any order, strings and booleans exactly, integers exactly, and any
//! number involving a float within a relative tolerance ([`REL_TOLERANCE`]).
//!
//! [`layout`] prints an answer the way the conformance files store it: the
//! keys InfluxDB's order puts first (`statement_id`, `name`, `tags`,
//! `columns`, `values`), one result series per line, so a reviewer reads a
//! diff series by series.

use serde_json::Value;

/// Relative tolerance of float comparisons.
pub const REL_TOLERANCE: f64 = 1e-9;

/// Whether two numbers are equal: integers exactly, floats within
/// [`REL_TOLERANCE`] (relative to the larger magnitude).
pub fn numbers_match(a: &serde_json::Number, b: &serde_json::Number) -> bool {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x == y;
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return x == y;
    }
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => {
            if x == y {
                return true;
            }
            let scale = x.abs().max(y.abs());
            (x - y).abs() <= REL_TOLERANCE * scale
        }
        _ => false,
    }
}

/// Whether two JSON values match (see the module docs).
pub fn json_match(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => numbers_match(x, y),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_match(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_match(v, w)))
        }
        _ => a == b,
    }
}

/// The first place where two values differ, as a JSON-pointer-like path
/// with both sides; `None` when they match.
pub fn first_difference(a: &Value, b: &Value) -> Option<String> {
    fn walk(a: &Value, b: &Value, path: &mut String) -> Option<String> {
        match (a, b) {
            (Value::Array(x), Value::Array(y)) => {
                for (i, (p, q)) in x.iter().zip(y).enumerate() {
                    let len = path.len();
                    path.push_str(&format!("/{i}"));
                    if let Some(d) = walk(p, q, path) {
                        return Some(d);
                    }
                    path.truncate(len);
                }
                (x.len() != y.len()).then(|| format!("{path}: {} vs {} elements", x.len(), y.len()))
            }
            (Value::Object(x), Value::Object(y)) => {
                for (k, v) in x {
                    let len = path.len();
                    path.push_str(&format!("/{k}"));
                    match y.get(k) {
                        Some(w) => {
                            if let Some(d) = walk(v, w, path) {
                                return Some(d);
                            }
                        }
                        None => return Some(format!("{path}: {} vs missing", compact(v))),
                    }
                    path.truncate(len);
                }
                y.iter()
                    .find(|(k, _)| !x.contains_key(*k))
                    .map(|(k, w)| format!("{path}/{k}: missing vs {}", compact(w)))
            }
            _ => (!json_match(a, b)).then(|| format!("{path}: {} vs {}", compact(a), compact(b))),
        }
    }
    walk(a, b, &mut String::new())
}

/// Compact JSON text of a value.
pub fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Keys printed first, in this order; the rest follow alphabetically.
const KEY_ORDER: [&str; 8] = ["statement_id", "name", "tags", "columns", "values", "partial", "series", "error"];

/// Compact JSON with object keys in InfluxDB's order.
pub fn ordered(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by_key(|k| (KEY_ORDER.iter().position(|o| o == k).unwrap_or(KEY_ORDER.len()), (*k).clone()));
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", compact(&Value::String((*k).clone())), ordered(&map[*k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(ordered).collect::<Vec<_>>().join(",")),
        other => compact(other),
    }
}

/// The stored layout of an answer: `{"results":[` then each result on its
/// own line — and each of its series on its own line — then `]}`; a
/// chunked answer (an array of such documents) as its documents in turn.
/// Any other JSON is one compact line.
pub fn layout(v: &Value) -> String {
    // A chunked answer: its documents one after the other.
    if let Some(docs) = v.as_array().filter(|d| d.len() > 1 && d.iter().all(|x| x.get("results").is_some())) {
        return docs.iter().map(layout).collect::<Vec<_>>().join("\n");
    }
    let Some(results) =
        v.get("results").and_then(Value::as_array).filter(|_| v.as_object().is_some_and(|o| o.len() == 1))
    else {
        return ordered(v);
    };
    let mut out = String::from("{\"results\":[\n");
    for (i, result) in results.iter().enumerate() {
        let sep = if i + 1 < results.len() { "," } else { "" };
        match result.get("series").and_then(Value::as_array) {
            Some(series) if !series.is_empty() => {
                let mut head = result.clone();
                if let Some(obj) = head.as_object_mut() {
                    obj.remove("series");
                }
                let head = ordered(&head);
                // `{"statement_id":0` + `,"series":[` ... `]}`
                out.push_str(&head[..head.len() - 1]);
                out.push_str(",\"series\":[\n");
                for (j, s) in series.iter().enumerate() {
                    out.push_str(&ordered(s));
                    out.push_str(if j + 1 < series.len() { ",\n" } else { "\n" });
                }
                out.push_str(&format!("]}}{sep}\n"));
            }
            _ => out.push_str(&format!("{}{sep}\n", ordered(result))),
        }
    }
    out.push_str("]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_match_within_tolerance_and_integers_exactly() {
        assert!(json_match(&json!(1e21), &serde_json::from_str("1e+21").unwrap()));
        assert!(json_match(&json!(0.1 + 0.2), &json!(0.3)));
        assert!(!json_match(&json!(1.0001), &json!(1.0)));
        assert!(!json_match(&json!(1), &json!(2)));
        assert!(json_match(&json!(2), &json!(2.0)));
        assert!(!json_match(&json!("1"), &json!(1)));
        assert!(json_match(&json!({"a":[1,null],"b":"x"}), &json!({"b":"x","a":[1,null]})));
        assert!(!json_match(&json!({"a":[1,null]}), &json!({"a":[1]})));
    }

    #[test]
    fn first_difference_names_the_path() {
        let a = json!({"results":[{"series":[{"values":[[1,2]]}]}]});
        let b = json!({"results":[{"series":[{"values":[[1,3]]}]}]});
        assert_eq!(first_difference(&a, &b).unwrap(), "/results/0/series/0/values/0/1: 2 vs 3");
        assert_eq!(first_difference(&a, &a), None);
    }

    #[test]
    fn layout_puts_series_on_lines_and_round_trips() {
        let v: Value = serde_json::from_str(
            r#"{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","v"],"values":[[1,2]]},{"name":"m","tags":{"h":"a"},"columns":["time"],"values":[[3]]}]},{"statement_id":1,"error":"x"}]}"#,
        )
        .unwrap();
        let text = layout(&v);
        assert_eq!(
            text,
            "{\"results\":[\n{\"statement_id\":0,\"series\":[\n{\"name\":\"cpu\",\"columns\":[\"time\",\"v\"],\"values\":[[1,2]]},\n{\"name\":\"m\",\"tags\":{\"h\":\"a\"},\"columns\":[\"time\"],\"values\":[[3]]}\n]},\n{\"statement_id\":1,\"error\":\"x\"}\n]}"
        );
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
        assert_eq!(layout(&json!({"error":"bad"})), "{\"error\":\"bad\"}");
    }
}
