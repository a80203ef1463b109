//! Several `polis serve` processes on one database, as production runs them.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use polis::store::{AccessStore, MemberStore, RolePatch, SqlStore};

use crate::harness::{as_admin, Auth, Backend, Reply, TestApp};
use crate::on_both_backends;

/// A `polis serve` process on the test app's database and Kratos double.
pub struct Replica {
    pub base: String,
    child: tokio::process::Child,
}

impl Replica {
    pub async fn start(app: &TestApp) -> Replica {
        Self::start_with(app, &[]).await
    }

    /// [`Replica::start`] with more environment variables.
    pub async fn start_with(app: &TestApp, env: &[(&str, &str)]) -> Replica {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_polis"))
            .arg("serve")
            .env("DATABASE_URL", app.db.process_url())
            .env("POLIS_LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("POLIS_METRICS_LISTEN_ADDR", "")
            .env("KRATOS_PUBLIC_URL", app.kratos.public_url())
            .env("KRATOS_ADMIN_URL", app.kratos.admin_url())
            .env("POLIS_DIRECT_ADD", "managers")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .kill_on_drop(true)
            .spawn()
            .expect("start polis");
        let replica = Replica {
            base: format!("http://127.0.0.1:{port}"),
            child,
        };
        replica.wait_ready().await;
        replica
    }

    async fn wait_ready(&self) {
        let http = reqwest::Client::new();
        for _ in 0..100 {
            let ready = http.get(format!("{}/health/ready", self.base)).send().await;
            if ready.is_ok_and(|r| r.status() == StatusCode::OK) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("polis at {} was not ready after 10 s", self.base);
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        let response = reqwest::Client::new()
            .delete(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        Reply::from(response).await
    }
}

impl Replica {
    /// Kills the process at once (SIGKILL): no shutdown, leases left held.
    pub fn kill(&mut self) {
        let _ = self.child.start_kill();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// The review's race, across two processes: admins A, B and C; while the org row is
/// held, B removes A through one replica, then A removes C through the other. B's
/// write takes the lock first; A's write, once it has the lock, finds A gone and is
/// refused, where it used to answer 204 and remove C.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_refuse_a_caller_removed_by_another() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let (a, b, c) = (app.user("a"), app.user("b"), app.user("c"));
    let org = app.create_org(&a, "Acme").await;
    let id = org["id"].as_str().unwrap();
    let org_id: Uuid = id.parse().unwrap();
    for admin in [&b, &c] {
        app.add_member(&a, id, admin, "org:admin").await;
    }
    let (one, two) = (Replica::start(&app).await, Replica::start(&app).await);

    let mut raw = app.db.raw().await;
    raw.run(&[
        ("BEGIN", None),
        ("SELECT 1 FROM orgs WHERE id = $1 FOR UPDATE", Some(org_id)),
    ])
    .await;
    let remove_a = format!("/orgs/{id}/members/{}", a.id);
    let b_removes_a = one.delete(&remove_a, &b.token);
    let a_removes_c = async {
        // B's write queues for the row lock first.
        tokio::time::sleep(Duration::from_millis(300)).await;
        two.delete(&format!("/orgs/{id}/members/{}", c.id), &a.token)
            .await
    };
    let release = async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        raw.run(&[("ROLLBACK", None)]).await;
    };
    let (first, second, ()) = tokio::join!(b_removes_a, a_removes_c, release);
    assert_eq!(first.status, StatusCode::NO_CONTENT, "{}", first.body);
    second.assert_problem(StatusCode::NOT_FOUND, "org_not_found");
    let c_still = app
        .get(
            &format!("/orgs/{id}/members/{}", c.id),
            Auth::Bearer(&b.token),
        )
        .await;
    assert_eq!(c_still.body["role"], "org:admin", "{}", c_still.body);
    let listed = app
        .get(&format!("/orgs/{id}/members"), Auth::Bearer(&b.token))
        .await;
    let ids: Vec<&str> = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["identity_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{}", json!(ids));
}

/// Each replica keeps the role catalog in memory; a role edited through another replica
/// shows on the next read here, and a membership removed there is gone here at once.
async fn replicas_see_role_and_membership_changes_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Acme").await;
    let org_id: Uuid = org["id"].as_str().unwrap().parse().unwrap();
    let other = match backend {
        Backend::Sqlite => SqlStore::connect_sqlite(&app.db.process_url()).await,
        Backend::Postgres => SqlStore::connect_postgres(&app.db.process_url()).await,
    }
    .expect("a second store on the same database");
    let org_ref = polis::domain::org::OrgRef::Id(org_id);
    let before = other.org_access(&org_ref, Some(alice.id)).await.unwrap();
    let permissions = before.unwrap().1.unwrap().permissions;
    assert!(permissions.contains(&"org:sys_billing:read".to_owned()));

    let trimmed: Vec<String> = permissions
        .iter()
        .filter(|p| !p.starts_with("org:sys_billing"))
        .cloned()
        .collect();
    let patch = RolePatch {
        permissions: Some(trimmed.clone()),
        ..RolePatch::default()
    };
    app.store()
        .update_role("org:admin", patch, as_admin())
        .await
        .unwrap();
    let after = other.org_access(&org_ref, Some(alice.id)).await.unwrap();
    assert_eq!(after.unwrap().1.unwrap().permissions, trimmed);

    let bob = app.user("bob");
    app.add_member(&alice, &org_id.to_string(), &bob, "org:member")
        .await;
    assert!(other
        .find_membership(org_id, bob.id)
        .await
        .unwrap()
        .is_some());
    app.store()
        .remove_member(org_id, bob.id, as_admin())
        .await
        .unwrap();
    assert!(other
        .find_membership(org_id, bob.id)
        .await
        .unwrap()
        .is_none());
    let gone = other.org_access(&org_ref, Some(bob.id)).await.unwrap();
    assert!(gone.unwrap().1.is_none());
}

on_both_backends!(replicas_see_role_and_membership_changes_at_once);
