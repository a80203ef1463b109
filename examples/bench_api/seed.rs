//! The reference workload of `docs/design.md` §8: 1,000 Kratos identities, each with a
//! session; 200 orgs × 50 members; one caller ("me") in 20 of them, as their admin.
//! Identities go into the Kratos double directly (Kratos owns them); orgs and
//! memberships go through Polis's API with the admin key: one request per org and per
//! member (the default, the write paths the workloads use), or one Clerk import.

use std::time::Instant;

use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::kratos_double::{IdentitySeed, KratosDouble};
use crate::polis::Polis;
use crate::workloads::Credential;

pub const IDENTITIES: usize = 1_000;
pub const ORGS: usize = 200;
pub const MEMBERS_PER_ORG: usize = 50;
pub const MY_ORGS: usize = 20;

/// The Kratos side: who exists and how "me" signs in.
pub struct People {
    pub me: Uuid,
    pub me_token: String,
    /// Everyone else who belongs to orgs.
    pub members: Vec<Uuid>,
    /// Identities in no org: one per load-generator connection, for W1.
    pub spares: Vec<Uuid>,
}

/// Everything the workloads need to address one seeded Polis.
pub struct Fixture {
    pub me: Uuid,
    pub me_token: String,
    pub admin_key: String,
    /// The orgs "me" belongs to (and administers), in creation order.
    pub my_orgs: Vec<Uuid>,
    pub orgs: Vec<Uuid>,
    pub spares: Vec<Uuid>,
}

impl Fixture {
    pub fn session(&self) -> Credential {
        Credential::Session(self.me_token.clone())
    }

    pub fn api_key(&self) -> Credential {
        Credential::ApiKey(self.admin_key.clone())
    }
}

/// Creates the identities and their sessions in the Kratos double. `spares` of them
/// are kept out of every org; the shape (1,000 identities) does not change with it.
pub fn identities(kratos: &KratosDouble, spares: usize) -> anyhow::Result<People> {
    anyhow::ensure!(
        spares + 1 + MEMBERS_PER_ORG <= IDENTITIES,
        "at most {} connections: each needs a spare identity of its own",
        IDENTITIES - 1 - MEMBERS_PER_ORG
    );
    let mut ids = Vec::with_capacity(IDENTITIES);
    let mut me_token = String::new();
    for i in 0..IDENTITIES {
        let id = kratos.insert_identity(IdentitySeed {
            traits: json!({
                "email": format!("bench{i}@example.test"),
                "first_name": "Bench",
                "last_name": format!("User {i}"),
            }),
            ..IdentitySeed::default()
        });
        let session = kratos.create_session(id);
        if i == 0 {
            me_token = session.token;
        }
        ids.push(id);
    }
    let spares = ids.split_off(IDENTITIES - spares);
    let me = ids.remove(0);
    Ok(People {
        me,
        me_token,
        members: ids,
        spares,
    })
}

/// The creator and the other members of org `o`: "me" creates (so administers) the
/// first `MY_ORGS`; the others are spread over the member pool, 50 distinct per org.
fn members_of(people: &People, o: usize) -> (Uuid, Vec<Uuid>) {
    let pool = &people.members;
    let drawn = |k: usize| pool[(o * MEMBERS_PER_ORG + k) % pool.len()];
    if o < MY_ORGS {
        (people.me, (0..MEMBERS_PER_ORG - 1).map(drawn).collect())
    } else {
        let mut members: Vec<_> = (0..MEMBERS_PER_ORG).map(drawn).collect();
        let creator = members.remove(0);
        (creator, members)
    }
}

/// Which API requests create the orgs and memberships.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SeedVia {
    /// `POST /orgs` and `POST /orgs/{org}/members`, one request each (~10,000).
    Api,
    /// One `POST /admin/imports/clerk` holding the same orgs and memberships: same
    /// shape, a few seconds instead of tens (for `--quick` runs in CI).
    Import,
}

