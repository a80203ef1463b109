//! Wrappers around axum's extractors whose rejections use Polis's problem format.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::error::{ApiError, ErrorCode};
use crate::http::json_shape::{JsonShape, ShapeMismatch};
use crate::store::RequestOrigin;

/// JSON body in, JSON body out.
#[derive(Debug)]
pub struct AppJson<T>(pub T);

impl<T, S> FromRequest<S> for AppJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(raw) = axum::Json::<Box<RawValue>>::from_request(req, state).await?;
        // serde's derive also reads a struct from an array of its field values, so
        // `[null, null]` would pass for `{}`: the spec promises objects, so only objects pass.
        JsonShape::of::<T>()
            .check(&raw)
            .map_err(|ShapeMismatch { field, message }| ApiError::field(&field, message))?;
        let axum::Json(value) = axum::Json::<T>::from_bytes(raw.get().as_bytes())?;
        Ok(Self(value))
    }
}

impl<T: serde::Serialize> IntoResponse for AppJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct AppQuery<T>(pub T);

#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct AppPath<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(err) => {
                let (field, message) = describe_data_error(&err.body_text());
                ApiError::field(&field, message)
            }
            JsonRejection::JsonSyntaxError(_) => {
                ApiError::new(ErrorCode::InvalidJson, "the request body is not valid JSON")
            }
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "the request body must be sent as Content-Type: application/json",
            ),
            JsonRejection::BytesRejection(err) if err.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large")
            }
            other => ApiError::new(ErrorCode::InvalidJson, other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        let text = rejection.body_text();
        let detail = text
            .strip_prefix("Failed to deserialize query string: ")
            .unwrap_or(&text);
        ApiError::field("query", detail.to_owned())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::field("path", rejection.body_text())
    }
}

/// Splits serde's "path: message" into the field it names and the message.
fn describe_data_error(text: &str) -> (String, String) {
    let text = text
        .strip_prefix("Failed to deserialize the JSON body into the target type: ")
        .unwrap_or(text);
    if let Some((path, message)) = text.split_once(": ") {
        if !path.contains(' ') && path != "." {
            return (path.to_owned(), message.to_owned());
        }
    }
    let message = text.strip_prefix(".: ").unwrap_or(text);
    // "missing field `name` at line 1 column 2" names its field in backticks.
    let field = message
        .split('`')
        .nth(1)
        .filter(|_| message.starts_with("missing field") || message.starts_with("unknown field"))
        .unwrap_or("body");
    (field.to_owned(), message.to_owned())
}

/// Where a request came from, for the events its writes record: its id, the client's
/// address (as the proxies Polis trusts report it) and its `User-Agent`.
impl<S: Send + Sync> FromRequestParts<S> for RequestOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let text = |value: &axum::http::HeaderValue| value.to_str().ok().map(str::to_owned);
        Ok(RequestOrigin {
            request_id: parts
                .extensions
                .get::<super::observe::RequestId>()
                .and_then(|id| text(&id.0)),
            client_ip: parts
                .extensions
                .get::<crate::rate_limit::ClientIp>()
                .and_then(|ip| ip.0)
                .map(|ip| ip.to_string()),
            user_agent: parts
                .headers
                .get(axum::http::header::USER_AGENT)
                .and_then(text)
                .map(|agent| agent.chars().take(512).collect()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::describe_data_error;

    #[test]
    fn names_the_offending_field() {
        let (field, _) = describe_data_error(
            "Failed to deserialize the JSON body into the target type: name: invalid type: integer `1`, expected a string at line 1 column 10",
        );
        assert_eq!(field, "name");
        let (field, _) = describe_data_error(
            "Failed to deserialize the JSON body into the target type: missing field `name` at line 1 column 2",
        );
        assert_eq!(field, "name");
    }
}
