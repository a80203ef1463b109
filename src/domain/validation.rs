//! Collects field-level problems so one response can name every bad field.

use serde::Serialize;
use utoipa::ToSchema;

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field's name (dotted for nested fields).
    pub field: String,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    /// Records the error of `check` under `field`, if any.
    pub fn check(&mut self, field: &str, check: Result<(), String>) {
        if let Err(message) = check {
            self.add(field, message);
        }
    }

    pub fn into_result(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}

/// Largest serialized size of one metadata object.
pub const MAX_METADATA_BYTES: usize = 8 * 1024;

pub fn validate_metadata(value: &serde_json::Value) -> Result<(), String> {
    if !value.is_object() {
        return Err("must be a JSON object".into());
    }
    // PostgreSQL cannot store U+0000 in JSON; refuse it on every backend alike. The
    // character itself, in a key or a string, not the six characters `\u0000`.
    if holds_nul(value) {
        return Err("must not contain the character U+0000 (NUL) in a key or string".into());
    }
    let size = serde_json::to_string(value).map_or(usize::MAX, |s| s.len());
    if size > MAX_METADATA_BYTES {
        return Err(format!(
            "must serialize to at most {MAX_METADATA_BYTES} bytes (got {size})"
        ));
    }
    Ok(())
}

/// Whether a key or string anywhere in `value` contains U+0000.
fn holds_nul(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

pub fn validate_http_url(url: &str) -> Result<(), String> {
    if url.len() > 2048 {
        return Err("must be at most 2048 characters".into());
    }
    match url::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(()),
        _ => Err("must be an absolute http or https URL".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metadata_must_be_small_objects() {
        assert!(validate_metadata(&json!({"plan": "pro"})).is_ok());
        assert!(validate_metadata(&json!([1])).is_err());
        assert!(validate_metadata(&json!({"big": "x".repeat(MAX_METADATA_BYTES)})).is_err());
    }

    #[test]
    fn metadata_refuses_the_nul_character_not_its_escape() {
        let nul = |v: serde_json::Value| validate_metadata(&v).unwrap_err();
        assert!(nul(json!({"nul": "a\u{0}b"})).contains("U+0000"));
        assert!(nul(json!({"deep": [{"x": "\u{0}"}]})).contains("U+0000"));
        assert!(nul(json!({"k\u{0}": 1})).contains("U+0000"));
        // A backslash followed by `u0000` is six ordinary characters.
        assert!(validate_metadata(&json!({"k": "a\\u0000b"})).is_ok());
        assert!(validate_metadata(&json!({"k\\u0000": "x"})).is_ok());
    }

    #[test]
    fn image_urls() {
        assert!(validate_http_url("https://img.example.com/a.png").is_ok());
        assert!(validate_http_url("javascript:alert(1)").is_err());
        assert!(validate_http_url("not a url").is_err());
    }
}
