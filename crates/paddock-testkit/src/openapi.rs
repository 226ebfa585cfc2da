//! The OpenAPI 3.1 documents of docs/ as test oracles: a real answer is
//! looked up by its method, its path (matched against the documented path
//! templates), its status and its media type, and its body is validated
//! against the documented schema with the `jsonschema` crate (JSON Schema
//! 2020-12, the dialect of OpenAPI 3.1).
//!
//! A route, method, status or media type the document does not have fails
//! the check with a message naming the method and the path, so an
//! undocumented answer cannot pass. [`OpenApi::unchecked`] lists the
//! documented JSON operations a test has not seen answer, so a test can
//! insist on covering all of them.
//!
//! `$ref: '#/components/…'` inside schemas resolves because every schema is
//! validated as the root of a document that also holds the OpenAPI
//! document's `components`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{json, Map, Value};

use super::http::Reply;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

#[derive(Debug, thiserror::Error)]
pub enum OpenApiError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{document}: not YAML: {message}")]
    Yaml { document: String, message: String },
    #[error("{document}: {message}")]
    Document { document: String, message: String },
    #[error("{method} {path}: no path template of {document} matches this path")]
    UndocumentedPath {
        document: String,
        method: String,
        path: String,
    },
    #[error("{method} {path}: {document} has no {method} operation on {template}")]
    UndocumentedMethod {
        document: String,
        method: String,
        path: String,
        template: String,
    },
    #[error("{method} {path}: status {status} is not documented for {template} (documented: {documented})")]
    UndocumentedStatus {
        method: String,
        path: String,
        template: String,
        status: u16,
        documented: String,
    },
    #[error("{method} {path} → {status}: media type {media_type:?} is not documented for {template} (documented: {documented})")]
    UndocumentedMediaType {
        method: String,
        path: String,
        template: String,
        status: u16,
        media_type: String,
        documented: String,
    },
    #[error("{method} {path} → {status} {media_type}: the body is not JSON ({message}): {body}")]
    NotJson {
        method: String,
        path: String,
        status: u16,
        media_type: String,
        message: String,
        body: String,
    },
    #[error("{what}: the schema does not compile: {message}\nschema: {schema}")]
    Schema {
        what: String,
        message: String,
        schema: String,
    },
    #[error("{what}: the body does not match the schema:\n  {}\nbody: {body}", .errors.join("\n  "))]
    Invalid {
        what: String,
        errors: Vec<String>,
        body: String,
    },
}

/// One operation of the document: `GET /v1/containers/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Operation {
    /// Upper case, as on the wire.
    pub method: String,
    pub template: String,
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.template)
    }
}

/// A loaded OpenAPI document, and which of its operations were checked
/// with a 2xx answer.
pub struct OpenApi {
    name: String,
    doc: Value,
    checked: Mutex<BTreeSet<Operation>>,
}

