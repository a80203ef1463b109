//! Metadata updates: a deep merge where `null` removes a key.

use serde_json::{Map, Value};

/// Merges `patch` into `base`: objects merge key by key, recursively; a `null` in the
/// patch removes that key; any other value replaces what was there.
pub fn deep_merge(base: &mut Map<String, Value>, patch: Map<String, Value>) {
    for (key, value) in patch {
        match value {
            Value::Null => {
                base.remove(&key);
            }
            Value::Object(inner) => {
                let slot = base.entry(key).or_insert_with(|| Value::Object(Map::new()));
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                if let Value::Object(existing) = slot {
                    deep_merge(existing, inner);
                }
            }
            other => {
                base.insert(key, other);
            }
        }
    }
}

/// The merge of `patch` into `current`, as a new value.
pub fn merged(current: &Value, patch: Map<String, Value>) -> Value {
    let mut base = current.as_object().cloned().unwrap_or_default();
    deep_merge(&mut base, patch);
    Value::Object(base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn merges_deeply_and_null_removes() {
        let current = json!({"plan": "pro", "limits": {"seats": 5, "projects": 3}, "old": true});
        let patch =
            object(json!({"limits": {"seats": 10, "projects": null}, "old": null, "new": [1]}));
        assert_eq!(
            merged(&current, patch),
            json!({"plan": "pro", "limits": {"seats": 10}, "new": [1]})
        );
    }

    #[test]
    fn objects_replace_scalars() {
        let current = json!({"a": 1});
        assert_eq!(
            merged(&current, object(json!({"a": {"b": 2}}))),
            json!({"a": {"b": 2}})
        );
        assert_eq!(
            merged(&current, object(json!({"a": {"b": null}}))),
            json!({"a": {}})
        );
    }
}
