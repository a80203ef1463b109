//! A domain's enrollment off the request path (`store::enrollment::jobs` and the worker):
//! runs go batch by batch, a request made during a run is not lost, a worker whose lease
//! ran out is stopped, and a run reads the mode that holds when it runs.

use chrono::{DateTime, Duration, Utc};
use polis::clock::Clock;
use polis::store::{DomainEnrollmentJob, Enrolled, EnrollmentProgress};
use uuid::Uuid;

use super::{add_domain, enrollment_settled, exec, org, verify};
use crate::harness::{Backend, RawConn, TestApp};
use crate::on_both_backends;

const SUGGESTIONS: &str = "SELECT COUNT(*) FROM org_suggestions WHERE domain_id = $1";

/// Records `n` identities with a verified address at `domain`, as if each had been seen.
async fn record_identities(app: &TestApp, domain: &str, n: usize) {
    let mut conn = app.db.raw().await;
    conn.run(&[("BEGIN", None)]).await;
    for i in 0..n {
        exec(
            &mut conn,
            "INSERT INTO identity_verified_addresses (identity_id, address, domain, seen_at) \
             VALUES ($1, $2, $3, CURRENT_TIMESTAMP)",
            Uuid::now_v7(),
            &[&format!("person{i}@{domain}"), domain],
        )
        .await;
    }
    conn.run(&[("COMMIT", None)]).await;
}

/// A verified domain (its row changed with SQL, no enrollment asked for) whose request
/// is held by `worker` until `until`, so the app's own worker leaves it alone.
async fn held_request(app: &TestApp, domain: Uuid, worker: Uuid, until: DateTime<Utc>) {
    let mut conn = app.db.raw().await;
    conn.run(&[(
        "UPDATE org_domains SET verified_at = created_at, verification_strategy = 'admin' \
         WHERE id = $1",
        Some(domain),
    )])
    .await;
    let sql = "INSERT INTO domain_enrollments (domain_id, generation, requested_at, leased_by, \
               leased_until) VALUES ($1, 1, $3, $2, $3)";
    match &mut conn {
        RawConn::Sqlite(c) => {
            let q = sqlx::query(sql).bind(domain).bind(worker).bind(until);
            q.execute(&mut *c).await.expect(sql);
        }
        RawConn::Postgres(c) => {
            let q = sqlx::query(sql).bind(domain).bind(worker).bind(until);
            q.execute(&mut *c).await.expect(sql);
        }
    }
}

/// More identities than one batch holds are all enrolled once the domain is verified.
async fn a_big_domain_enrolls_batch_by_batch(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = org(&app, &app.user("alice"), "Acme").await;
    let domain = add_domain(&app, &acme, "acme.com", "automatic_suggestion", false).await;
    record_identities(&app, "acme.com", 1_100).await;
    verify(&app, domain).await;
    let mut conn = app.db.raw().await;
    assert_eq!(conn.count(SUGGESTIONS, Some(domain)).await, 1_100);
}

/// A worker whose lease ran out finds its batch refused once another has claimed the
/// request; a request made again during the new holder's run survives the run and is
/// run again, enrolling whoever was recorded meanwhile.
async fn leases_and_repeated_requests(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = org(&app, &app.user("alice"), "Acme").await;
    let domain = add_domain(&app, &acme, "acme.com", "automatic_suggestion", false).await;
    record_identities(&app, "acme.com", 3).await;
    let (first, second, t0) = (Uuid::now_v7(), Uuid::now_v7(), app.clock.now());
    held_request(&app, domain, first, t0 + Duration::seconds(60)).await;
    let store = app.store();
    let early = t0 + Duration::seconds(30);
    let none = store.claim_domain_enrollment(second, early, early).await;
    assert_eq!(none.expect("claim"), None, "held until its lease runs out");

    let late = t0 + Duration::seconds(61);
    let until = late + Duration::seconds(60);
    let claimed = store.claim_domain_enrollment(second, late, until).await;
    let job = claimed.expect("claim").expect("the lapsed request");
    assert_eq!(job.domain_id, domain);
    let stale = store.enroll_domain_batch(&job, first, None, "org:member", late, until);
    assert_eq!(stale.await.expect("batch"), EnrollmentProgress::LeaseLost);
    let mut conn = app.db.raw().await;
    assert_eq!(conn.count(SUGGESTIONS, Some(domain)).await, 0);

    rerun_when_asked_again(&app, &job, second, late, domain).await;
}

/// The holder runs the request to the end while it is asked for again: settling keeps
/// it, and the app's worker runs it again for the identity recorded meanwhile.
async fn rerun_when_asked_again(
    app: &TestApp,
    job: &DomainEnrollmentJob,
    holder: Uuid,
    now: DateTime<Utc>,
    domain: Uuid,
) {
    let until = now + Duration::seconds(60);
    let run = app
        .store()
        .enroll_domain_batch(job, holder, None, "org:member", now, until);
    let enrolled = Enrolled {
        invitations: 0,
        suggestions: 3,
    };
    assert_eq!(
        run.await.expect("batch"),
        EnrollmentProgress::Done(enrolled)
    );
    record_identities(app, "acme.com", 1).await;
    let mut conn = app.db.raw().await;
    conn.run(&[(
        "UPDATE domain_enrollments SET generation = generation + 1 WHERE domain_id = $1",
        Some(domain),
    )])
    .await;
    let settled = app
        .store()
        .settle_domain_enrollment(job, holder, true)
        .await;
    settled.expect("settle");
    app.state.enrollment.domains_changed().await;
    enrollment_settled(app).await;
    assert_eq!(conn.count(SUGGESTIONS, Some(domain)).await, 4);
}

/// A run reads the mode when it runs: a domain turned manual after the request enrolls
/// nobody.
async fn a_run_reads_the_current_mode(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = org(&app, &app.user("alice"), "Acme").await;
    let domain = add_domain(&app, &acme, "acme.com", "automatic_suggestion", false).await;
    record_identities(&app, "acme.com", 2).await;
    let (worker, now) = (Uuid::now_v7(), app.clock.now());
    let until = now + Duration::seconds(60);
    held_request(&app, domain, worker, until).await;
    let mut conn = app.db.raw().await;
    conn.run(&[(
        "UPDATE org_domains SET enrollment_mode = 'manual_invitation' WHERE id = $1",
        Some(domain),
    )])
    .await;
    let job = app
        .store()
        .claim_domain_enrollment(worker, until, until)
        .await;
    let job = job.expect("claim").expect("its own request, lease run out");
    let run = app
        .store()
        .enroll_domain_batch(&job, worker, None, "org:member", now, until);
    assert_eq!(
        run.await.expect("batch"),
        EnrollmentProgress::Done(Enrolled::default())
    );
    assert_eq!(conn.count(SUGGESTIONS, Some(domain)).await, 0);
}

on_both_backends!(
    a_big_domain_enrolls_batch_by_batch,
    leases_and_repeated_requests,
    a_run_reads_the_current_mode,
);