impl OpenApi {
    pub fn load(path: &Path) -> Result<Self, OpenApiError> {
        let text = std::fs::read_to_string(path).map_err(|source| OpenApiError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_yaml(&path.display().to_string(), &text)
    }

    /// `docs/NAME` of this repository; fails the test if it cannot be read.
    pub fn repo_doc(name: &str) -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../docs")
            .join(name);
        Self::load(&path).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `name` is what messages call the document (its path).
    pub fn from_yaml(name: &str, text: &str) -> Result<Self, OpenApiError> {
        let doc: Value = serde_saphyr::from_str(text).map_err(|e| OpenApiError::Yaml {
            document: name.to_string(),
            message: e.to_string(),
        })?;
        let api = Self {
            name: name.to_string(),
            doc,
            checked: Mutex::new(BTreeSet::new()),
        };
        match api.doc.get("openapi").and_then(Value::as_str) {
            Some(v) if v.starts_with("3.1") => {}
            other => return Err(api.error(format!("`openapi: {other:?}`, expected 3.1.x"))),
        }
        if !api.doc.get("paths").is_some_and(Value::is_object) {
            return Err(api.error("no `paths` object".into()));
        }
        Ok(api)
    }

    fn error(&self, message: String) -> OpenApiError {
        OpenApiError::Document {
            document: self.name.clone(),
            message,
        }
    }

    fn paths(&self) -> &Map<String, Value> {
        self.doc["paths"].as_object().expect("checked on load")
    }

    /// Follows `$ref: '#/…'` (OpenAPI references to responses, parameters,
    /// …) until the object is not a reference.
    fn resolve<'a>(&'a self, mut v: &'a Value) -> Result<&'a Value, OpenApiError> {
        for _ in 0..16 {
            let Some(r) = v.get("$ref").and_then(Value::as_str) else {
                return Ok(v);
            };
            let pointer = r
                .strip_prefix('#')
                .ok_or_else(|| self.error(format!("$ref {r:?}: only local references")))?;
            v = self
                .doc
                .pointer(pointer)
                .ok_or_else(|| self.error(format!("$ref {r:?} points at nothing")))?;
        }
        Err(self.error("$ref chain longer than 16".into()))
    }

    /// The path template a concrete path (a query is ignored) falls under:
    /// `{param}` matches one non-empty segment; of several matches the one
    /// with the most literal segments wins (`/images/pull` over
    /// `/images/{x}`).
    pub fn template(&self, method: &str, path: &str) -> Result<String, OpenApiError> {
        let path_only = path.split(['?', '#']).next().unwrap_or_default();
        let segments: Vec<&str> = path_only.split('/').collect();
        let mut best: Option<(usize, &String)> = None;
        for template in self.paths().keys() {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                continue;
            }
            let mut literal = 0;
            let matches = parts.iter().zip(&segments).all(|(t, s)| {
                if t.starts_with('{') && t.ends_with('}') {
                    !s.is_empty()
                } else {
                    literal += 1;
                    t == s
                }
            });
            if matches && best.is_none_or(|(n, _)| literal > n) {
                best = Some((literal, template));
            }
        }
        best.map(|(_, t)| t.clone())
            .ok_or_else(|| OpenApiError::UndocumentedPath {
                document: self.name.clone(),
                method: method.to_ascii_uppercase(),
                path: path.to_string(),
            })
    }

    /// The operation object for a method on a concrete path.
    fn operation(&self, method: &str, path: &str) -> Result<(String, &Value), OpenApiError> {
        let template = self.template(method, path)?;
        let item = self.resolve(&self.paths()[&template])?;
        item.get(method.to_ascii_lowercase())
            .map(|op| (template.clone(), op))
            .ok_or_else(|| OpenApiError::UndocumentedMethod {
                document: self.name.clone(),
                method: method.to_ascii_uppercase(),
                path: path.to_string(),
                template,
            })
    }

    /// The documented response for `status`: the exact code, else `NXX`,
    /// else `default`.
    fn response(
        &self,
        method: &str,
        path: &str,
        status: u16,
    ) -> Result<(String, &Value), OpenApiError> {
        let (template, op) = self.operation(method, path)?;
        let responses = op
            .get("responses")
            .and_then(Value::as_object)
            .ok_or_else(|| self.error(format!("{method} {template}: no responses")))?;
        let response = [
            status.to_string(),
            format!("{}XX", status / 100),
            "default".to_string(),
        ]
        .iter()
        .find_map(|k| responses.get(k));
        match response {
            Some(r) => Ok((template, self.resolve(r)?)),
            None => Err(OpenApiError::UndocumentedStatus {
                method: method.to_ascii_uppercase(),
                path: path.to_string(),
                template,
                status,
                documented: responses.keys().cloned().collect::<Vec<_>>().join(", "),
            }),
        }
    }

    /// The schema of the documented answer (method, concrete path, status,
    /// media type without parameters), as a root schema that resolves
    /// `#/components/…`. `None`: the answer is documented without a body.
    pub fn response_schema(
        &self,
        method: &str,
        path: &str,
        status: u16,
        media_type: &str,
    ) -> Result<Option<Value>, OpenApiError> {
        let (template, response) = self.response(method, path, status)?;
        let Some(content) = response.get("content").and_then(Value::as_object) else {
            return Ok(None);
        };
        let media_type = media_type.to_ascii_lowercase();
        let wildcard = format!("{}/*", media_type.split('/').next().unwrap_or_default());
        let media = [media_type.as_str(), wildcard.as_str(), "*/*"]
            .iter()
            .find_map(|k| content.get(*k))
            .ok_or_else(|| OpenApiError::UndocumentedMediaType {
                method: method.to_ascii_uppercase(),
                path: path.to_string(),
                template: template.clone(),
                status,
                media_type: media_type.clone(),
                documented: content.keys().cloned().collect::<Vec<_>>().join(", "),
            })?;
        Ok(Some(
            self.root_schema(media.get("schema").unwrap_or(&json!(true))),
        ))
    }

