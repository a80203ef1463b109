//! The catalog of measured workloads. Adding one is adding an entry to [`WORKLOADS`]:
//! a name, the requests one operation sends, optionally the pgbench script of its
//! raw-SQL floor, and the target from `docs/design.md` §8 / issue 10.

use hyper::{Method, StatusCode};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::json;
use uuid::Uuid;

use crate::seed::Fixture;

/// How a request authenticates.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A Kratos session token, sent as `X-Session-Token`.
    Session(String),
    /// A Polis API key, sent as `Authorization: Bearer`.
    ApiKey(String),
}

/// One HTTP request of an operation and the status that counts as success.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub path: String,
    pub credential: Credential,
    pub json_body: Option<String>,
    pub expect: StatusCode,
}

impl Request {
    fn get(path: String, credential: Credential) -> Request {
        Request {
            method: Method::GET,
            path,
            credential,
            json_body: None,
            expect: StatusCode::OK,
        }
    }
}

/// What a worker knows when it builds its next operation.
pub struct OpContext {
    /// 0-based; also pgbench's `:client_id` for the same connection slot.
    pub worker: usize,
    pub rng: StdRng,
}

/// Builds the requests of one operation (sent in order on one connection; the
/// operation's latency spans all of them).
pub type BuildOp = fn(&Fixture, &mut OpContext) -> Vec<Request>;

/// The raw-SQL floor: a pgbench script run with `-M prepared` at the same concurrency.
/// Its variables: `:me` (the caller's identity id, passed with `-D`), `:client_id`
/// (pgbench's), and the `bench_ids(kind, n, id)` table the benchmark writes after seeding.
pub struct FloorScript {
    pub file: &'static str,
    pub sql: &'static str,
}

/// The ratio to the floor (and optionally the p99) a workload should reach.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub min_floor_ratio: f64,
    pub max_p99_ms: Option<f64>,
}

pub struct Workload {
    /// Short name used in the table and by `--only`.
    pub name: &'static str,
    pub description: &'static str,
    /// `"rps"` for single requests, `"ops/s"` when an operation is several requests.
    pub unit: &'static str,
    pub build: BuildOp,
    pub floor: Option<FloorScript>,
    pub target: Option<Target>,
    /// Also measured against the SQLite Polis (reported vs the PostgreSQL Polis).
    pub on_sqlite: bool,
}

/// A ratio between two workloads' throughputs, e.g. session vs API-key reads.
pub struct Comparison {
    pub label: &'static str,
    pub numerator: &'static str,
    pub denominator: &'static str,
    pub min_ratio: f64,
}

pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "R1",
        description: "GET /orgs/{org}/members?page_size=50 (session)",
        unit: "rps",
        build: list_members_as_me,
        floor: Some(FloorScript {
            file: "r1.sql",
            sql: include_str!("../bench/r1.sql"),
        }),
        target: Some(Target {
            min_floor_ratio: 0.6,
            max_p99_ms: Some(15.0),
        }),
        on_sqlite: true,
    },
    Workload {
        name: "R1-key",
        description: "the same read with the admin API key",
        unit: "rps",
        build: list_members_with_api_key,
        floor: None,
        target: None,
        on_sqlite: false,
    },
    Workload {
        name: "R2",
        description: "GET /me/memberships (20 orgs)",
        unit: "rps",
        build: my_memberships,
        floor: Some(FloorScript {
            file: "r2.sql",
            sql: include_str!("../bench/r2.sql"),
        }),
        target: Some(Target {
            min_floor_ratio: 0.5,
            max_p99_ms: Some(10.0),
        }),
        on_sqlite: false,
    },
    Workload {
        name: "R3",
        description: "GET /orgs/{org}/members/{me}",
        unit: "rps",
        build: my_membership,
        floor: Some(FloorScript {
            file: "r3.sql",
            sql: include_str!("../bench/r3.sql"),
        }),
        target: Some(Target {
            min_floor_ratio: 0.5,
            max_p99_ms: Some(2.0),
        }),
        on_sqlite: true,
    },
    Workload {
        name: "W1",
        description: "add then remove a member (session, org admin)",
        unit: "ops/s",
        build: add_then_remove_member,
        floor: Some(FloorScript {
            file: "w1.sql",
            sql: include_str!("../bench/w1.sql"),
        }),
        target: Some(Target {
            min_floor_ratio: 0.3,
            max_p99_ms: None,
        }),
        on_sqlite: false,
    },
    // W1 again, against a floor that also writes each change's event (the outbox): the
    // two floors side by side are the database's cost of the outbox.
    Workload {
        name: "W1-outbox",
        description: "W1 against a floor that writes events too",
        unit: "ops/s",
        build: add_then_remove_member,
        floor: Some(FloorScript {
            file: "w1_events.sql",
            sql: include_str!("../bench/w1_events.sql"),
        }),
        target: None,
        on_sqlite: false,
    },
    Workload {
        name: "C1",
        description: "POST /authz/check, one permission (session)",
        unit: "rps",
        build: check_one,
        floor: Some(FloorScript {
            file: "c1.sql",
            sql: include_str!("../bench/c1.sql"),
        }),
        target: Some(Target {
            min_floor_ratio: 0.5,
            max_p99_ms: Some(2.0),
        }),
        on_sqlite: true,
    },
    Workload {
        name: "C1-key",
        description: "the same check asked by the admin API key about the caller",
        unit: "rps",
        build: check_one_with_api_key,
        floor: None,
        target: None,
        on_sqlite: false,
    },
    Workload {
        name: "C10",
        description: "POST /authz/check, 10 orgs in one request (session)",
        unit: "rps",
        build: check_ten,
        floor: Some(FloorScript {
            file: "c10.sql",
            sql: include_str!("../bench/c10.sql"),
        }),
        target: Some(Target {
            min_floor_ratio: 0.5,
            max_p99_ms: None,
        }),
        on_sqlite: false,
    },
    Workload {
        name: "T1",
        description: "POST /me/token for one org (ES256 signature)",
        unit: "rps",
        build: org_token,
        floor: None,
        target: None,
        on_sqlite: false,
    },
];

