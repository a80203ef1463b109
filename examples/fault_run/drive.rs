//! The writers. Each request carries an `X-Request-Id` of its own, and every answer is
//! written down: what was acknowledged (2xx) must be in the database afterwards, with
//! its event.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use rand::Rng;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

use crate::world::{Person, World};
use crate::Replicas;

/// One answered request (or one that got no answer: `status` 0).
#[derive(Debug, Clone)]
pub struct Answer {
    pub request_id: String,
    pub what: &'static str,
    pub status: u16,
    pub code: Option<String>,
    /// Since the run started, when the answer came.
    pub at: Duration,
}

#[derive(Debug, Default)]
pub struct Ledger {
    pub answers: Vec<Answer>,
}

pub struct Writers {
    tasks: JoinSet<()>,
    ledger: Arc<Mutex<Ledger>>,
}

impl Writers {
    pub async fn finish(mut self) -> Ledger {
        while self.tasks.join_next().await.is_some() {}
        std::mem::take(&mut *self.ledger.lock().await)
    }
}

/// Sends requests to the replicas in turn.
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    replicas: Replicas,
    next: Arc<AtomicUsize>,
    admin_key: Arc<str>,
    ledger: Arc<Mutex<Ledger>>,
    started: Instant,
}

impl Client {
    async fn send(
        &self,
        what: &'static str,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> Option<Value> {
        let base = {
            let replicas = self.replicas.read().await;
            replicas[self.next.fetch_add(1, Ordering::Relaxed) % replicas.len()].clone()
        };
        let request_id = format!("fault-{}", uuid::Uuid::now_v7().simple());
        let response = self
            .http
            .request(method, format!("{base}{path}"))
            .bearer_auth(token.unwrap_or(&self.admin_key))
            .header("X-Request-Id", &request_id)
            .json(&body)
            .send()
            .await;
        let (status, body) = match response {
            Ok(response) => {
                let status = response.status().as_u16();
                (
                    status,
                    response.json::<Value>().await.unwrap_or(Value::Null),
                )
            }
            Err(_) => (0, Value::Null),
        };
        let answer = Answer {
            request_id,
            what,
            status,
            code: body["code"].as_str().map(str::to_owned),
            at: self.started.elapsed(),
        };
        self.ledger.lock().await.answers.push(answer);
        (200..300).contains(&status).then_some(body)
    }
}

/// Starts the writers; they stop at `deadline`. Answers are timed from `started`.
pub fn start(
    world: World,
    replicas: Replicas,
    admin_key: String,
    (started, deadline): (Instant, Instant),
) -> Writers {
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let client = Client {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client"),
        replicas,
        next: Arc::new(AtomicUsize::new(0)),
        admin_key: admin_key.into(),
        ledger: ledger.clone(),
        started,
    };
    let mut tasks = JoinSet::new();
    for _ in 0..3 {
        tasks.spawn(fill_capped_orgs(client.clone(), world.clone(), deadline));
    }
    for _ in 0..2 {
        tasks.spawn(demote_admins(client.clone(), world.clone(), deadline));
    }
    for _ in 0..2 {
        tasks.spawn(invite_and_accept(client.clone(), world.clone(), deadline));
    }
    tasks.spawn(create_and_delete_orgs(client, world, deadline));
    Writers { tasks, ledger }
}

fn anyone(world: &World) -> Person {
    world
        .people
        .choose(&mut rand::thread_rng())
        .expect("people")
        .clone()
}

/// Adds members to capped orgs (racing the cap) and removes some again.
async fn fill_capped_orgs(client: Client, world: World, deadline: Instant) {
    while Instant::now() < deadline {
        let org = *world.capped.choose(&mut rand::thread_rng()).expect("orgs");
        let person = anyone(&world);
        if rand::thread_rng().gen_bool(0.7) {
            let body = json!({"identity_id": person.id, "role": "org:member"});
            client
                .send(
                    "add",
                    Method::POST,
                    &format!("/orgs/{org}/members"),
                    None,
                    body,
                )
                .await;
        } else {
            let path = format!("/orgs/{org}/members/{}", person.id);
            client
                .send("remove", Method::DELETE, &path, None, Value::Null)
                .await;
        }
    }
}

/// Demotes one of two admins and promotes them back, racing the other task doing the
/// same: one org must never lose both.
async fn demote_admins(client: Client, world: World, deadline: Instant) {
    while Instant::now() < deadline {
        let pair = world
            .two_admins
            .choose(&mut rand::thread_rng())
            .expect("orgs")
            .clone();
        let admin = *pair.admins.choose(&mut rand::thread_rng()).expect("admins");
        let path = format!("/orgs/{}/members/{admin}", pair.org);
        let role = if rand::thread_rng().gen_bool(0.5) {
            "org:member"
        } else {
            "org:admin"
        };
        client
            .send(
                "change_role",
                Method::PATCH,
                &path,
                None,
                json!({"role": role}),
            )
            .await;
    }
}

/// Invites someone to an inviting org and has them accept (or decline).
async fn invite_and_accept(client: Client, world: World, deadline: Instant) {
    while Instant::now() < deadline {
        let org = *world
            .inviting
            .choose(&mut rand::thread_rng())
            .expect("orgs");
        let person = anyone(&world);
        let body = json!({"email_address": person.email});
        let Some(invited) = client
            .send(
                "invite",
                Method::POST,
                &format!("/orgs/{org}/invitations"),
                None,
                body,
            )
            .await
        else {
            continue;
        };
        let id = invited["id"].as_str().unwrap_or_default().to_owned();
        let verb = if rand::thread_rng().gen_bool(0.8) {
            "accept"
        } else {
            "decline"
        };
        let path = format!("/me/invitations/{id}/{verb}");
        let what = if verb == "accept" {
            "accept"
        } else {
            "decline"
        };
        client
            .send(what, Method::POST, &path, Some(&person.token), json!({}))
            .await;
        if rand::thread_rng().gen_bool(0.3) {
            let path = format!("/orgs/{org}/members/{}", person.id);
            client
                .send("remove", Method::DELETE, &path, None, Value::Null)
                .await;
        }
    }
}

/// Creates orgs with a few members and deletes them.
async fn create_and_delete_orgs(client: Client, world: World, deadline: Instant) {
    while Instant::now() < deadline {
        let owner = anyone(&world);
        let body = json!({"name": "Short-lived", "created_by": owner.id});
        let Some(org) = client
            .send("create_org", Method::POST, "/orgs", None, body)
            .await
        else {
            continue;
        };
        let org = org["id"].as_str().unwrap_or_default().to_owned();
        for _ in 0..3 {
            let body = json!({"identity_id": anyone(&world).id, "role": "org:member"});
            client
                .send(
                    "add",
                    Method::POST,
                    &format!("/orgs/{org}/members"),
                    None,
                    body,
                )
                .await;
        }
        client
            .send(
                "delete_org",
                Method::DELETE,
                &format!("/orgs/{org}"),
                None,
                Value::Null,
            )
            .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
