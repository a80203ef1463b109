//! Two orgs entering their codes for one name at the same moment (PostgreSQL, where the
//! two transactions really overlap): exactly one verifies it.

use reqwest::StatusCode;

use super::{add_domain, app_with_email, attempt, send_code};
use crate::harness::{Auth, Backend};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_orgs_verifying_one_name_at_once_one_wins() {
    let app = app_with_email(Backend::Postgres).await;
    let (alice, bob) = (app.user("alice"), app.user("bob"));
    let acme = app.create_org(&alice, "Acme").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rival = app.create_org(&bob, "Rival").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for round in 0..5 {
        let name = format!("race{round}.com");
        let mine = add_domain(&app, Auth::Bearer(&alice.token), &acme, &name).await;
        let theirs = add_domain(&app, Auth::Bearer(&bob.token), &rival, &name).await;
        let (mine, theirs) = (mine["id"].as_str().unwrap(), theirs["id"].as_str().unwrap());
        let a = format!("a@{name}");
        let b = format!("b@{name}");
        let my_code = send_code(&app, Auth::Bearer(&alice.token), &acme, mine, &a).await;
        let their_code = send_code(&app, Auth::Bearer(&bob.token), &rival, theirs, &b).await;
        let (first, second) = tokio::join!(
            attempt(&app, Auth::Bearer(&alice.token), &acme, mine, &my_code),
            attempt(&app, Auth::Bearer(&bob.token), &rival, theirs, &their_code),
        );
        let statuses = [first.status, second.status];
        assert_eq!(
            statuses.iter().filter(|s| **s == StatusCode::OK).count(),
            1,
            "{} / {}",
            first.body,
            second.body
        );
        let loser = if first.status == StatusCode::OK {
            &second
        } else {
            &first
        };
        loser.assert_problem(StatusCode::CONFLICT, "domain_taken");
        let mut raw = app.db.raw().await;
        let verified = raw
            .count(
                &format!(
                    "SELECT COUNT(*) FROM org_domains WHERE name = '{name}' \
                     AND verified_at IS NOT NULL"
                ),
                None,
            )
            .await;
        assert_eq!(verified, 1);
    }
}