pub const COMPARISONS: &[Comparison] = &[Comparison {
    label: "session-authenticated read / API-key read (R1)",
    numerator: "R1",
    denominator: "R1-key",
    min_ratio: 0.9,
}];

fn any_of_my_orgs(fixture: &Fixture, ctx: &mut OpContext) -> Uuid {
    fixture.my_orgs[ctx.rng.gen_range(0..fixture.my_orgs.len())]
}

fn list_members_as_me(fixture: &Fixture, ctx: &mut OpContext) -> Vec<Request> {
    let org = any_of_my_orgs(fixture, ctx);
    vec![Request::get(
        format!("/orgs/{org}/members?page_size=50"),
        fixture.session(),
    )]
}

fn list_members_with_api_key(fixture: &Fixture, ctx: &mut OpContext) -> Vec<Request> {
    let org = any_of_my_orgs(fixture, ctx);
    vec![Request::get(
        format!("/orgs/{org}/members?page_size=50"),
        fixture.api_key(),
    )]
}

fn my_memberships(fixture: &Fixture, _: &mut OpContext) -> Vec<Request> {
    vec![Request::get(
        "/me/memberships".to_owned(),
        fixture.session(),
    )]
}

fn my_membership(fixture: &Fixture, ctx: &mut OpContext) -> Vec<Request> {
    let org = any_of_my_orgs(fixture, ctx);
    vec![Request::get(
        format!("/orgs/{org}/members/{}", fixture.me),
        fixture.session(),
    )]
}

/// Each worker adds and removes its own spare identity (never a member anywhere
/// else), so concurrent operations never collide on one membership.
fn add_then_remove_member(fixture: &Fixture, ctx: &mut OpContext) -> Vec<Request> {
    let org = any_of_my_orgs(fixture, ctx);
    let spare = fixture.spares[ctx.worker];
    vec![
        Request {
            method: Method::POST,
            path: format!("/orgs/{org}/members"),
            credential: fixture.session(),
            json_body: Some(json!({ "identity_id": spare }).to_string()),
            expect: StatusCode::CREATED,
        },
        Request {
            method: Method::DELETE,
            path: format!("/orgs/{org}/members/{spare}"),
            credential: fixture.session(),
            json_body: None,
            expect: StatusCode::NO_CONTENT,
        },
    ]
}

fn post(path: &str, credential: Credential, body: serde_json::Value) -> Request {
    Request {
        method: Method::POST,
        path: path.to_owned(),
        credential,
        json_body: Some(body.to_string()),
        expect: StatusCode::OK,
    }
}

fn check_one(fixture: &Fixture, ctx: &mut OpContext) -> Vec<Request> {
    let org = any_of_my_orgs(fixture, ctx);
    let checks = json!({ "checks": [{ "org": org, "permission": "org:sys_memberships:manage" }] });
    vec![post("/authz/check", fixture.session(), checks)]
}

fn check_one_with_api_key(fixture: &Fixture, ctx: &mut OpContext) -> Vec<Request> {
    let org = any_of_my_orgs(fixture, ctx);
    let check = json!({ "org": org, "identity_id": fixture.me, "permission": "org:sys_memberships:manage" });
    vec![post(
        "/authz/check",
        fixture.api_key(),
        json!({ "checks": [check] }),
    )]
}

/// Ten consecutive orgs of the caller's (always ten distinct ones, as c10.sql reads).
fn check_ten(fixture: &Fixture, ctx: &mut OpContext) -> Vec<Request> {
    let first = ctx.rng.gen_range(0..=fixture.my_orgs.len() - 10);
    let checks: Vec<_> = fixture.my_orgs[first..first + 10]
        .iter()
        .map(|org| json!({ "org": org, "permission": "org:sys_memberships:manage" }))
        .collect();
    vec![post(
        "/authz/check",
        fixture.session(),
        json!({ "checks": checks }),
    )]
}

fn org_token(fixture: &Fixture, ctx: &mut OpContext) -> Vec<Request> {
    let org = any_of_my_orgs(fixture, ctx);
    vec![post("/me/token", fixture.session(), json!({ "org": org }))]
}

/// The workloads `--only` names (all when empty), in catalog order.
pub fn selected(only: &[String]) -> anyhow::Result<Vec<&'static Workload>> {
    for name in only {
        if !WORKLOADS.iter().any(|w| w.name.eq_ignore_ascii_case(name)) {
            let known: Vec<_> = WORKLOADS.iter().map(|w| w.name).collect();
            anyhow::bail!("unknown workload {name}; known: {}", known.join(", "));
        }
    }
    Ok(WORKLOADS
        .iter()
        .filter(|w| only.is_empty() || only.iter().any(|n| w.name.eq_ignore_ascii_case(n)))
        .collect())
}
