//! The manifest as written: field names, unknown fields, duplicate keys.
//!
//! serde does the structural part (which keys exist, each key once, YAML
//! syntax); every value keeps its position ([`Node`]) so that the semantic
//! checks in the sibling modules can point at it. Keys starting with `x-`
//! are skipped, as compose does with its extension fields.

use std::fmt;

use serde::de::{
    self, value::MapAccessDeserializer, DeserializeSeed, Deserializer, IgnoredAny,
    IntoDeserializer, MapAccess, Visitor,
};
use serde::Deserialize;
use serde_saphyr::{MessageFormatter, Spanned};

use super::error::{Issue, Pos};
use super::value::Node;

/// Every top-level key a manifest may have.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WireManifest {
    pub name: Option<Node>,
    pub image: Option<Node>,
    pub command: Option<Node>,
    pub entrypoint: Option<Node>,
    pub environment: Option<Node>,
    pub working_dir: Option<Node>,
    pub user: Option<Node>,
    pub volumes: Option<Node>,
    pub tmpfs: Option<Node>,
    #[serde(alias = "network_mode")]
    pub network: Option<Node>,
    pub ports: Option<Node>,
    pub tty: Option<Node>,
    pub restart: Option<Node>,
    pub stop_signal: Option<Node>,
    pub stop_grace_period: Option<Node>,
    #[serde(alias = "pull_policy")]
    pub pull: Option<Node>,
    pub cap_add: Option<Node>,
    pub cap_drop: Option<Node>,
    pub privileged: Option<Node>,
    pub read_only: Option<Node>,
    pub devices: Option<Node>,
    pub sysctls: Option<Node>,
    pub ulimits: Option<Node>,
    pub mem_limit: Option<Node>,
    pub cpus: Option<Node>,
    pub pids_limit: Option<Node>,
    pub hostname: Option<Node>,
    pub depends_on: Option<Node>,
    pub healthcheck: Option<Spanned<WireHealthcheck>>,
    pub wait_for_clock: Option<Node>,
}

/// `healthcheck:`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WireHealthcheck {
    pub test: Option<Node>,
    pub interval: Option<Node>,
    pub timeout: Option<Node>,
    pub retries: Option<Node>,
    pub start_period: Option<Node>,
    pub disable: Option<Node>,
    pub restart_on_unhealthy: Option<Node>,
}

/// The top level: a mapping, read with `x-` keys filtered out.
struct Document(WireManifest);

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(DocumentVisitor)
    }
}

struct DocumentVisitor;

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = Document;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping of container settings")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Document, E> {
        Ok(Document(WireManifest::default()))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Document, A::Error> {
        WireManifest::deserialize(MapAccessDeserializer::new(SkipExtensions(map))).map(Document)
    }
}

/// Hands the derived [`WireManifest`] every key except `x-…` ones.
struct SkipExtensions<A>(A);

impl<'de, A: MapAccess<'de>> MapAccess<'de> for SkipExtensions<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        loop {
            match self.0.next_key::<String>()? {
                None => return Ok(None),
                Some(key) if key.starts_with("x-") => {
                    self.0.next_value::<IgnoredAny>()?;
                }
                Some(key) => {
                    return seed
                        .deserialize(IntoDeserializer::<A::Error>::into_deserializer(key))
                        .map(Some)
                }
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.0.next_value_seed(seed)
    }
}

/// Parses one manifest document.
pub(crate) fn parse(text: &str) -> Result<WireManifest, Issue> {
    let options = serde_saphyr::options! {
        // Keep `ZIP: 01234` and `N: 1_000` as written, like compose.
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
        // YAML 1.2 booleans only, so `command: [x, y]` and `restart: no`
        // stay strings (as in compose); boolean fields still accept
        // yes/no/on/off.
        strict_booleans: true,
        with_snippet: false,
    };
    let mut track = serde_path_to_error::Track::new();
    let result = serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
        Document::deserialize(serde_path_to_error::Deserializer::new(de, &mut track))
    });
    match result {
        Ok(doc) => Ok(doc.0),
        Err(err) => Err(issue_from(&err, &clean_path(&track.path().to_string()))),
    }
}

/// `healthcheck.value.test` → `healthcheck.test`; the root (`.`, `?`) → "".
fn clean_path(path: &str) -> String {
    path.split('.')
        .filter(|seg| !seg.is_empty() && *seg != "value" && *seg != "?")
        .collect::<Vec<_>>()
        .join(".")
}

