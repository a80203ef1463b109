//! What the writers contend for: identities with sessions, orgs with a cap of 5, orgs
//! with exactly two admins, and orgs that invite.

use std::sync::Arc;

use anyhow::Context;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::kratos_double::{IdentitySeed, KratosDouble};

pub const PEOPLE: usize = 120;
pub const CAPPED_ORGS: usize = 8;
pub const CAP: i64 = 5;
pub const TWO_ADMIN_ORGS: usize = 8;
pub const INVITING_ORGS: usize = 4;

#[derive(Debug, Clone)]
pub struct Person {
    pub id: Uuid,
    pub email: String,
    pub token: String,
}

#[derive(Debug, Clone)]
pub struct TwoAdmins {
    pub org: Uuid,
    pub admins: [Uuid; 2],
}

#[derive(Debug, Clone)]
pub struct World {
    pub people: Arc<Vec<Person>>,
    pub capped: Arc<Vec<Uuid>>,
    pub two_admins: Arc<Vec<TwoAdmins>>,
    pub inviting: Arc<Vec<Uuid>>,
}

pub async fn build(kratos: &KratosDouble, base: &str, admin_key: &str) -> anyhow::Result<World> {
    let people: Vec<Person> = (0..PEOPLE)
        .map(|i| {
            let email = format!("fault{i}@example.test");
            let id = kratos.insert_identity(IdentitySeed {
                traits: json!({"email": email, "first_name": "Fault", "last_name": format!("{i}")}),
                verified: true,
                ..IdentitySeed::default()
            });
            let token = kratos.create_session(id).token;
            Person { id, email, token }
        })
        .collect();
    let http = reqwest::Client::new();
    let admin = |method: reqwest::Method, path: String, body: Value| {
        http.request(method, format!("{base}{path}"))
            .bearer_auth(admin_key)
            .json(&body)
            .send()
    };
    let create = |name: String, owner: Uuid, cap: i64| {
        let body = json!({"name": name, "created_by": owner, "max_allowed_memberships": cap});
        let request = admin(reqwest::Method::POST, "/orgs".into(), body);
        async move { created_id(request.await?).await }
    };
    let mut capped = Vec::new();
    for (i, owner) in people.iter().take(CAPPED_ORGS).enumerate() {
        capped.push(create(format!("Capped {i}"), owner.id, CAP).await?);
    }
    let mut inviting = Vec::new();
    for (i, owner) in people.iter().take(INVITING_ORGS).enumerate() {
        inviting.push(create(format!("Inviting {i}"), owner.id, 0).await?);
    }
    let mut two_admins = Vec::new();
    for i in 0..TWO_ADMIN_ORGS {
        let (first, second) = (people[2 * i].id, people[2 * i + 1].id);
        let org = create(format!("Two admins {i}"), first, 0).await?;
        let body = json!({"identity_id": second, "role": "org:admin"});
        let added = admin(reqwest::Method::POST, format!("/orgs/{org}/members"), body).await?;
        anyhow::ensure!(
            added.status().is_success(),
            "adding a second admin: {}",
            added.status()
        );
        two_admins.push(TwoAdmins {
            org,
            admins: [first, second],
        });
    }
    Ok(World {
        people: Arc::new(people),
        capped: Arc::new(capped),
        two_admins: Arc::new(two_admins),
        inviting: Arc::new(inviting),
    })
}

async fn created_id(response: reqwest::Response) -> anyhow::Result<Uuid> {
    let status = response.status();
    let body: Value = response.json().await?;
    anyhow::ensure!(status.is_success(), "creating an org: {status} {body}");
    body["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .context("the created org has no id")
}
