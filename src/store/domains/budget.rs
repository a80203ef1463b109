//! The verification budget of a domain name across orgs (`domain::domains::budget`),
//! locked for the length of the transaction that spends it.

use chrono::{DateTime, Utc};

use crate::domain::domains::budget::NameBudget;
use crate::store::db::{query, Conn};
use crate::store::StoreResult;

/// The name's budget as it stands at `now`, its row created if missing and locked (the
/// upsert takes the row lock on PostgreSQL; SQLite writers are serialized), so that two
/// orgs spending one name's budget at once are counted one after the other.
pub(super) async fn lock_budget(
    conn: &mut Conn,
    name: &str,
    now: DateTime<Utc>,
) -> StoreResult<NameBudget> {
    let (window_start, codes_sent, wrong_codes) = query(
        "INSERT INTO domain_name_budgets (name, window_start, codes_sent, wrong_codes) \
         VALUES ($1, $2, 0, 0) ON CONFLICT (name) DO UPDATE SET name = excluded.name \
         RETURNING window_start, codes_sent, wrong_codes",
    )
    .bind(name)
    .bind(now)
    .fetch_one::<(DateTime<Utc>, i32, i32)>(conn)
    .await?;
    Ok(NameBudget {
        window_start,
        codes_sent,
        wrong_codes,
    }
    .at(now))
}

/// Stores what the name has spent.
pub(super) async fn save_budget(
    conn: &mut Conn,
    name: &str,
    budget: NameBudget,
) -> StoreResult<()> {
    query(
        "UPDATE domain_name_budgets SET window_start = $2, codes_sent = $3, wrong_codes = $4 \
         WHERE name = $1",
    )
    .bind(name)
    .bind(budget.window_start)
    .bind(budget.codes_sent)
    .bind(budget.wrong_codes)
    .execute(conn)
    .await?;
    Ok(())
}
