//! Checks of the OpenAPI document itself, and of real responses against it: what a
//! client generated from the document expects is what the server sends.
//!
//! The response check understands the subset of JSON Schema that utoipa emits: `$ref`,
//! `type` (one or a list), `enum`, `properties`/`required`, `items`, `allOf`, `oneOf`,
//! and the `uuid` and `date-time` formats.

use reqwest::header::CONTENT_TYPE;
use reqwest::StatusCode;
use serde_json::{Map, Value};

pub const PROBLEM: &str = "application/problem+json";
pub const PROBLEM_REF: &str = "#/components/schemas/Problem";

/// The generated document, as `/openapi.json` serves it.
pub struct Spec {
    pub doc: Value,
}

/// One operation of the document.
pub struct Operation<'a> {
    pub path: &'a str,
    pub method: &'a str,
    pub body: &'a Value,
}

impl Spec {
    pub fn generated() -> Spec {
        let doc = serde_json::from_str(&polis::http::openapi_json()).expect("the spec is JSON");
        Spec { doc }
    }

    pub fn operations(&self) -> Vec<Operation<'_>> {
        let paths = self.doc["paths"].as_object().expect("paths");
        paths
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(method, _)| is_method(method))
                    .map(move |(method, body)| Operation { path, method, body })
            })
            .collect()
    }

    /// Follows a local `$ref` (`#/components/...`); other values are returned as they are.
    pub fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference
                    .strip_prefix('#')
                    .unwrap_or_else(|| panic!("non-local $ref {reference}"));
                let target = self
                    .doc
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("dangling $ref {reference}"));
                self.resolve(target)
            }
            None => value,
        }
    }

    /// Every object schema (one with `properties`) that can appear in a response body,
    /// named by component (`OrgResponse`) or, when inline, by where it sits.
    pub fn response_objects(&self) -> Vec<(String, &Value)> {
        let mut pending: Vec<(String, &Value)> = Vec::new();
        for operation in self.operations() {
            let responses = operation.body["responses"].as_object().expect("responses");
            for (status, response) in responses {
                let response = self.resolve(response);
                for (media, content) in response["content"].as_object().into_iter().flatten() {
                    let name = format!("{} {} {status} {media}", operation.method, operation.path);
                    pending.push((name, &content["schema"]));
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        let mut objects = Vec::new();
        while let Some((name, schema)) = pending.pop() {
            if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
                if seen.insert(reference) {
                    let component = reference.rsplit('/').next().unwrap_or(reference);
                    pending.push((component.to_owned(), self.resolve(schema)));
                }
                continue;
            }
            if schema.get("properties").is_some() {
                objects.push((name.clone(), schema));
            }
            for (key, child) in children(schema) {
                pending.push((format!("{name}.{key}"), child));
            }
        }
        objects
    }

    /// What is wrong with `reply` as the answer to `method path` (a concrete path,
    /// query string allowed); empty when it is what the document promises.
    pub fn check(&self, method: &str, path: &str, reply: &Observed) -> Vec<String> {
        let at = format!("{method} {path} -> {}", reply.status.as_u16());
        let Some(template) = self.template_for(path) else {
            return vec![format!("{at}: no path of the document matches")];
        };
        let operation = &self.doc["paths"][template][method.to_ascii_lowercase()];
        if operation.is_null() {
            return vec![format!("{at}: {template} has no {method} operation")];
        }
        let Some(response) = operation["responses"].get(reply.status.as_str()) else {
            return vec![format!("{at}: status not documented for {template}")];
        };
        let response = self.resolve(response);
        let content = response.get("content").and_then(Value::as_object);
        let Some(content) = content.filter(|c| !c.is_empty()) else {
            return if reply.body.is_null() {
                Vec::new()
            } else {
                vec![format!("{at}: a body where the document promises none")]
            };
        };
        let media = reply.content_type.as_deref().unwrap_or("(none)");
        let Some(media_type) = content.get(media) else {
            return vec![format!("{at}: content type {media} not documented")];
        };
        let mut errors = Vec::new();
        self.conforms(&media_type["schema"], &reply.body, &at, &mut errors, true);
        errors
    }

    /// The path template of the document that `path` (concrete, query allowed) matches.
    pub fn template_for(&self, path: &str) -> Option<&str> {
        let path = path.split('?').next().unwrap_or(path);
        let segments: Vec<&str> = path.split('/').collect();
        let paths = self.doc["paths"].as_object()?;
        // A literal segment beats a parameter, so `/me/memberships` never reads as a template.
        paths
            .keys()
            .filter(|template| {
                let parts: Vec<&str> = template.split('/').collect();
                parts.len() == segments.len()
                    && parts
                        .iter()
                        .zip(&segments)
                        .all(|(part, segment)| part.starts_with('{') || part == segment)
            })
            .min_by_key(|template| template.matches('{').count())
            .map(String::as_str)
    }

    /// Checks `value` against `schema`. `whole` is false for the parts of an `allOf`,
    /// which each declare only some of the object's fields.
    fn conforms(
        &self,
        schema: &Value,
        value: &Value,
        at: &str,
        errors: &mut Vec<String>,
        whole: bool,
    ) {
        let schema = self.resolve(schema);
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for part in all {
                self.conforms(part, value, at, errors, false);
            }
        }
        if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
            let matching = one
                .iter()
                .filter(|option| {
                    let mut scratch = Vec::new();
                    self.conforms(option, value, at, &mut scratch, whole);
                    scratch.is_empty()
                })
                .count();
            if matching != 1 {
                errors.push(format!(
                    "{at}: {value} matches {matching} of the oneOf options"
                ));
            }
        }
        if let Some(types) = schema.get("type") {
            let allowed: Vec<&str> = match types {
                Value::String(one) => vec![one.as_str()],
                Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if !allowed.iter().any(|kind| has_type(value, kind)) {
                errors.push(format!("{at}: {value} is not of type {types}"));
                return;
            }
        }
        if let Some(options) = schema.get("enum").and_then(Value::as_array) {
            if !options.contains(value) {
                errors.push(format!(
                    "{at}: {value} is not one of {}",
                    Value::from(options.clone())
                ));
            }
        }
        if let (Some(format), Some(text)) =
            (schema.get("format").and_then(Value::as_str), value.as_str())
        {
            let valid = match format {
                "uuid" => uuid::Uuid::try_parse(text).is_ok(),
                "date-time" => chrono::DateTime::parse_from_rfc3339(text).is_ok(),
                _ => true,
            };
            if !valid {
                errors.push(format!("{at}: {text:?} is not a {format}"));
            }
        }
        if let Value::Object(object) = value {
            self.object_conforms(schema, object, at, errors, whole);
        }
        if let (Some(items), Value::Array(values)) = (schema.get("items"), value) {
            for (i, item) in values.iter().enumerate() {
                self.conforms(items, item, &format!("{at}[{i}]"), errors, true);
            }
        }
    }

    fn object_conforms(
        &self,
        schema: &Value,
        object: &Map<String, Value>,
        at: &str,
        errors: &mut Vec<String>,
        whole: bool,
    ) {
        for required in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = required.as_str().unwrap_or_default();
            if !object.contains_key(name) {
                errors.push(format!("{at}: required field {name:?} is missing"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, property) in properties.into_iter().flatten() {
            if let Some(value) = object.get(name) {
                self.conforms(property, value, &format!("{at}.{name}"), errors, true);
            }
        }
        // A field the document does not declare is one a generated client cannot see.
        if let Some(declared) = self.declared_fields(schema).filter(|_| whole) {
            for name in object.keys().filter(|name| !declared.contains(name)) {
                errors.push(format!("{at}: field {name:?} is not in the document"));
            }
        }
    }

    /// The fields an object schema declares, through `allOf`; `None` when it leaves
    /// them open (a bare `{"type": "object"}`, as for metadata) or to its `oneOf` options.
    fn declared_fields(&self, schema: &Value) -> Option<Vec<String>> {
        let schema = self.resolve(schema);
        let mut fields: Vec<String> = schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        let parts = schema.get("allOf").and_then(Value::as_array);
        for part in parts.into_iter().flatten() {
            fields.extend(self.declared_fields(part)?);
        }
        // A `oneOf`'s options check their own fields.
        if fields.is_empty() || schema.get("oneOf").is_some() {
            return None;
        }
        Some(fields)
    }
}

/// A response as the client saw it.
pub struct Observed {
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub body: Value,
}

impl Observed {
    pub async fn read(response: reqwest::Response) -> Observed {
        let reply = crate::harness::Reply::from(response).await;
        let content_type = reply
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned());
        Observed {
            status: reply.status,
            content_type,
            body: reply.body,
        }
    }
}

fn is_method(key: &str) -> bool {
    matches!(
        key,
        "get" | "put" | "post" | "delete" | "patch" | "head" | "options" | "trace"
    )
}

fn has_type(value: &Value, kind: &str) -> bool {
    match kind {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    }
}

/// Whether a schema admits `null`.
pub fn is_nullable(spec: &Spec, schema: &Value) -> bool {
    let schema = spec.resolve(schema);
    match schema.get("type") {
        Some(Value::String(kind)) if kind == "null" => return true,
        Some(Value::Array(kinds)) if kinds.iter().any(|k| k == "null") => return true,
        _ => {}
    }
    ["oneOf", "anyOf"].iter().any(|key| {
        schema
            .get(key)
            .and_then(Value::as_array)
            .is_some_and(|options| options.iter().any(|o| is_nullable(spec, o)))
    })
}

/// The sub-schemas of a schema, by the key that holds them.
fn children(schema: &Value) -> Vec<(String, &Value)> {
    let mut found = Vec::new();
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        found.extend(properties.iter().map(|(name, s)| (name.clone(), s)));
    }
    if let Some(items) = schema.get("items") {
        found.push(("items".to_owned(), items));
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        for (i, s) in schema
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            found.push((format!("{key}[{i}]"), s));
        }
    }
    found
}
