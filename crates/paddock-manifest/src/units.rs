//! Compose's durations (`1m30s`) and byte sizes (`512m`).

use std::time::Duration;

use super::error::Issue;
use super::value::{at, wrong_kind, Node, Value};

pub(crate) const DURATION: &str = "a duration such as \"10s\", \"1m30s\" or \"500ms\"";
pub(crate) const BYTES: &str = "a size such as \"512m\", \"1g\" or a number of bytes";

/// A Go-style duration as compose writes them: `10s`, `1m30s`, `1.5h`,
/// `500ms`, `2us`, `0`.
pub(crate) fn duration(node: &Node, path: &str) -> Result<Duration, Issue> {
    let text = match &node.value {
        Value::Str(s) => s.trim().to_string(),
        Value::Int(0) => return Ok(Duration::ZERO),
        Value::Int(i) => {
            return Err(Issue::value(
                at(node),
                path,
                &i.to_string(),
                "a duration needs a unit",
                DURATION,
            ))
        }
        _ => return Err(wrong_kind(node, path, DURATION)),
    };
    parse_duration(&text).map_err(|problem| Issue::value(at(node), path, &text, problem, DURATION))
}

/// Parses `text`; the error says what is wrong with it.
pub fn parse_duration(text: &str) -> Result<Duration, &'static str> {
    if text.starts_with('-') {
        return Err("must not be negative");
    }
    let text = text.strip_prefix('+').unwrap_or(text);
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err("is empty");
    }
    let mut total: f64 = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return Err("expected a number");
        }
        let number: f64 = rest[..number_len]
            .parse()
            .map_err(|_| "is not a valid number")?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per_unit: f64 = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err("a duration needs a unit (ns, us, ms, s, m, h)"),
            _ => return Err("unknown unit (use ns, us, ms, s, m or h)"),
        };
        rest = &rest[unit_len..];
        total += number * nanos_per_unit;
    }
    // ~292 years: far beyond anything sensible, and what Go's durations hold.
    if total > i64::MAX as f64 {
        return Err("is too long");
    }
    Ok(Duration::from_nanos(total.round() as u64))
}

/// A byte count: a number, or a string with an optional binary unit
/// (`b`, `k`/`kb`/`kib`, `m`, `g`, `t`, `p`; case-insensitive), as docker's
/// `RAMInBytes` reads `mem_limit`.
pub(crate) fn bytes(node: &Node, path: &str) -> Result<u64, Issue> {
    match &node.value {
        Value::Int(i) => u64::try_from(*i).map_err(|_| {
            Issue::value(
                at(node),
                path,
                &i.to_string(),
                "must not be negative",
                BYTES,
            )
        }),
        Value::Str(s) => {
            parse_bytes(s).map_err(|problem| Issue::value(at(node), path, s, problem, BYTES))
        }
        Value::Float(f) => Err(Issue::value(
            at(node),
            path,
            &f.to_string(),
            "must be a whole number of bytes",
            BYTES,
        )),
        _ => Err(wrong_kind(node, path, BYTES)),
    }
}

/// Parses `512m`, `1.5g`, `1024`, `64 MiB`.
pub(crate) fn parse_bytes(text: &str) -> Result<u64, &'static str> {
    let text = text.trim();
    if text.starts_with('-') {
        return Err("must not be negative");
    }
    let number_len = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    if number_len == 0 {
        return Err("must start with a number");
    }
    let number: f64 = text[..number_len]
        .parse()
        .map_err(|_| "is not a valid number")?;
    let unit = text[number_len..].trim_start().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let multiplier: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return Err("unknown unit (use b, k, m, g, t or p)"),
    };
    let value = number * multiplier;
    if value >= u64::MAX as f64 {
        return Err("is too large");
    }
    Ok(value as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2us"), Ok(Duration::from_micros(2)));
        assert_eq!(parse_duration("3ns"), Ok(Duration::from_nanos(3)));
        assert_eq!(
            parse_duration("1h2m3s4ms"),
            Ok(Duration::from_millis(3_723_004))
        );
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("-1s"), Err("must not be negative"));
        assert_eq!(
            parse_duration("10"),
            Err("a duration needs a unit (ns, us, ms, s, m, h)")
        );
        assert_eq!(
            parse_duration("10d"),
            Err("unknown unit (use ns, us, ms, s, m or h)")
        );
        assert_eq!(parse_duration("s"), Err("expected a number"));
        assert_eq!(parse_duration("1..2s"), Err("is not a valid number"));
        assert_eq!(parse_duration(""), Err("is empty"));
        assert_eq!(parse_duration("999999999h"), Err("is too long"));
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_bytes("512m"), Ok(512 << 20));
        assert_eq!(parse_bytes("1g"), Ok(1 << 30));
        assert_eq!(parse_bytes("1G"), Ok(1 << 30));
        assert_eq!(parse_bytes("1gb"), Ok(1 << 30));
        assert_eq!(parse_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("64 MiB"), Ok(64 << 20));
        assert_eq!(parse_bytes("1.5k"), Ok(1536));
        assert_eq!(parse_bytes("100"), Ok(100));
        assert_eq!(parse_bytes("100b"), Ok(100));
        assert_eq!(parse_bytes("-1m"), Err("must not be negative"));
        assert_eq!(parse_bytes("m"), Err("must start with a number"));
        assert_eq!(
            parse_bytes("5x"),
            Err("unknown unit (use b, k, m, g, t or p)")
        );
        assert_eq!(parse_bytes("99999999p"), Err("is too large"));
    }
}
