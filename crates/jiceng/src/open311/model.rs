//! The GeoReport v2 wire format as plain types and functions: formats, the XML writer, dates,
//! API keys, the per-key rate limit and the spec's errors.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};
use chrono_tz::Asia::Shanghai;
use rand::Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::time::Timestamp;

/// The representation a client asked for by the resource's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json; charset=utf-8",
            Format::Xml => "text/xml; charset=utf-8",
        }
    }
}

/// Splits `2026-000123.json` into the name and its format; `None` without a known extension.
pub fn split_format(s: &str) -> Option<(&str, Format)> {
    if let Some(name) = s.strip_suffix(".json") {
        Some((name, Format::Json))
    } else {
        s.strip_suffix(".xml").map(|name| (name, Format::Xml))
    }
}

/// A GeoReport error: the HTTP status doubles as the error code, as the spec does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Open311Error {
    pub code: u16,
    pub description: String,
}

impl Open311Error {
    pub fn new(code: u16, description: impl Into<String>) -> Self {
        Open311Error {
            code,
            description: description.into(),
        }
    }
}

impl From<Error> for Open311Error {
    fn from(e: Error) -> Self {
        let code = match &e {
            Error::Invalid { .. } | Error::Conflict(_) | Error::SessionChanged => 400,
            Error::NotFound(_) => 404,
            Error::Forbidden(_) | Error::Unauthenticated => 403,
            Error::TooManyRequests(_) => 429,
            Error::TooLarge(_) => 413,
            Error::Internal(_) => 500,
        };
        let description = match &e {
            // Internal details stay in the log.
            Error::Internal(_) => "服务暂时不可用，请稍后再试".to_owned(),
            other => other.to_string(),
        };
        Open311Error { code, description }
    }
}

/// A value in the GeoReport data model, rendered as JSON or as the spec's XML.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Text(String),
    /// Degrees from stored ten-millionths, written exactly.
    Degrees(i64),
    /// A list whose XML items are named by the string.
    List(&'static str, Vec<Value>),
    Object(Vec<(&'static str, Value)>),
}

impl Value {
    pub fn text(s: impl Into<String>) -> Value {
        Value::Text(s.into())
    }

    pub fn opt_text(s: Option<String>) -> Value {
        s.map_or(Value::Null, Value::Text)
    }

    fn json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Text(s) => serde_json::Value::String(s.clone()),
            Value::Degrees(e7) => degrees(*e7)
                .parse::<serde_json::Number>()
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::List(_, items) => {
                serde_json::Value::Array(items.iter().map(Value::json).collect())
            }
            Value::Object(fields) => serde_json::Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.json()))
                    .collect(),
            ),
        }
    }

    fn xml(&self, name: &str, out: &mut String) {
        match self {
            Value::Null => {
                out.push('<');
                out.push_str(name);
                out.push_str("/>");
            }
            Value::List(item, items) => {
                out.push_str(&format!("<{name}>"));
                for i in items {
                    i.xml(item, out);
                }
                out.push_str(&format!("</{name}>"));
            }
            Value::Object(fields) => {
                out.push_str(&format!("<{name}>"));
                for (k, v) in fields {
                    v.xml(k, out);
                }
                out.push_str(&format!("</{name}>"));
            }
            scalar => {
                let text = match scalar {
                    Value::Bool(b) => b.to_string(),
                    Value::Int(i) => i.to_string(),
                    Value::Text(s) => escape(s),
                    Value::Degrees(e7) => degrees(*e7),
                    _ => String::new(),
                };
                out.push_str(&format!("<{name}>{text}</{name}>"));
            }
        }
    }

    /// The document for `format`: a top-level list is the JSON array, or the XML root named
    /// by the list (e.g. `<services><service>…`).
    pub fn render(&self, root: &str, format: Format) -> String {
        match format {
            Format::Json => self.json().to_string(),
            Format::Xml => {
                let mut out = String::from(r#"<?xml version="1.0" encoding="utf-8"?>"#);
                self.xml(root, &mut out);
                out
            }
        }
    }
}

/// The spec's error list.
pub fn errors(e: &Open311Error) -> Value {
    Value::List(
        "error",
        vec![Value::Object(vec![
            ("code", Value::Int(i64::from(e.code))),
            ("description", Value::text(e.description.clone())),
        ])],
    )
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// Ten-millionths of a degree as a decimal: 1039123456 → "103.9123456".
pub fn degrees(e7: i64) -> String {
    let sign = if e7 < 0 { "-" } else { "" };
    let a = e7.unsigned_abs();
    let frac = format!("{:07}", a % 10_000_000);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("{sign}{}", a / 10_000_000)
    } else {
        format!("{sign}{}.{frac}", a / 10_000_000)
    }
}

