//! The outermost middleware: gives every request an id, a span carrying it (so every
//! log line of the request has it), and on the way out the `X-Request-Id` header, the
//! id inside problem bodies, one access log line and the HTTP metrics. A second, inner
//! middleware limits requests without a credential per client IP.

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::error::Problem;
use crate::metrics::{method_label, HttpLabels};
use crate::rate_limit::{client_ip, ClientIp};
use crate::state::AppState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The `endpoint` label and span `route` of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// The request's id, for handlers that record it (events).
#[derive(Debug, Clone)]
pub struct RequestId(pub HeaderValue);

/// Longest `X-Request-Id` taken from a client; longer ones are replaced.
const MAX_REQUEST_ID_LEN: usize = 128;

pub async fn observe(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(request.headers());
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let client = client_ip(
        peer.map(|p| p.ip()),
        request.headers(),
        state.settings.trusted_proxies,
    );
    request.extensions_mut().insert(ClientIp(client));
    request.extensions_mut().insert(RequestId(id.clone()));
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_owned();
    let method = method_label(request.method());
    // The path only, never the query string (it may carry search terms).
    let span = tracing::info_span!(
        "request",
        request_id = %id.to_str().unwrap_or_default(),
        route = %endpoint,
        http_request.method = method,
        http_request.path = %request.uri().path(),
        http_request.remote = peer.map(tracing::field::display),
        caller = tracing::field::Empty,
    );
    let mut response = next.run(request).instrument(span.clone()).await;
    stamp(&mut response, id);
    let took = started.elapsed();
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::info!(
            http_response.status = status,
            http_response.took = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX),
            "completed handling request"
        );
    });
    state.metrics.observe_http(
        HttpLabels {
            code: status,
            method,
            endpoint,
        },
        took,
    );
    response
}

/// Requests without any credential are counted per client IP before they reach a
/// route (health checks excepted: probes must always get through). Credentials that
/// fail to authenticate are counted the same way by the `Caller` extractor.
pub async fn limit_anonymous(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let is_probe = request.uri().path().starts_with("/health/");
    if !is_probe && !state.auth.presents_credential(request.headers()) {
        let client = request
            .extensions()
            .get::<ClientIp>()
            .copied()
            .unwrap_or(ClientIp(None));
        if let Err(limited) = state.limits.check_client(client) {
            return limited.into_response();
        }
    }
    next.run(request).await
}

/// The client's id when it is short visible ASCII (it is echoed into headers and
/// logs); otherwise a fresh UUIDv7, which sorts by time.
fn request_id(headers: &HeaderMap) -> HeaderValue {
    headers
        .get(REQUEST_ID)
        .filter(|value| is_acceptable(value.as_bytes()))
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::now_v7().to_string())
                .unwrap_or(HeaderValue::from_static("unknown"))
        })
}

fn is_acceptable(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= MAX_REQUEST_ID_LEN && id.iter().all(|b| b.is_ascii_graphic())
}

/// Puts the id on the response, and into the body of a problem response.
fn stamp(response: &mut Response, id: HeaderValue) {
    if let Some(mut problem) = response.extensions_mut().remove::<Problem>() {
        problem.request_id = id.to_str().ok().map(str::to_owned);
        *response.body_mut() = Body::from(problem.to_json());
        response.headers_mut().remove(header::CONTENT_LENGTH);
    }
    response.headers_mut().insert(REQUEST_ID, id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_visible_ascii_ids_are_kept() {
        for good in ["abc-123", "0190c0de-7a9b-7c3d-8e4f-0123456789ab", "a=b/c"] {
            assert!(is_acceptable(good.as_bytes()), "{good}");
        }
        let long = "x".repeat(MAX_REQUEST_ID_LEN + 1);
        for bad in ["", "has space", "tab\there", "é", long.as_str()] {
            assert!(!is_acceptable(bad.as_bytes()), "{bad:?}");
        }
    }

    #[test]
    fn a_missing_or_bad_id_is_replaced_by_a_uuid() {
        let mut headers = HeaderMap::new();
        let made = request_id(&headers);
        assert!(uuid::Uuid::parse_str(made.to_str().unwrap()).is_ok());
        headers.insert(REQUEST_ID, HeaderValue::from_static("bad id"));
        assert_ne!(request_id(&headers), "bad id");
        headers.insert(REQUEST_ID, HeaderValue::from_static("good-id"));
        assert_eq!(request_id(&headers), "good-id");
    }
}