    /// `schema` as the root of a JSON Schema 2020-12 document that also
    /// holds the OpenAPI document's components (so `$ref:
    /// '#/components/schemas/X'` resolves).
    fn root_schema(&self, schema: &Value) -> Value {
        let mut root = match schema {
            Value::Object(m) if !m.contains_key("components") && !m.contains_key("$id") => {
                m.clone()
            }
            other => {
                let mut m = Map::new();
                m.insert("allOf".into(), json!([other]));
                m
            }
        };
        root.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        root.insert(
            "components".into(),
            self.doc.get("components").cloned().unwrap_or(json!({})),
        );
        Value::Object(root)
    }

    /// Validates `body` against `schema` (a root schema of
    /// [`Self::response_schema`]); `what` names it in errors.
    fn validate_against(schema: &Value, body: &Value, what: &str) -> Result<(), OpenApiError> {
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(schema)
            .map_err(|e| OpenApiError::Schema {
                what: what.to_string(),
                message: e.to_string(),
                schema: schema_without_components(schema),
            })?;
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| {
                let at = e.instance_path().to_string();
                format!("{}: {e}", if at.is_empty() { "/" } else { &at })
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(OpenApiError::Invalid {
                what: what.to_string(),
                errors,
                body: body.to_string(),
            })
        }
    }

    /// Validates one answer given as its parts; a JSON media type's body is
    /// the parsed JSON, any other body a JSON string. Records the operation
    /// as checked when the status is 2xx.
    pub fn validate(
        &self,
        method: &str,
        path: &str,
        status: u16,
        media_type: Option<&str>,
        body: &Value,
    ) -> Result<(), OpenApiError> {
        let what = format!("{} {path} → {status}", method.to_ascii_uppercase());
        let empty = matches!(body, Value::Null) || body.as_str() == Some("");
        match media_type {
            Some(mt) => match self.response_schema(method, path, status, mt)? {
                Some(schema) => {
                    Self::validate_against(&schema, body, &format!("{what} {mt}"))?;
                }
                None if empty => {}
                None => {
                    return Err(self.error(format!(
                        "{what}: documented without a body, but the answer has one ({mt}): {body}"
                    )))
                }
            },
            None => {
                // No Content-Type: only right for an answer without a body.
                self.response(method, path, status)?;
                if !empty {
                    return Err(self.error(format!(
                        "{what}: the answer has a body but no Content-Type: {body}"
                    )));
                }
            }
        }
        if (200..300).contains(&status) {
            let template = self.template(method, path)?;
            self.checked
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(Operation {
                    method: method.to_ascii_uppercase(),
                    template,
                });
        }
        Ok(())
    }

    /// Checks a real answer to `method path` against the document (status,
    /// Content-Type, body) and returns its body (JSON, or the text as a JSON
    /// string); fails the test with every mismatch.
    pub fn check(&self, method: &str, path: &str, reply: &Reply) -> Value {
        let media_type = reply.media_type();
        let body = match media_type.as_deref() {
            Some(mt) if is_json(mt) => serde_json::from_slice(&reply.body).unwrap_or_else(|e| {
                panic!(
                    "{}",
                    OpenApiError::NotJson {
                        method: method.to_ascii_uppercase(),
                        path: path.to_string(),
                        status: reply.status,
                        media_type: mt.to_string(),
                        message: e.to_string(),
                        body: reply.text(),
                    }
                )
            }),
            _ if reply.body.is_empty() => Value::Null,
            _ => Value::String(reply.text()),
        };
        self.validate(method, path, reply.status, media_type.as_deref(), &body)
            .unwrap_or_else(|e| panic!("{e}"));
        body
    }

