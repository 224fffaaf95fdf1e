//! Small helpers for reading loosely-typed JSON frames.

use serde_json::Value;

pub(crate) fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

pub(crate) fn string_at(v: &Value, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| str_at(v, k)).map(str::to_owned)
}

/// A list of strings, accepting a single string too (`"to": "a@b"` or `["a@b"]`).
pub(crate) fn strings_at(v: &Value, key: &str) -> Vec<String> {
    match v.get(key) {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}