/// The spec's date format (ISO 8601 with the offset), in Beijing time.
pub fn iso(t: Timestamp) -> String {
    t.to_utc()
        .with_timezone(&Shanghai)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// Reads a `start_date`/`end_date` filter; the spec requires the offset.
pub fn parse_iso(s: &str) -> Option<Timestamp> {
    DateTime::<FixedOffset>::parse_from_rfc3339(s.trim())
        .ok()
        .map(|d| Timestamp::from(d.with_timezone(&chrono::Utc)))
}

/// A new API key: a prefix that says what it is, then 160 random bits in base32.
pub fn new_key() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    let body: String = (0..32)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect();
    format!("o311_{body}")
}

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.trim().as_bytes()))
}

/// Requests per key per minute: a fixed window per key, in this process's memory (several
/// `serve` processes each allow the rate).
#[derive(Debug)]
pub struct Limiter {
    per_minute: u32,
    windows: Mutex<HashMap<i64, (Instant, u32)>>,
}

impl Limiter {
    pub fn new(per_minute: u32) -> Limiter {
        Limiter {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request of `key`; `false` when the key has used its minute.
    pub fn allow(&self, key: i64, now: Instant) -> bool {
        let Ok(mut windows) = self.windows.lock() else {
            return true;
        };
        let w = windows.entry(key).or_insert((now, 0));
        if now.duration_since(w.0) >= Duration::from_secs(60) {
            *w = (now, 0);
        }
        if w.1 >= self.per_minute {
            return false;
        }
        w.1 += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_the_extension() {
        assert_eq!(
            split_format("services.json"),
            Some(("services", Format::Json))
        );
        assert_eq!(split_format("0101.xml"), Some(("0101", Format::Xml)));
        assert_eq!(split_format("0101.html"), None);
        assert_eq!(split_format("0101"), None);
    }

    #[test]
    fn xml_follows_the_spec_shape_and_escapes() {
        let v = Value::List(
            "service",
            vec![Value::Object(vec![
                ("service_code", Value::text("0101")),
                ("service_name", Value::text("私搭乱建 <违建> & 其他")),
                ("metadata", Value::Bool(true)),
                ("lat", Value::Degrees(307_654_321)),
                ("address", Value::Null),
            ])],
        );
        assert_eq!(
            v.render("services", Format::Xml),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><services><service><service_code>0101</service_code>\
             <service_name>私搭乱建 &lt;违建&gt; &amp; 其他</service_name><metadata>true</metadata>\
             <lat>30.7654321</lat><address/></service></services>"
        );
        let json: serde_json::Value =
            serde_json::from_str(&v.render("services", Format::Json)).unwrap();
        assert_eq!(json[0]["lat"], serde_json::json!(30.7654321));
        assert_eq!(json[0]["address"], serde_json::Value::Null);
    }

    #[test]
    fn degrees_are_exact() {
        assert_eq!(degrees(1_039_123_456), "103.9123456");
        assert_eq!(degrees(-1_000_000), "-0.1");
        assert_eq!(degrees(300_000_000), "30");
    }

    #[test]
    fn dates_carry_beijing_offset_and_read_back() {
        let t = parse_iso("2026-11-21T08:00:00Z").unwrap();
        assert_eq!(iso(t), "2026-11-21T16:00:00+08:00");
        assert_eq!(parse_iso(&iso(t)), Some(t));
        assert_eq!(parse_iso("2026-11-21"), None);
    }

    #[test]
    fn keys_are_long_random_and_hashed() {
        let (a, b) = (new_key(), new_key());
        assert_ne!(a, b);
        assert_eq!(a.len(), 37);
        assert_eq!(hash_key(&a), hash_key(&format!(" {a} ")));
        assert_eq!(hash_key(&a).len(), 64);
    }

    #[test]
    fn the_limit_resets_each_minute() {
        let l = Limiter::new(2);
        let t0 = Instant::now();
        assert!(l.allow(1, t0));
        assert!(l.allow(1, t0));
        assert!(!l.allow(1, t0));
        assert!(l.allow(2, t0), "keys are counted apart");
        assert!(l.allow(1, t0 + Duration::from_secs(61)));
    }

    #[test]
    fn domain_errors_map_to_spec_codes() {
        assert_eq!(Open311Error::from(Error::invalid("x", "缺少")).code, 400);
        assert_eq!(Open311Error::from(Error::not_found("无")).code, 404);
        let internal = Open311Error::from(Error::internal("db password leaked"));
        assert_eq!(internal.code, 500);
        assert!(!internal.description.contains("password"));
    }
}
