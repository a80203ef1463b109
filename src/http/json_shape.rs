//! Which JSON values a request body type may be read from, as far as objects go.
//!
//! serde's derived `Deserialize` reads a struct from a JSON object *or* from an array of its
//! field values in declaration order (meant for formats without field names). So
//! `["Acme", null]` would be taken as `{"name": "Acme", "slug": null}`: an undocumented second
//! syntax that the OpenAPI schema (an object) does not allow. [`JsonShape::of`] finds where a
//! type expects objects by asking its `Deserialize` impl which `deserialize_*` it calls, and
//! [`JsonShape::check`] refuses anything else there before the body is deserialized.

use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::value::RawValue;

/// Where a body type needs JSON objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonShape {
    /// A struct or a map: only a JSON object will do.
    Object,
    /// A sequence whose every element has the inner shape.
    ArrayOf(Box<JsonShape>),
    /// Anything else; serde checks it as usual.
    Any,
}

/// A body that has an array (or scalar) where an object belongs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeMismatch {
    /// `body` for the whole body, `[2]` for the third element of an array body.
    pub field: String,
    pub message: String,
}

impl JsonShape {
    /// The shape `T`'s `Deserialize` asks for.
    pub fn of<T: DeserializeOwned>() -> JsonShape {
        match T::deserialize(Probe) {
            Err(Found(shape)) => shape,
            Ok(_) => JsonShape::Any,
        }
    }

    /// Refuses a body that has something other than an object where this shape needs one.
    /// Malformed parts are left to serde, whose messages say more.
    pub fn check(&self, body: &RawValue) -> Result<(), ShapeMismatch> {
        self.check_at(body, None)
    }

    fn check_at(&self, value: &RawValue, index: Option<usize>) -> Result<(), ShapeMismatch> {
        let text = value.get().trim_start();
        match self {
            JsonShape::Any => Ok(()),
            JsonShape::Object if text.starts_with('{') => Ok(()),
            JsonShape::Object => Err(ShapeMismatch {
                field: index.map_or_else(|| "body".to_owned(), |i| format!("[{i}]")),
                message: format!("must be a JSON object, not {}", kind_of(text)),
            }),
            JsonShape::ArrayOf(element) => {
                let Ok(elements) = serde_json::from_str::<Vec<&RawValue>>(text) else {
                    return Ok(());
                };
                elements
                    .iter()
                    .enumerate()
                    .try_for_each(|(i, item)| element.check_at(item, Some(i)))
            }
        }
    }
}

fn kind_of(text: &str) -> &'static str {
    match text.as_bytes().first() {
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b'n') => "null",
        Some(b't' | b'f') => "a boolean",
        _ => "a number",
    }
}

/// The answer of a probe, carried out of `Deserialize` as its error.
#[derive(Debug)]
struct Found(JsonShape);

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl std::error::Error for Found {}

impl de::Error for Found {
    fn custom<M: fmt::Display>(_: M) -> Self {
        Found(JsonShape::Any)
    }
}

/// A deserializer that holds no data: it only records which kind of value was asked for.
struct Probe;

impl<'de> de::Deserializer<'de> for Probe {
    type Error = Found;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Found> {
        Err(Found(JsonShape::Any))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Found> {
        Err(Found(JsonShape::Object))
    }

    fn deserialize_map<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Found> {
        Err(Found(JsonShape::Object))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Found> {
        visitor.visit_seq(ElementProbe)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct tuple tuple_struct enum identifier ignored_any
    }
}

/// A sequence whose first element reports the element type's shape.
struct ElementProbe;

impl<'de> de::SeqAccess<'de> for ElementProbe {
    type Error = Found;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Found> {
        match seed.deserialize(Probe) {
            Err(Found(element)) => Err(Found(JsonShape::ArrayOf(Box::new(element)))),
            Ok(_) => Err(Found(JsonShape::ArrayOf(Box::new(JsonShape::Any)))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;
    use serde_json::value::RawValue;

    use super::{JsonShape, ShapeMismatch};

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Named {
        name: String,
        slug: Option<String>,
    }

    fn raw(text: &str) -> Box<RawValue> {
        serde_json::from_str(text).expect("valid JSON")
    }

    #[test]
    fn finds_where_objects_belong() {
        assert_eq!(JsonShape::of::<Named>(), JsonShape::Object);
        assert_eq!(JsonShape::of::<BTreeMap<String, u8>>(), JsonShape::Object);
        assert_eq!(
            JsonShape::of::<Vec<Named>>(),
            JsonShape::ArrayOf(Box::new(JsonShape::Object))
        );
        assert_eq!(
            JsonShape::of::<Vec<String>>(),
            JsonShape::ArrayOf(Box::new(JsonShape::Any))
        );
        assert_eq!(JsonShape::of::<String>(), JsonShape::Any);
        assert_eq!(JsonShape::of::<serde_json::Value>(), JsonShape::Any);
    }

    #[test]
    fn an_array_of_field_values_is_not_an_object() {
        // Without the check serde reads this as {"name": "Acme", "slug": null}.
        assert!(serde_json::from_str::<Named>(r#"["Acme", null]"#).is_ok());
        let refused = JsonShape::of::<Named>().check(&raw(r#"["Acme", null]"#));
        assert_eq!(
            refused,
            Err(ShapeMismatch {
                field: "body".to_owned(),
                message: "must be a JSON object, not an array".to_owned(),
            })
        );
        assert_eq!(
            JsonShape::of::<Named>().check(&raw(r#" {"name": "Acme"}"#)),
            Ok(())
        );
    }

    #[test]
    fn names_the_element_that_is_not_an_object() {
        let shape = JsonShape::of::<Vec<Named>>();
        assert_eq!(
            shape.check(&raw(r#"[{"name": "a"}, {"name": "b"}]"#)),
            Ok(())
        );
        let refused = shape.check(&raw(r#"[{"name": "a"}, ["b", null]]"#));
        assert_eq!(refused.map_err(|m| m.field), Err("[1]".to_owned()));
        // Not an array at all: serde's own message says so.
        assert_eq!(shape.check(&raw(r#"{"name": "a"}"#)), Ok(()));
    }
}
