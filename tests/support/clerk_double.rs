//! A test double of the slice of Clerk's Backend API the import pages (`clerk.md` §1.0):
//! `GET /v1/organizations`, `/v1/organizations/{id}/memberships`,
//! `/v1/organizations/{id}/invitations?status=…`, `/v1/organizations/{id}/domains` and
//! `/v1/organization_roles`, each
//! answering `{data, total_count}` for `limit` (1–500, default 10) and `offset`, behind a
//! bearer secret key, with 429 + `Retry-After` on demand.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

/// What the double serves.
#[derive(Debug, Clone, Default)]
pub struct ClerkData {
    pub organizations: Vec<Value>,
    /// By org id.
    pub memberships: HashMap<String, Vec<Value>>,
    /// By org id, every status.
    pub invitations: HashMap<String, Vec<Value>>,
    /// By org id.
    pub domains: HashMap<String, Vec<Value>>,
    pub roles: Vec<Value>,
}

struct Shared {
    secret: String,
    data: ClerkData,
    /// Serve at most this many items a page, whatever `limit` asks (forces paging).
    page_cap: usize,
    throttle: AtomicUsize,
    requests: AtomicUsize,
    throttled: AtomicUsize,
}

pub struct ClerkDouble {
    pub base_url: String,
    shared: Arc<Shared>,
}

impl ClerkDouble {
    pub async fn start(secret: &str, data: ClerkData, page_cap: usize) -> ClerkDouble {
        let shared = Arc::new(Shared {
            secret: secret.to_owned(),
            data,
            page_cap,
            throttle: AtomicUsize::new(0),
            requests: AtomicUsize::new(0),
            throttled: AtomicUsize::new(0),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        ClerkDouble {
            base_url: format!("http://{addr}/v1"),
            shared,
        }
    }

    /// The next `n` requests get 429 with `Retry-After: 1`.
    pub fn throttle_next(&self, n: usize) {
        self.shared.throttle.store(n, Ordering::SeqCst);
    }

    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    pub fn throttled(&self) -> usize {
        self.shared.throttled.load(Ordering::SeqCst)
    }
}

fn clerk_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"errors": [{"message": message, "long_message": message, "code": code}],
        "clerk_trace_id": "0000"});
    (status, axum::Json(body)).into_response()
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let authorized = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(format!("Bearer {}", shared.secret).as_str());
    if !authorized {
        return clerk_error(
            StatusCode::UNAUTHORIZED,
            "authentication_invalid",
            "Unauthorized",
        );
    }
    let throttled = shared
        .throttle
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if throttled {
        shared.throttled.fetch_add(1, Ordering::SeqCst);
        let mut response = clerk_error(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "Too many requests",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, "1".parse().expect("header"));
        return response;
    }
    let query: HashMap<String, String> = request
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let path: Vec<&str> = request.uri().path().trim_matches('/').split('/').collect();
    let empty = Vec::new();
    let items: Vec<Value> = match path.as_slice() {
        ["v1", "organizations"] => shared.data.organizations.clone(),
        ["v1", "organization_roles"] => shared.data.roles.clone(),
        ["v1", "organizations", org, "memberships"] => {
            shared.data.memberships.get(*org).unwrap_or(&empty).clone()
        }
        ["v1", "organizations", org, "domains"] => {
            shared.data.domains.get(*org).unwrap_or(&empty).clone()
        }
        ["v1", "organizations", org, "invitations"] => {
            let status = query.get("status");
            shared
                .data
                .invitations
                .get(*org)
                .unwrap_or(&empty)
                .iter()
                .filter(|i| status.is_none_or(|s| i["status"] == s.as_str()))
                .cloned()
                .collect()
        }
        _ => return clerk_error(StatusCode::NOT_FOUND, "resource_not_found", "Not found"),
    };
    page(&shared, &query, items)
}

fn page(shared: &Shared, query: &HashMap<String, String>, items: Vec<Value>) -> Response {
    let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
        None => 10,
        Some(Ok(l)) if (1..=500).contains(&l) => l,
        _ => {
            return clerk_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "form_param_value_invalid",
                "limit",
            )
        }
    };
    let offset: usize = query
        .get("offset")
        .and_then(|o| o.parse().ok())
        .unwrap_or(0);
    let total = items.len();
    let data: Vec<Value> = items
        .into_iter()
        .skip(offset)
        .take(limit.min(shared.page_cap))
        .collect();
    axum::Json(json!({"data": data, "total_count": total})).into_response()
}