    /// Validates `value` against `#/components/schemas/NAME` (for bodies
    /// produced without a route, and for answers to undocumented paths
    /// whose body the document describes in prose).
    pub fn validate_component(&self, name: &str, value: &Value) -> Result<(), OpenApiError> {
        let pointer = format!("/components/schemas/{name}");
        if self.doc.pointer(&pointer).is_none() {
            return Err(self.error(format!("no schema {name:?} in components")));
        }
        let schema = self.root_schema(&json!({ "$ref": format!("#{pointer}") }));
        Self::validate_against(&schema, value, &format!("schema {name}"))
    }

    /// [`Self::validate_component`], failing the test.
    pub fn check_component(&self, name: &str, value: &Value) {
        self.validate_component(name, value)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Every operation of the document.
    pub fn operations(&self) -> Vec<Operation> {
        let mut out = Vec::new();
        for (template, item) in self.paths() {
            let Ok(item) = self.resolve(item) else {
                continue;
            };
            for m in METHODS {
                if item.get(m).is_some() {
                    out.push(Operation {
                        method: m.to_ascii_uppercase(),
                        template: template.clone(),
                    });
                }
            }
        }
        out
    }

    /// Operations with a documented 2xx JSON answer.
    pub fn json_operations(&self) -> Vec<Operation> {
        self.operations()
            .into_iter()
            .filter(|op| {
                let item = &self.paths()[&op.template];
                let Ok(item) = self.resolve(item) else {
                    return false;
                };
                let responses = item[op.method.to_ascii_lowercase()]["responses"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                responses.iter().any(|(code, r)| {
                    code.starts_with('2')
                        && self
                            .resolve(r)
                            .ok()
                            .and_then(|r| r.get("content"))
                            .and_then(Value::as_object)
                            .is_some_and(|c| c.keys().any(|k| is_json(k)))
                })
            })
            .collect()
    }

    /// The JSON operations `wanted` selects that no check has seen answer
    /// with a 2xx status yet.
    pub fn unchecked(&self, wanted: impl Fn(&Operation) -> bool) -> Vec<Operation> {
        let checked = self.checked.lock().unwrap_or_else(|e| e.into_inner());
        self.json_operations()
            .into_iter()
            .filter(|op| wanted(op) && !checked.contains(op))
            .collect()
    }

    /// Fails the test unless every JSON operation `wanted` selects was
    /// checked with a 2xx answer.
    pub fn assert_all_checked(&self, wanted: impl Fn(&Operation) -> bool) {
        let missing = self.unchecked(wanted);
        assert!(
            missing.is_empty(),
            "{}: documented JSON operations this test never saw answer 2xx:\n  {}",
            self.name,
            missing
                .iter()
                .map(Operation::to_string)
                .collect::<Vec<_>>()
                .join("\n  ")
        );
    }

    /// Compiles every response schema of the document (a typo in a
    /// schema or a dangling `$ref` fails here, not at the first answer).
    pub fn compile_all(&self) -> Result<usize, OpenApiError> {
        let mut n = 0;
        for op in self.operations() {
            let item = self.resolve(&self.paths()[&op.template])?;
            let responses = item[op.method.to_ascii_lowercase()]["responses"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            for (code, r) in responses {
                let r = self.resolve(&r)?;
                for (mt, media) in r
                    .get("content")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default()
                {
                    let schema = self.root_schema(media.get("schema").unwrap_or(&json!(true)));
                    jsonschema::draft202012::options()
                        .should_validate_formats(true)
                        .build(&schema)
                        .map_err(|e| OpenApiError::Schema {
                            what: format!("{op} → {code} {mt}"),
                            message: e.to_string(),
                            schema: schema_without_components(&schema),
                        })?;
                    n += 1;
                }
            }
        }
        for (name, _) in self.doc["components"]["schemas"]
            .as_object()
            .cloned()
            .unwrap_or_default()
        {
            let schema =
                self.root_schema(&json!({ "$ref": format!("#/components/schemas/{name}") }));
            jsonschema::draft202012::options()
                .build(&schema)
                .map_err(|e| OpenApiError::Schema {
                    what: format!("schema {name}"),
                    message: e.to_string(),
                    schema: schema_without_components(&schema),
                })?;
            n += 1;
        }
        Ok(n)
    }
}

fn is_json(media_type: &str) -> bool {
    media_type == "application/json" || media_type.ends_with("+json")
}

/// A root schema for messages, without the (long) components.
fn schema_without_components(schema: &Value) -> String {
    let mut s = schema.clone();
    if let Some(m) = s.as_object_mut() {
        m.remove("components");
    }
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"
openapi: 3.1.0
info: {title: t, version: '1'}
paths:
  /v1/things:
    get:
      responses:
        '200':
          description: all
          content:
            application/json:
              schema:
                type: array
                items: {$ref: '#/components/schemas/Thing'}
  /v1/things/{name}:
    get:
      responses:
        '200':
          description: one
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Thing'}
        '404': {$ref: '#/components/responses/NotFound'}
  /v1/things/{name}/logs:
    get:
      responses:
        '200':
          description: text
          content:
            text/plain:
              schema: {type: string}
  /v1/things/special:
    post:
      responses:
        '204': {description: nothing}
components:
  responses:
    NotFound:
      description: none
      content:
        application/json:
          schema: {$ref: '#/components/schemas/Error'}
  schemas:
    Error:
      type: object
      additionalProperties: false
      required: [error]
      properties:
        error: {type: string}
    State:
      type: string
      enum: [running, stopped]
    Thing:
      type: object
      additionalProperties: false
      required: [name, state, size]
      properties:
        name: {type: string}
        state: {$ref: '#/components/schemas/State'}
        size: {type: [integer, 'null'], minimum: 0}
        at: {type: string, format: date-time}
"#;

    fn doc() -> OpenApi {
        OpenApi::from_yaml("test.yaml", DOC).unwrap()
    }

    fn thing() -> Value {
        json!({"name": "a", "state": "running", "size": null})
    }

    fn err(r: Result<(), OpenApiError>) -> String {
        r.expect_err("must fail").to_string()
    }

    #[test]
    fn accepts_a_body_that_matches_through_refs() {
        let api = doc();
        let get = |path, status, body: &Value| {
            api.validate("GET", path, status, Some("application/json"), body)
        };
        get("/v1/things/a", 200, &thing()).unwrap();
        get("/v1/things", 200, &json!([thing(), thing()])).unwrap();
        get("/v1/things/a", 404, &json!({"error": "no thing"})).unwrap();
        api.validate(
            "GET",
            "/v1/things/a/logs?tail=3",
            200,
            Some("text/plain"),
            &json!("line\n"),
        )
        .unwrap();
        api.validate("POST", "/v1/things/special", 204, None, &Value::Null)
            .unwrap();
    }

    #[test]
    fn rejects_an_extra_field() {
        let mut body = thing();
        body["colour"] = json!("red");
        let e = err(doc().validate("GET", "/v1/things/a", 200, Some("application/json"), &body));
        assert!(e.contains("GET /v1/things/a → 200"), "{e}");
        assert!(e.contains("colour"), "{e}");
    }

    #[test]
    fn rejects_a_missing_required_field() {
        let mut body = thing();
        body.as_object_mut().unwrap().remove("size");
        let e = err(doc().validate("GET", "/v1/things/a", 200, Some("application/json"), &body));
        assert!(e.contains("\"size\" is a required property"), "{e}");
    }

    #[test]
    fn rejects_a_wrong_enum_value_behind_a_ref() {
        let mut body = thing();
        body["state"] = json!("sleeping");
        let e = err(doc().validate("GET", "/v1/things/a", 200, Some("application/json"), &body));
        assert!(e.contains("/state"), "{e}");
        assert!(e.contains("sleeping"), "{e}");
        // In an array, through two references.
        let e = err(doc().validate(
            "GET",
            "/v1/things",
            200,
            Some("application/json"),
            &json!([thing(), body]),
        ));
        assert!(e.contains("/1/state"), "{e}");
    }

    #[test]
    fn rejects_wrong_types_and_formats() {
        let api = doc();
        let mut body = thing();
        body["size"] = json!(-1);
        assert!(
            err(api.validate("GET", "/v1/things/a", 200, Some("application/json"), &body))
                .contains("minimum")
        );
        let mut body = thing();
        body["at"] = json!("yesterday");
        assert!(
            err(api.validate("GET", "/v1/things/a", 200, Some("application/json"), &body))
                .contains("date-time")
        );
        body["at"] = json!("2026-01-02T03:04:05.123456789Z");
        api.validate("GET", "/v1/things/a", 200, Some("application/json"), &body)
            .unwrap();
        let e = err(api.validate(
            "GET",
            "/v1/things/a",
            404,
            Some("application/json"),
            &json!({"error": 3}),
        ));
        assert!(e.contains("/error"), "{e}");
    }

    #[test]
    fn names_method_and_path_of_what_is_undocumented() {
        let api = doc();
        let e = err(api.validate("GET", "/v1/nope", 200, Some("application/json"), &json!({})));
        assert!(e.starts_with("GET /v1/nope: no path template"), "{e}");
        let e = err(api.validate(
            "DELETE",
            "/v1/things/a",
            200,
            Some("application/json"),
            &json!({}),
        ));
        assert!(
            e.starts_with(
                "DELETE /v1/things/a: test.yaml has no DELETE operation on /v1/things/{name}"
            ),
            "{e}"
        );
        let e = err(api.validate(
            "GET",
            "/v1/things/a",
            500,
            Some("application/json"),
            &json!({}),
        ));
        assert!(
            e.contains("GET /v1/things/a: status 500 is not documented"),
            "{e}"
        );
        assert!(e.contains("documented: 200, 404"), "{e}");
        let e = err(api.validate("GET", "/v1/things/a", 200, Some("text/html"), &json!("<p>")));
        assert!(
            e.contains("media type \"text/html\" is not documented"),
            "{e}"
        );
        // A body where none is documented.
        let e = err(api.validate(
            "POST",
            "/v1/things/special",
            204,
            Some("application/json"),
            &json!({}),
        ));
        assert!(e.contains("documented without a body"), "{e}");
    }

    #[test]
    fn prefers_literal_segments_and_tracks_what_was_checked() {
        let api = doc();
        assert_eq!(
            api.template("POST", "/v1/things/special").unwrap(),
            "/v1/things/special"
        );
        assert_eq!(
            api.template("GET", "/v1/things/x").unwrap(),
            "/v1/things/{name}"
        );
        assert!(api.template("GET", "/v1/things/").is_err());
        let all: Vec<String> = api
            .unchecked(|_| true)
            .iter()
            .map(|o| o.to_string())
            .collect();
        assert_eq!(all, ["GET /v1/things", "GET /v1/things/{name}"]);
        api.validate(
            "GET",
            "/v1/things/a",
            404,
            Some("application/json"),
            &json!({"error": "x"}),
        )
        .unwrap();
        assert_eq!(api.unchecked(|_| true).len(), 2, "a 404 does not count");
        api.validate(
            "GET",
            "/v1/things/a",
            200,
            Some("application/json"),
            &thing(),
        )
        .unwrap();
        let left: Vec<String> = api
            .unchecked(|_| true)
            .iter()
            .map(|o| o.to_string())
            .collect();
        assert_eq!(left, ["GET /v1/things"]);
    }

    #[test]
    fn check_reads_status_content_type_and_body_of_a_reply() {
        let api = doc();
        let reply = Reply::parse(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 39\r\n\r\n{\"name\":\"a\",\"state\":\"stopped\",\"size\":1}",
        )
        .unwrap();
        assert_eq!(api.check("GET", "/v1/things/a", &reply)["size"], 1);
        let bad = Reply::parse(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 3\r\n\r\nnot",
        )
        .unwrap();
        let panic = std::panic::catch_unwind(|| api.check("GET", "/v1/things/a", &bad))
            .expect_err("not JSON must fail");
        let message = panic.downcast_ref::<String>().unwrap();
        assert!(message.contains("the body is not JSON"), "{message}");
    }

    #[test]
    fn components_can_be_checked_by_name() {
        let api = doc();
        api.validate_component("Thing", &thing()).unwrap();
        assert!(err(api.validate_component("State", &json!("gone"))).contains("gone"));
        assert!(err(api.validate_component("Nope", &json!(1))).contains("no schema \"Nope\""));
    }

    // The repository's documents, against values of the Rust types they
    // describe (the real answers are checked by crates/paddockd/tests/
    // api_schema.rs and system-tests/tests/device_api_schema.rs).

    use paddock_wire::api::apply::ApplyReport;
    use paddock_wire::api::status::{ContainerStatus, Health, State, VolumeStatus};
    use paddock_wire::control::{ServiceState, ServiceStatus};
    use paddock_wire::device::{Address, Overview, PermUsage, ServicePage, System};
    use paddock_wire::slot::Slot;
    use paddock_wire::update::{
        EntryState, EntryStatus, ErrorBody, Switched, UpdateStatus, Verified, Written,
    };

    fn value(v: impl serde::Serialize) -> Value {
        serde_json::to_value(v).unwrap()
    }

    #[test]
    fn the_repository_documents_compile() {
        for name in ["paddockd-api.yaml", "device-api.yaml"] {
            let n = OpenApi::repo_doc(name)
                .compile_all()
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(n > 20, "{name}: only {n} schemas");
        }
    }

    fn service(state: ServiceState, running: bool) -> ServiceStatus {
        ServiceStatus {
            name: "dhcp".into(),
            state,
            pid: running.then_some(42),
            restarts: 3,
            last_exit: Some("exit status 1".into()),
            wait_for_clock: false,
            dont_start: true,
            memory_bytes: running.then_some(1 << 20),
            started_at_unix: running.then_some(1_700_000_000),
        }
    }

    fn container() -> ContainerStatus {
        let mut c = ContainerStatus::new("web", "busybox", "/etc/paddock/containers/web.yaml");
        c.state = State::Running;
        c.image_digest = Some(format!("sha256:{}", "a".repeat(64)));
        c.pid = Some(7);
        c.started_at = Some("2026-01-01T00:00:00.5+00:00".into());
        c.health = Some(Health::Healthy);
        c.address = Some("10.88.0.2".into());
        c.ports = vec!["0.0.0.0:8080->80/tcp".into()];
        c.volumes = vec![VolumeStatus {
            source: "/perm/www".into(),
            target: "/www".into(),
            read_only: true,
        }];
        c.memory_bytes = Some(4096);
        c
    }

    #[test]
    fn rust_values_match_the_device_api() {
        let api = OpenApi::repo_doc("device-api.yaml");
        for state in [
            ServiceState::Running,
            ServiceState::Stopped,
            ServiceState::Stopping,
            ServiceState::Backoff,
            ServiceState::WaitingForClock,
        ] {
            api.check_component("ServiceStatus", &value(service(state, true)));
            api.check_component("ServiceStatus", &value(service(state, false)));
        }
        let overview = Overview {
            hostname: "box".into(),
            system: System {
                version: Some("0.1.0+1.abc".into()),
                build_time: None,
                kernel: Some("6.1.0".into()),
                slot: Some("a".into()),
                uptime_secs: Some(5),
                addresses: vec![Address {
                    interface: "eth0".into(),
                    address: "192.168.1.2".into(),
                }],
                perm: Some(PermUsage {
                    total_bytes: 10,
                    used_bytes: 1,
                }),
            },
            services: vec![service(ServiceState::Running, true)],
            containers: Some(vec![container(), ContainerStatus::new("w", "", "w.yaml")]),
            containers_error: None,
        };
        api.check_component("Overview", &value(&overview));
        let unreachable = Overview {
            system: System {
                perm: None,
                ..overview.system.clone()
            },
            containers: None,
            containers_error: Some("paddockd: connect: refused".into()),
            ..overview
        };
        api.check_component("Overview", &value(unreachable));
        api.check_component(
            "ServicePage",
            &value(ServicePage {
                service: service(ServiceState::Backoff, false),
                logs: vec!["a line".into()],
            }),
        );
        let written = Written {
            sha256: "0f".repeat(32),
            bytes: 4096,
        };
        api.check_component("Written", &value(&written));
        let entry = |state| EntryStatus {
            file: "paddock-00000003-b+1-1.conf".into(),
            id: "paddock-00000003-b".into(),
            generation: 3,
            slot: Slot::B,
            tries_left: Some(1),
            tries_done: Some(1),
            state,
        };
        for verified in [
            Verified::default(),
            Verified {
                busy: true,
                ..Verified::default()
            },
            Verified {
                root: Some(written.clone()),
                ..Verified::default()
            },
            Verified {
                statement: Some(paddock_wire::update::Accepted {
                    version: "v2".into(),
                    generation: 2,
                }),
                root: Some(written.clone()),
                vmlinuz: Some(written.clone()),
                initrd: Some(written.clone()),
                busy: false,
            },
        ] {
            api.check_component("Verified", &value(&verified));
            let status = UpdateStatus {
                slot: Slot::A,
                inactive_slot: Slot::B,
                version: None,
                build_time: Some("2026-01-01T00:00:00Z".into()),
                kernel: None,
                generation: Some(1),
                rollback_floor: 1,
                update_key: Some("sha256:00".into()),
                entries: vec![
                    entry(EntryState::Probation),
                    entry(EntryState::Good),
                    entry(EntryState::Bad),
                ],
                esp_error: None,
                verified,
            };
            api.check_component("UpdateStatus", &value(status));
        }
        api.check_component(
            "Switched",
            &value(Switched {
                slot: Slot::B,
                entry: "paddock-00000004-b+2.conf".into(),
                generation: 4,
                tries: 2,
            }),
        );
        api.check_component("Error", &value(ErrorBody { error: "x".into() }));
        api.check_component("ContainerStatus", &value(container()));
    }

    #[test]
    fn the_device_api_refuses_what_the_rust_types_never_write() {
        let api = OpenApi::repo_doc("device-api.yaml");
        // `busy` is left out when false, the pieces when absent.
        assert!(err(api.validate_component("Verified", &json!({"busy": false}))).contains("busy"));
        assert!(err(api.validate_component("Verified", &json!({"root": null}))).contains("root"));
        assert!(err(api.validate_component("Verified", &json!({"boot": {}}))).contains("boot"));
        let mut s = value(service(ServiceState::Running, true));
        s["state"] = json!("sleeping");
        assert!(err(api.validate_component("ServiceStatus", &s)).contains("sleeping"));
        let mut s = value(service(ServiceState::Stopped, false));
        s["pid"] = Value::Null;
        assert!(err(api.validate_component("ServiceStatus", &s)).contains("/pid"));
        let mut u = value(UpdateStatus {
            slot: Slot::A,
            inactive_slot: Slot::B,
            version: None,
            build_time: None,
            kernel: None,
            generation: None,
            rollback_floor: 0,
            update_key: None,
            entries: vec![],
            esp_error: None,
            verified: Verified::default(),
        });
        u.as_object_mut().unwrap().remove("version");
        assert!(err(api.validate_component("UpdateStatus", &u)).contains("version"));
    }

    #[test]
    fn rust_values_match_paddockd_api() {
        let api = OpenApi::repo_doc("paddockd-api.yaml");
        api.check_component("ContainerStatus", &value(container()));
        api.check_component(
            "ContainerStatus",
            &value(ContainerStatus::new("bad", "", "bad.yaml")),
        );
        api.check_component(
            "ApplyReport",
            &value(ApplyReport {
                started: vec!["a".into()],
                errors: vec!["b.yaml:1:1: bad".into()],
                ..ApplyReport::default()
            }),
        );
        api.check_component("PruneReport", &value(paddock_store::PruneReport::default()));
        let digest = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let record: paddock_store::ImageRecord = serde_json::from_value(json!({
            "reference": "docker.io/library/busybox:latest",
            "manifest_digest": digest('1'),
            "config_digest": digest('2'),
            "layers": [{"digest": digest('3'), "diff_id": digest('4'), "size": 10,
                        "media_type": "application/vnd.oci.image.layer.v1.tar+gzip"}],
            "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
            "pulled_at": "2026-01-01T00:00:00.123456789Z",
            "size": 10,
        }))
        .unwrap();
        api.check_component("ImageRecord", &value(&record));
        let mut bad = value(&record);
        bad["platform"]["os_version"] = json!("1");
        assert!(err(api.validate_component("ImageRecord", &bad)).contains("os_version"));
        let mut bad = value(ContainerStatus::new("bad", "", "bad.yaml"));
        bad["state"] = json!("Running");
        assert!(err(api.validate_component("ContainerStatus", &bad)).contains("Running"));
    }
}
