//! `polis reconcile identities`: memberships of identities Kratos deleted.

use std::collections::BTreeSet;

use polis::reconcile::{reconcile_identities, ReconcileError};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::enrollment;
use crate::harness::{Auth, Backend, TestApp, User};
use crate::on_both_backends;

async fn org_of(app: &TestApp, owner: &User, name: &str) -> String {
    app.create_org(owner, name).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn run(app: &TestApp) -> Result<polis::reconcile::ReconcileReport, ReconcileError> {
    reconcile_identities(app.store(), app.state.auth.kratos(), app.clock.as_ref()).await
}

async fn members(app: &TestApp, org: &str) -> Vec<String> {
    let reply = app
        .get(
            &format!("/orgs/{org}/members"),
            Auth::Bearer(&app.admin_key),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["identity_id"].as_str().unwrap().to_owned())
        .collect()
}

/// Bob (a plain member of A, an admin of C beside Erin) and Dave (B's only admin) are
/// deleted in Kratos: Bob's memberships go, with events by the system; Dave's stays,
/// reported, so that B keeps an admin.
async fn departed_identities_leave_their_orgs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let [alice, bob, carol, dave, erin] =
        ["alice", "bob", "carol", "dave", "erin"].map(|n| app.user(n));
    let a = org_of(&app, &alice, "A").await;
    app.add_member(&alice, &a, &bob, "org:member").await;
    app.add_member(&alice, &a, &carol, "org:member").await;
    let b = org_of(&app, &dave, "B").await;
    let c = org_of(&app, &erin, "C").await;
    app.add_member(&erin, &c, &bob, "org:admin").await;
    app.kratos.delete_identity(bob.id);
    app.kratos.delete_identity(dave.id);

    let report = run(&app).await.expect("a reconciliation");
    assert_eq!(report.checked, 5);
    let departed: BTreeSet<Uuid> = report.departed.iter().copied().collect();
    assert_eq!(departed, BTreeSet::from([bob.id, dave.id]));
    assert_eq!(report.removed, 2);
    assert_eq!(report.stranded, vec![(b.parse::<Uuid>().unwrap(), dave.id)]);
    let expected = [
        (&a, vec![alice.id, carol.id]),
        (&b, vec![dave.id]),
        (&c, vec![erin.id]),
    ];
    for (org, left) in expected {
        let left: BTreeSet<String> = left.iter().map(Uuid::to_string).collect();
        let now: BTreeSet<String> = members(&app, org).await.into_iter().collect();
        assert_eq!(now, left, "members of {org}");
    }

    removals_are_the_systems(&app).await;

    let again = run(&app).await.expect("a second pass");
    assert_eq!(again.removed, 0, "nothing left to remove");
    assert_eq!(again.stranded.len(), 1, "B still needs a person to decide");
}

async fn removals_are_the_systems(app: &TestApp) {
    let mut raw = app.db.raw().await;
    let removals: Vec<_> = raw
        .events()
        .await
        .into_iter()
        .filter(|e| e.kind == "organizationMembership.deleted")
        .collect();
    assert_eq!(removals.len(), 2, "{removals:#?}");
    assert!(removals
        .iter()
        .all(|e| e.actor_type == "system" && e.actor_id.is_none()));
}

/// Kratos that knows none of a whole batch is more likely the wrong Kratos than a mass
/// deletion: nothing is removed. Kratos unreachable: nothing either.
async fn a_kratos_that_knows_nobody_removes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.user("owner");
    let org = org_of(&app, &owner, "Big").await;
    let people: Vec<User> = (0..11).map(|i| app.user(&format!("p{i}"))).collect();
    for person in &people {
        app.add_member(&owner, &org, person, "org:member").await;
    }
    app.kratos.delete_identity(owner.id);
    for person in &people {
        app.kratos.delete_identity(person.id);
    }
    let refused = run(&app).await;
    assert!(
        matches!(refused, Err(ReconcileError::NoneKnown(12))),
        "{refused:?}"
    );
    assert_eq!(members(&app, &org).await.len(), 12);

    app.kratos.fail_with_status(Some(500));
    assert!(matches!(run(&app).await, Err(ReconcileError::Kratos(_))));
    app.kratos.fail_with_status(None);
    assert_eq!(members(&app, &org).await.len(), 12);
}

