//! `environment` (and the shared "mapping or list of KEY=VALUE" form that
//! `sysctls` uses too).

use super::error::{Issue, Pos};
use super::value::{at, text, wrong_kind, Node, Value};

pub(crate) const ENVIRONMENT: &str =
    "a mapping such as {LANG: C.UTF-8} or a list such as [\"LANG=C.UTF-8\", \"HOME\"]";

/// One `KEY[=VALUE]` entry with its position and path.
pub(crate) struct Entry {
    pub key: String,
    /// `None`: the key was given without a value.
    pub value: Option<String>,
    pub at: Pos,
    pub path: String,
}

/// Reads a mapping (`{K: V}`, `K:` with no value) or a list (`["K=V", "K"]`).
pub(crate) fn key_values(node: &Node, path: &str, expected: &str) -> Result<Vec<Entry>, Issue> {
    let mut entries = Vec::new();
    match &node.value {
        Value::Map(map) => {
            for (key, value) in map {
                let p = format!("{path}.{}", key.value);
                let value = match &value.value {
                    Value::Null => None,
                    _ => Some(text(value, &p, "a string, a number or a boolean")?),
                };
                entries.push(Entry {
                    key: key.value.clone(),
                    value,
                    at: Pos::from(key.referenced),
                    path: p,
                });
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let p = format!("{path}[{i}]");
                let s = text(item, &p, "a string such as \"KEY=VALUE\"")?;
                let (key, value) = match s.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (s.clone(), None),
                };
                entries.push(Entry {
                    key,
                    value,
                    at: at(item),
                    path: p,
                });
            }
        }
        _ => return Err(wrong_kind(node, path, expected)),
    }
    for (i, entry) in entries.iter().enumerate() {
        if entry.key.is_empty() {
            return Err(Issue::new(
                entry.at,
                &entry.path,
                "the name is empty",
                expected,
            ));
        }
        if let Some(first) = entries[..i].iter().find(|e| e.key == entry.key) {
            return Err(Issue::new(
                entry.at,
                &entry.path,
                &format!(
                    "{:?} is set twice (first at line {})",
                    entry.key,
                    first.at.line()
                ),
                "each name once",
            ));
        }
    }
    Ok(entries)
}

/// Reads `environment`; names given without a value are looked up with
/// `lookup` (paddockd's own environment) and left out when unset there.
pub(crate) fn environment(
    node: &Node,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, Issue> {
    let mut env = Vec::new();
    for entry in key_values(node, path, ENVIRONMENT)? {
        if entry.key.contains('\0') || entry.key.contains('=') {
            return Err(Issue::value(
                entry.at,
                &entry.path,
                &entry.key,
                "a variable name must not contain '=' or NUL",
                ENVIRONMENT,
            ));
        }
        let value = match entry.value {
            Some(v) => v,
            None => match lookup(&entry.key) {
                Some(v) => v,
                None => continue,
            },
        };
        if value.contains('\0') {
            return Err(Issue::new(
                entry.at,
                &entry.path,
                "the value contains NUL",
                "",
            ));
        }
        env.push((entry.key, value));
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::parse;

    fn env(yaml: &str) -> Result<Vec<(String, String)>, Issue> {
        let w = parse(&format!("environment: {yaml}\n")).unwrap();
        let lookup = |k: &str| (k == "FROM_HOST").then(|| "host value".to_string());
        environment(&w.environment.unwrap(), "environment", &lookup)
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn mapping_form() {
        assert_eq!(
            env("{LANG: C.UTF-8, N: 5, B: true, E: '', FROM_HOST: , UNSET: }").unwrap(),
            pairs(&[
                ("LANG", "C.UTF-8"),
                ("N", "5"),
                ("B", "true"),
                ("E", ""),
                ("FROM_HOST", "host value")
            ])
        );
    }

    #[test]
    fn list_form() {
        assert_eq!(
            env("[LANG=C.UTF-8, 'A=b=c', EMPTY=, FROM_HOST, UNSET]").unwrap(),
            pairs(&[
                ("LANG", "C.UTF-8"),
                ("A", "b=c"),
                ("EMPTY", ""),
                ("FROM_HOST", "host value")
            ])
        );
    }

    #[test]
    fn empty_name() {
        let e = env("[A=1, =x]").unwrap_err();
        assert_eq!((e.at.line(), e.at.column()), (1, 20));
        assert!(
            e.message.starts_with("environment[1]: the name is empty"),
            "{}",
            e.message
        );
    }

    #[test]
    fn twice_in_list() {
        let e = env("[A=1, A=2]").unwrap_err();
        assert_eq!((e.at.line(), e.at.column()), (1, 20));
        assert_eq!(
            e.message,
            "environment[1]: \"A\" is set twice (first at line 1) (expected each name once)"
        );
    }

    #[test]
    fn nested_value() {
        let e = env("{A: [1]}").unwrap_err();
        assert_eq!((e.at.line(), e.at.column()), (1, 18));
        assert_eq!(
            e.message,
            "environment.A: found a list (expected a string, a number or a boolean)"
        );
    }

    #[test]
    fn wrong_kind() {
        let e = env("5").unwrap_err();
        assert_eq!((e.at.line(), e.at.column()), (1, 14));
        assert!(e
            .message
            .starts_with("environment: found a number (expected a mapping"));
    }
}