fn issue_from(err: &serde_saphyr::Error, path: &str) -> Issue {
    let at = err.location().map(Pos::from).unwrap_or(Pos::UNKNOWN);
    let inner = err.without_snippet();
    match inner {
        serde_saphyr::Error::SerdeUnknownField {
            field, expected, ..
        } => {
            let field_path = if path.ends_with(field.as_str()) {
                path.to_string()
            } else {
                super::value::join(path, field)
            };
            Issue::new(
                at,
                &field_path,
                "unknown field",
                &format!("one of: {}", expected.join(", ")),
            )
        }
        serde_saphyr::Error::DuplicateMappingKey { key, .. } => {
            let what = match key {
                Some(k) => format!("duplicate key {k:?}"),
                None => "duplicate key".to_string(),
            };
            Issue::new(at, path, &what, "each key once")
        }
        serde_saphyr::Error::Unexpected { .. } if path.is_empty() => Issue::new(
            at,
            "",
            "not a mapping",
            "a mapping of container settings such as \"image: alpine\"",
        ),
        serde_saphyr::Error::Unexpected { expected, .. } => {
            let what = match *expected {
                "mapping start" => "a mapping",
                "sequence start" => "a list",
                other => other,
            };
            Issue::new(at, path, "wrong kind of value", what)
        }
        serde_saphyr::Error::MultipleDocuments { .. } => Issue::new(
            at,
            "",
            "a second YAML document (---)",
            "one container per file",
        ),
        _ => {
            let message = serde_saphyr::DefaultMessageFormatter.format_message(inner);
            Issue::new(at, path, &message, "")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> (u32, u32, String) {
        let issue = parse(text).unwrap_err();
        (issue.at.line(), issue.at.column(), issue.message)
    }

    #[test]
    fn reads_fields_with_positions() {
        let w = parse("name: web\nimage: nginx\n").unwrap();
        let image = w.image.unwrap();
        assert_eq!((image.referenced.line(), image.referenced.column()), (2, 8));
    }

    #[test]
    fn skips_extension_fields() {
        let w = parse("x-common: &c {a: 1}\nimage: nginx\nx-other: [1, 2]\n").unwrap();
        assert!(w.image.is_some());
    }

    #[test]
    fn unknown_field() {
        let (line, col, msg) = err("image: nginx\nimgae: x\n");
        assert_eq!((line, col), (2, 1));
        assert!(
            msg.starts_with("imgae: unknown field (expected one of: name, image,"),
            "{msg}"
        );
    }

    #[test]
    fn unknown_healthcheck_field() {
        let (line, col, msg) = err("image: a\nhealthcheck:\n  test: [CMD, x]\n  bogus: 1\n");
        assert_eq!((line, col), (4, 3));
        assert!(
            msg.starts_with("healthcheck.bogus: unknown field (expected one of: test,"),
            "{msg}"
        );
    }

    #[test]
    fn duplicate_key() {
        let (line, col, msg) = err("image: a\ntty: true\ntty: false\n");
        assert_eq!((line, col), (3, 1));
        assert_eq!(msg, "duplicate key \"tty\" (expected each key once)");
    }

    #[test]
    fn duplicate_nested_key() {
        let (line, col, msg) = err("image: a\nenvironment:\n  A: 1\n  A: 2\n");
        assert_eq!((line, col), (4, 3));
        assert!(msg.contains("duplicate key \"A\""), "{msg}");
    }

    #[test]
    fn not_a_mapping() {
        let (line, col, msg) = err("- image: a\n");
        assert_eq!((line, col), (1, 1));
        assert!(msg.starts_with("not a mapping"), "{msg}");
    }

    #[test]
    fn yaml_syntax_error() {
        let (line, col, msg) = err("image: a\ntty: \"unterminated\n");
        assert_eq!(line, 2, "{msg}");
        assert!(col > 0);
    }

    #[test]
    fn healthcheck_wrong_type() {
        let (line, col, msg) = err("image: a\nhealthcheck: curl\n");
        assert_eq!((line, col), (2, 14));
        assert_eq!(msg, "healthcheck: wrong kind of value (expected a mapping)");
    }

    #[test]
    fn second_document() {
        let (line, col, msg) = err("image: a\n---\nimage: b\n");
        assert_eq!((line, col), (3, 1));
        assert_eq!(
            msg,
            "a second YAML document (---) (expected one container per file)"
        );
    }

    #[test]
    fn unknown_alias() {
        let (line, col, msg) = err("image: a\ncommand: *nope\n");
        assert_eq!((line, col), (2, 10));
        assert!(msg.contains("unknown anchor"), "{msg}");
    }

    #[test]
    fn anchors_and_merge_keys_work() {
        let w = parse(
            "x-base: &base {tty: true}\nimage: a\n<<: *base\ncommand: &c [a, b]\nentrypoint: *c\n",
        )
        .unwrap();
        assert!(w.tty.is_some());
        assert!(w.entrypoint.is_some());
    }

    #[test]
    fn empty_document_is_empty_manifest() {
        let w = parse("").unwrap();
        assert!(w.image.is_none());
    }

    #[test]
    fn keeps_leading_zeros_as_text() {
        let w = parse("image: a\nenvironment: {ZIP: 01234}\n").unwrap();
        let env = w.environment.unwrap();
        let super::super::value::Value::Map(entries) = &env.value else {
            panic!("not a map")
        };
        assert_eq!(entries[0].1.value.scalar_text().unwrap(), "01234");
    }
}
