//! A YAML value that remembers where each of its parts came from.
//!
//! Compose fields take several forms (`command` is a string or a list,
//! `environment` a mapping or a list, `ports` entries a string or a mapping…).
//! serde's untagged enums lose source positions, so such fields are read into
//! this tree first, with a [`Spanned`] position on every node and key, and
//! converted by hand: every error then points at the exact line and column.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::error::{Issue, Pos};

/// One YAML node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Value>>),
    Map(Vec<(Spanned<String>, Spanned<Value>)>),
}

impl Value {
    /// What kind of node this is, for error messages ("found a list").
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::Null => "nothing",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "a number",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// The text of a scalar (numbers and booleans as written in YAML), or
    /// `None` for null, lists and mappings.
    pub(crate) fn scalar_text(&self) -> Option<String> {
        match self {
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Str(s) => Some(s.clone()),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }
}

/// Shorthand for a positioned node.
pub(crate) type Node = Spanned<Value>;

/// Where a node is used (for aliases: the alias, not the anchor).
pub(crate) fn at(node: &Node) -> Pos {
    node.referenced.into()
}

/// The scalar text of `node`, or an error naming what was expected.
pub(crate) fn text(node: &Node, path: &str, expected: &str) -> Result<String, Issue> {
    node.value
        .scalar_text()
        .ok_or_else(|| wrong_kind(node, path, expected))
}

/// A string (or number, written as text) that must not be empty.
pub(crate) fn nonempty_text(node: &Node, path: &str, expected: &str) -> Result<String, Issue> {
    let s = text(node, path, expected)?;
    if s.is_empty() {
        return Err(Issue::new(at(node), path, "must not be empty", expected));
    }
    Ok(s)
}

/// The error for a node of the wrong kind.
pub(crate) fn wrong_kind(node: &Node, path: &str, expected: &str) -> Issue {
    Issue::new(
        at(node),
        path,
        &format!("found {}", node.value.kind()),
        expected,
    )
}

/// A boolean; the strings true/false/yes/no/on/off are accepted like
/// compose does.
pub(crate) fn boolean(node: &Node, path: &str) -> Result<bool, Issue> {
    const EXPECTED: &str = "true or false";
    match &node.value {
        Value::Bool(b) => Ok(*b),
        Value::Str(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => Ok(true),
            "false" | "no" | "off" => Ok(false),
            _ => Err(Issue::new(
                at(node),
                path,
                &format!("{s:?} is not a boolean"),
                EXPECTED,
            )),
        },
        _ => Err(wrong_kind(node, path, EXPECTED)),
    }
}

/// An integer; numeric strings are accepted like compose does.
pub(crate) fn integer(node: &Node, path: &str, expected: &str) -> Result<i128, Issue> {
    match &node.value {
        Value::Int(i) => Ok(*i),
        Value::Str(s) => s.trim().parse::<i128>().map_err(|_| {
            Issue::new(
                at(node),
                path,
                &format!("{s:?} is not a whole number"),
                expected,
            )
        }),
        Value::Float(f) => Err(Issue::new(
            at(node),
            path,
            &format!("{f} is not a whole number"),
            expected,
        )),
        _ => Err(wrong_kind(node, path, expected)),
    }
}

/// The entries of a list, or an error.
pub(crate) fn list<'a>(node: &'a Node, path: &str, expected: &str) -> Result<&'a [Node], Issue> {
    match &node.value {
        Value::Seq(items) => Ok(items),
        _ => Err(wrong_kind(node, path, expected)),
    }
}

/// A list of strings, or a single string taken as a one-entry list.
pub(crate) fn string_or_list(
    node: &Node,
    path: &str,
    expected: &str,
) -> Result<Vec<(String, Pos, String)>, Issue> {
    match &node.value {
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let p = format!("{path}[{i}]");
                let s = text(item, &p, expected)?;
                Ok((s, at(item), p))
            })
            .collect(),
        _ => Ok(vec![(
            text(node, path, expected)?,
            at(node),
            path.to_string(),
        )]),
    }
}

/// Reads the keys of a nested mapping (compose's long syntax), refusing
/// unknown and repeated ones.
pub(crate) struct Fields<'a> {
    entries: &'a [(Spanned<String>, Node)],
    path: String,
}

impl<'a> Fields<'a> {
    /// Checks that `node` is a mapping whose keys are all in `known`.
    pub(crate) fn new(
        node: &'a Node,
        path: &str,
        known: &[&str],
        expected: &str,
    ) -> Result<Self, Issue> {
        let Value::Map(entries) = &node.value else {
            return Err(wrong_kind(node, path, expected));
        };
        for (key, _) in entries {
            if !known.contains(&key.value.as_str()) {
                return Err(Issue::new(
                    Pos::from(key.referenced),
                    &join(path, &key.value),
                    "unknown field",
                    &format!("one of: {}", known.join(", ")),
                ));
            }
        }
        Ok(Self {
            entries,
            path: path.to_string(),
        })
    }

    /// The value of `key`, if given and not null.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.value == key)
            .map(|(_, v)| v)
            .filter(|v| v.value != Value::Null)
    }

    /// The path of `key` for error messages.
    pub(crate) fn path(&self, key: &str) -> String {
        join(&self.path, key)
    }
}

/// `parent.key`, or `key` at the top level.
pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i.into()))
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Value, E> {
        Ok(Value::Int(u.into()))
    }

    fn visit_i128<E: de::Error>(self, i: i128) -> Result<Value, E> {
        Ok(Value::Int(i))
    }

    fn visit_u128<E: de::Error>(self, u: u128) -> Result<Value, E> {
        i128::try_from(u)
            .map(Value::Int)
            .map_err(|_| E::custom("number too large"))
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Str(s.to_string()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::Str(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }
}
