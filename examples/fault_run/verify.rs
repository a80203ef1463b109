//! The checks after the run, made on the database itself.

use std::collections::{BTreeMap, HashSet};

use sqlx::postgres::PgPool;

use crate::drive::Ledger;
use crate::Faults;

const MANAGE: &str = "org:sys_memberships:manage";

pub struct Report {
    /// (what, status) → how many answers.
    answers: BTreeMap<(&'static str, u16), usize>,
    acknowledged: usize,
    events: i64,
    memberships: i64,
    over_cap: i64,
    without_admin: i64,
    /// Acknowledged writes whose request left no event (lost, or never recorded).
    lost: Vec<String>,
    /// Memberships in the table that the events do not account for, and the reverse.
    unexplained: usize,
    /// 5xx answers other than 503s while PostgreSQL was restarting.
    bad_errors: Vec<String>,
    faults: Faults,
}

pub async fn check(url: &str, ledger: &Ledger, faults: &Faults) -> anyhow::Result<Report> {
    let pool = PgPool::connect(url).await?;
    let over_cap: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM orgs o WHERE o.max_allowed_memberships > 0 AND \
         (SELECT COUNT(*) FROM org_membership m WHERE m.org_id = o.id) + \
         (SELECT COUNT(*) FROM invitations i WHERE i.org_id = o.id AND i.status = 'pending') \
         > o.max_allowed_memberships",
    )
    .fetch_one(&pool)
    .await?;
    let without_admin: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM orgs o WHERE NOT EXISTS (SELECT 1 FROM org_membership m \
         JOIN role_permissions rp ON rp.role_key = m.role AND rp.permission = $1 \
         WHERE m.org_id = o.id)",
    )
    .bind(MANAGE)
    .fetch_one(&pool)
    .await?;
    let recorded: HashSet<String> =
        sqlx::query_scalar("SELECT DISTINCT request_id FROM events WHERE request_id IS NOT NULL")
            .fetch_all(&pool)
            .await?
            .into_iter()
            .collect();
    let acknowledged: Vec<_> = ledger
        .answers
        .iter()
        .filter(|a| (200..300).contains(&a.status))
        .collect();
    let lost = acknowledged
        .iter()
        .filter(|a| !recorded.contains(&a.request_id))
        .map(|a| format!("{} {}", a.what, a.request_id))
        .collect();
    let unexplained = replay_memberships(&pool).await?;
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
        .fetch_one(&pool)
        .await?;
    let memberships: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM org_membership")
        .fetch_one(&pool)
        .await?;
    let mut answers = BTreeMap::new();
    for answer in &ledger.answers {
        *answers.entry((answer.what, answer.status)).or_insert(0) += 1;
    }
    let pg_down = faults.pg_down;
    let bad_errors = ledger
        .answers
        .iter()
        .filter(|a| a.status >= 500)
        .filter(|a| {
            let during_restart = pg_down.is_some_and(|(from, to)| a.at >= from && a.at <= to);
            !(a.status == 503 && during_restart)
        })
        .map(|a| format!("{} {} {:?} at {:?}", a.what, a.status, a.code, a.at))
        .collect();
    Ok(Report {
        answers,
        acknowledged: acknowledged.len(),
        events,
        memberships,
        over_cap,
        without_admin,
        lost,
        unexplained,
        bad_errors,
        faults: faults.clone(),
    })
}

/// Replays the membership events in order and compares the result with the table:
/// every membership has the event that made it, and every deletion its event.
async fn replay_memberships(pool: &PgPool) -> anyhow::Result<usize> {
    let events: Vec<(String, String)> = sqlx::query_as(
        "SELECT type, target_id FROM events WHERE type IN \
         ('organizationMembership.created', 'organizationMembership.deleted') ORDER BY seq",
    )
    .fetch_all(pool)
    .await?;
    let mut replayed = HashSet::new();
    for (kind, target) in events {
        if kind.ends_with("created") {
            replayed.insert(target);
        } else {
            replayed.remove(&target);
        }
    }
    let table: HashSet<String> =
        sqlx::query_scalar("SELECT org_id::text || ':' || identity_id::text FROM org_membership")
            .fetch_all(pool)
            .await?
            .into_iter()
            .collect();
    Ok(replayed.symmetric_difference(&table).count())
}

impl Report {
    pub fn passed(&self) -> bool {
        self.over_cap == 0
            && self.without_admin == 0
            && self.lost.is_empty()
            && self.unexplained == 0
            && self.bad_errors.is_empty()
    }

    pub fn print(&self) {
        println!("\nanswers (status 0: no answer, e.g. from the killed replica):");
        println!("| request | status | count |\n|---|---|---|");
        for ((what, status), count) in &self.answers {
            println!("| {what} | {status} | {count} |");
        }
        println!("\nfaults: {:?}", self.faults);
        println!("acknowledged writes (2xx): {}", self.acknowledged);
        println!(
            "events recorded: {}; memberships at the end: {}",
            self.events, self.memberships
        );
        let verdict = |ok: bool| if ok { "ok" } else { "FAILED" };
        println!(
            "{}: orgs over their cap: {}",
            verdict(self.over_cap == 0),
            self.over_cap
        );
        println!(
            "{}: orgs without a member who can manage members: {}",
            verdict(self.without_admin == 0),
            self.without_admin
        );
        println!(
            "{}: acknowledged writes without their event: {} {:?}",
            verdict(self.lost.is_empty()),
            self.lost.len(),
            &self.lost[..self.lost.len().min(5)]
        );
        println!(
            "{}: memberships the events do not account for: {}",
            verdict(self.unexplained == 0),
            self.unexplained
        );
        println!(
            "{}: 5xx other than 503 during the PostgreSQL restart: {} {:?}",
            verdict(self.bad_errors.is_empty()),
            self.bad_errors.len(),
            &self.bad_errors[..self.bad_errors.len().min(5)]
        );
    }
}