/// Seeds one Polis through its API and checks the caller sees the expected orgs.
pub async fn seed(
    polis: &Polis,
    people: &People,
    via: SeedVia,
    concurrency: usize,
) -> anyhow::Result<Fixture> {
    let started = Instant::now();
    let client = reqwest::Client::new();
    let orgs = match via {
        SeedVia::Api => one_request_each(&client, polis, people, concurrency).await?,
        SeedVia::Import => one_import(&client, polis, people).await?,
    };
    let fixture = Fixture {
        me: people.me,
        me_token: people.me_token.clone(),
        admin_key: polis.admin_key.clone(),
        my_orgs: orgs[..MY_ORGS].to_vec(),
        orgs,
        spares: people.spares.clone(),
    };
    check_my_memberships(&client, polis, &fixture).await?;
    eprintln!(
        "bench_api: seeded {ORGS} orgs × {MEMBERS_PER_ORG} members through the API ({via:?}) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(fixture)
}

/// `concurrency` orgs at a time; within an org, one member after another.
async fn one_request_each(
    client: &reqwest::Client,
    polis: &Polis,
    people: &People,
    concurrency: usize,
) -> anyhow::Result<Vec<Uuid>> {
    let mut orgs: Vec<(usize, Uuid)> = futures::stream::iter(0..ORGS)
        .map(|o| seed_org(client, polis, people, o))
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    orgs.sort_unstable();
    Ok(orgs.into_iter().map(|(_, id)| id).collect())
}

/// The same orgs and memberships as a Clerk export, identities mapped by `user_map`.
async fn one_import(
    client: &reqwest::Client,
    polis: &Polis,
    people: &People,
) -> anyhow::Result<Vec<Uuid>> {
    let clerk_user = |id: Uuid| format!("user_{}", id.simple());
    let mut organizations = Vec::with_capacity(ORGS);
    let mut memberships = Vec::with_capacity(ORGS * MEMBERS_PER_ORG);
    let mut user_map = serde_json::Map::new();
    for o in 0..ORGS {
        let (creator, members) = members_of(people, o);
        let org = format!("org_bench_{o}");
        organizations.push(json!({"id": org, "name": format!("Bench Org {o}"),
            "slug": format!("bench-org-{o}"), "created_by": clerk_user(creator)}));
        let roles = std::iter::once((creator, "org:admin"))
            .chain(members.into_iter().map(|m| (m, "org:member")));
        for (k, (identity, role)) in roles.enumerate() {
            user_map.insert(clerk_user(identity), json!(identity));
            memberships.push(
                json!({"id": format!("orgmem_bench_{o}_{k}"), "organization_id": org,
                "public_user_data": {"user_id": clerk_user(identity)}, "role": role}),
            );
        }
    }
    let document =
        json!({"organizations": organizations, "memberships": memberships, "user_map": user_map});
    let response = client
        .post(format!("{}/admin/imports/clerk", polis.base_url))
        .bearer_auth(&polis.admin_key)
        .json(&document)
        .send()
        .await
        .context("seeding: POST /admin/imports/clerk")?;
    let status = response.status();
    let report: Value = response.json().await?;
    let created = &report["summary"]["memberships"]["created"];
    anyhow::ensure!(
        status == reqwest::StatusCode::OK && created == &json!(ORGS * MEMBERS_PER_ORG),
        "seeding: the import answered {status}, memberships created {created}: {}",
        report["summary"]
    );
    report["orgs"]
        .as_array()
        .context("the import report lists no orgs")?
        .iter()
        .map(|org| {
            org["id"]
                .as_str()
                .and_then(|id| id.parse().ok())
                .context("an org of the import report has no id")
        })
        .collect()
}

async fn seed_org(
    client: &reqwest::Client,
    polis: &Polis,
    people: &People,
    o: usize,
) -> anyhow::Result<(usize, Uuid)> {
    let (creator, members) = members_of(people, o);
    let created = post(
        client,
        polis,
        "/orgs".to_owned(),
        json!({"name": format!("Bench Org {o}"), "slug": format!("bench-org-{o}"), "created_by": creator}),
    )
    .await?;
    let org: Uuid = created["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .context("POST /orgs answered without an id")?;
    for member in members {
        post(
            client,
            polis,
            format!("/orgs/{org}/members"),
            json!({ "identity_id": member }),
        )
        .await?;
    }
    Ok((o, org))
}

async fn post(
    client: &reqwest::Client,
    polis: &Polis,
    path: String,
    body: Value,
) -> anyhow::Result<Value> {
    let response = client
        .post(format!("{}{path}", polis.base_url))
        .bearer_auth(&polis.admin_key)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("seeding: POST {path}"))?;
    let status = response.status();
    let text = response.text().await?;
    anyhow::ensure!(
        status == reqwest::StatusCode::CREATED,
        "seeding: POST {path} answered {status}: {text}"
    );
    Ok(serde_json::from_str(&text)?)
}

/// The seeded shape as the caller sees it: exactly `MY_ORGS` memberships.
async fn check_my_memberships(
    client: &reqwest::Client,
    polis: &Polis,
    fixture: &Fixture,
) -> anyhow::Result<()> {
    let page: Value = client
        .get(format!("{}/me/memberships?page_size=100", polis.base_url))
        .header("X-Session-Token", &fixture.me_token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let seen = page["data"].as_array().map_or(0, Vec::len);
    anyhow::ensure!(
        seen == MY_ORGS,
        "seeding: the caller should be in {MY_ORGS} orgs, Polis lists {seen}"
    );
    Ok(())
}
