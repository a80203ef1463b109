//! A webhook receiver for the tests: an axum server on a free port that keeps what it
//! received, answers as scripted, and notices one message id delivered twice at once.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// One delivery as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// Checks the signature with the `standardwebhooks` crate: fully (timestamp
    /// tolerance included) when `now_checked`, else by recomputing it with the crate.
    pub fn verify(&self, secret: &str) {
        let webhook = standardwebhooks::Webhook::new(secret).expect("a whsec_ secret");
        if webhook.verify(&self.body, &self.headers).is_ok() {
            return;
        }
        let timestamp: i64 = self.header("webhook-timestamp").parse().expect("timestamp");
        let expected = webhook
            .sign(&self.header("webhook-id"), timestamp, &self.body)
            .expect("sign");
        let signatures = self.header("webhook-signature");
        assert!(
            signatures.split(' ').any(|s| s == expected),
            "no signature by this secret in {signatures}"
        );
    }
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    /// Answers to give, in order; then 204.
    script: VecDeque<(u16, Option<String>)>,
    /// Answer every request with this status once the script is spent.
    otherwise: Option<u16>,
    in_flight: HashSet<String>,
    /// Message ids that arrived while the same id was being handled.
    overlapping: Vec<String>,
    delay: Duration,
    /// The body of every answer (`scripted` unless set).
    body: Option<String>,
}

#[derive(Clone, Default)]
pub struct Receiver {
    inner: Arc<Mutex<Inner>>,
    pub url: String,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let receiver = Receiver {
            url: format!("http://{}/hook", listener.local_addr().unwrap()),
            ..Receiver::default()
        };
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        receiver
    }

    /// Answers the next requests with these statuses and header values: `Location` for
    /// a 3xx, `Retry-After` otherwise.
    pub fn script(&self, answers: &[(u16, Option<&str>)]) {
        let mut inner = self.inner.lock().unwrap();
        inner
            .script
            .extend(answers.iter().map(|(s, r)| (*s, r.map(str::to_owned))));
    }

    /// Answers with `status` whenever the script is spent.
    pub fn answer_always(&self, status: u16) {
        self.inner.lock().unwrap().otherwise = Some(status);
    }

    /// Answers with this body.
    pub fn answer_body(&self, body: String) {
        self.inner.lock().unwrap().body = Some(body);
    }

    /// Holds every request this long before answering.
    pub fn delay(&self, delay: Duration) {
        self.inner.lock().unwrap().delay = delay;
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Requests being answered right now.
    pub fn in_flight(&self) -> usize {
        self.inner.lock().unwrap().in_flight.len()
    }

    pub fn overlapping(&self) -> Vec<String> {
        self.inner.lock().unwrap().overlapping.clone()
    }

    /// Waits up to 10 s until at least `count` deliveries arrived.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        for _ in 0..200 {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {count} deliveries, got {}", self.received().len());
    }

    /// Asserts that nothing more than `count` arrives within `wait`.
    pub async fn assert_still(&self, count: usize, wait: Duration) {
        tokio::time::sleep(wait).await;
        assert_eq!(self.received().len(), count, "an unexpected delivery came");
    }
}

/// Marks a message id in flight while it lives, also when the sender hangs up.
struct InFlight {
    receiver: Receiver,
    id: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.receiver
            .inner
            .lock()
            .unwrap()
            .in_flight
            .remove(&self.id);
    }
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let delay = {
        let mut inner = receiver.inner.lock().unwrap();
        if !inner.in_flight.insert(id.clone()) {
            inner.overlapping.push(id.clone());
        }
        inner.delay
    };
    let _in_flight = InFlight {
        receiver: receiver.clone(),
        id,
    };
    tokio::time::sleep(delay).await;
    let mut inner = receiver.inner.lock().unwrap();
    inner.received.push(Received { headers, body });
    let (status, retry_after) = inner
        .script
        .pop_front()
        .unwrap_or((inner.otherwise.unwrap_or(204), None));
    let body = inner.body.clone().unwrap_or_else(|| "scripted".into());
    drop(inner);
    let status = StatusCode::from_u16(status).unwrap();
    let header = if status.is_redirection() {
        "location"
    } else {
        "retry-after"
    };
    match retry_after {
        Some(value) => (status, [(header, value)], body).into_response(),
        None => (status, body).into_response(),
    }
}
