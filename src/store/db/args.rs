//! The values a statement binds: one enum over every column type Polis stores, so that
//! a statement written once binds the same way on both drivers.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

/// A value bound to a `$n` placeholder. Every column type Polis stores has a variant;
/// the `From` impls below let call sites bind plain Rust values.
pub(crate) enum Arg<'a> {
    Uuid(Option<Uuid>),
    Text(Option<Cow<'a, str>>),
    BigInt(i64),
    Int(i32),
    Time(Option<DateTime<Utc>>),
    Json(Json<Cow<'a, Value>>),
}

impl From<Uuid> for Arg<'_> {
    fn from(value: Uuid) -> Self {
        Arg::Uuid(Some(value))
    }
}

impl From<&Uuid> for Arg<'_> {
    fn from(value: &Uuid) -> Self {
        Arg::Uuid(Some(*value))
    }
}

impl From<Option<Uuid>> for Arg<'_> {
    fn from(value: Option<Uuid>) -> Self {
        Arg::Uuid(value)
    }
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(value: &'a str) -> Self {
        Arg::Text(Some(Cow::Borrowed(value)))
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(value: &'a String) -> Self {
        Arg::Text(Some(Cow::Borrowed(value)))
    }
}

impl From<String> for Arg<'_> {
    fn from(value: String) -> Self {
        Arg::Text(Some(Cow::Owned(value)))
    }
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(value: Option<&'a str>) -> Self {
        Arg::Text(value.map(Cow::Borrowed))
    }
}

impl<'a> From<&'a Option<String>> for Arg<'a> {
    fn from(value: &'a Option<String>) -> Self {
        Arg::Text(value.as_deref().map(Cow::Borrowed))
    }
}

impl From<Option<String>> for Arg<'_> {
    fn from(value: Option<String>) -> Self {
        Arg::Text(value.map(Cow::Owned))
    }
}

impl From<i64> for Arg<'_> {
    fn from(value: i64) -> Self {
        Arg::BigInt(value)
    }
}

impl From<i32> for Arg<'_> {
    fn from(value: i32) -> Self {
        Arg::Int(value)
    }
}

impl From<DateTime<Utc>> for Arg<'_> {
    fn from(value: DateTime<Utc>) -> Self {
        Arg::Time(Some(value))
    }
}

impl From<Option<DateTime<Utc>>> for Arg<'_> {
    fn from(value: Option<DateTime<Utc>>) -> Self {
        Arg::Time(value)
    }
}

impl<'a> From<Json<&'a Value>> for Arg<'a> {
    fn from(value: Json<&'a Value>) -> Self {
        Arg::Json(Json(Cow::Borrowed(value.0)))
    }
}

impl From<Json<Value>> for Arg<'_> {
    fn from(value: Json<Value>) -> Self {
        Arg::Json(Json(Cow::Owned(value.0)))
    }
}