/// The command prints its report as JSON.
async fn the_command_prints_its_report(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, bob) = (app.user("alice"), app.user("bob"));
    let org = org_of(&app, &alice, "A").await;
    app.add_member(&alice, &org, &bob, "org:member").await;
    app.kratos.delete_identity(bob.id);
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_polis"))
        .args(["reconcile", "identities"])
        .env("DATABASE_URL", app.db.process_url())
        .env("KRATOS_PUBLIC_URL", app.kratos.public_url())
        .env("KRATOS_ADMIN_URL", app.kratos.admin_url())
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("polis reconcile identities");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["removed"], 1, "{report}");
    assert_eq!(report["departed"][0], bob.id.to_string());
    assert_eq!(members(&app, &org).await, vec![alice.id.to_string()]);
}

/// Dave's address and suggestion remain; Bob's request is withdrawn, with its event.
async fn only_dave_is_left(app: &TestApp) {
    let mut conn = app.db.raw().await;
    let counts = [
        ("SELECT COUNT(*) FROM identity_verified_addresses", 1),
        (
            "SELECT COUNT(*) FROM org_suggestions WHERE status <> 'withdrawn'",
            1,
        ),
        (
            "SELECT COUNT(*) FROM membership_requests WHERE status = 'withdrawn'",
            1,
        ),
    ];
    for (sql, expected) in counts {
        assert_eq!(conn.count(sql, None).await, expected, "{sql}");
    }
    let withdrawn: Vec<_> = conn
        .events()
        .await
        .into_iter()
        .filter(|e| e.kind == "organizationMembershipRequest.withdrawn")
        .collect();
    assert_eq!(withdrawn.len(), 1);
    assert_eq!(withdrawn[0].data["status"], "withdrawn");
}

/// Bob asked to join Acme through its domain, Carol and Dave were only suggested it; Bob
/// and Carol are deleted in Kratos. Their addresses are forgotten, their suggestions
/// withdrawn, Bob's request withdrawn with its event; Dave keeps his; a second pass
/// finds nothing of them left.
async fn departed_identities_leave_no_enrollment_behind(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let acme = enrollment::org(&app, &alice, "Acme").await;
    enrollment::add_domain(&app, &acme, "acme.com", "automatic_suggestion", true).await;
    let bob = enrollment::person(&app, "Bob", "bob@acme.com");
    let carol = enrollment::person(&app, "Carol", "carol@acme.com");
    let suggested = enrollment::data(&app, "/me/suggestions", &bob).await;
    let accept = format!(
        "/me/suggestions/{}/accept",
        suggested[0]["id"].as_str().unwrap()
    );
    let asked = app.post(&accept, Auth::Bearer(&bob.token), json!({})).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    for suggested in [&carol, &enrollment::person(&app, "Dave", "dave@acme.com")] {
        assert_eq!(
            enrollment::data(&app, "/me/suggestions", suggested)
                .await
                .len(),
            1
        );
    }
    app.kratos.delete_identity(bob.id);
    app.kratos.delete_identity(carol.id);

    let report = run(&app).await.expect("a reconciliation");
    let departed: BTreeSet<Uuid> = report.departed.iter().copied().collect();
    assert_eq!(departed, BTreeSet::from([bob.id, carol.id]));
    assert_eq!(report.requests_withdrawn, 1);
    only_dave_is_left(&app).await;
    let again = run(&app).await.expect("a second reconciliation");
    assert!(again.departed.is_empty(), "{:?}", again.departed);
}

on_both_backends!(
    departed_identities_leave_no_enrollment_behind,
    departed_identities_leave_their_orgs,
    a_kratos_that_knows_nobody_removes_nothing,
    the_command_prints_its_report,
);
