//! What Polis holds of identities Kratos deleted. Kratos sends no event when an identity
//! is deleted, so its memberships would linger (`identity: null` in lists), and so would
//! its recorded addresses, suggestions and requests. The reconciler pages through the
//! identities Polis knows, asks Kratos about 500 at a time, and for those it no longer
//! has, as the `system` actor: removes their memberships, each with its
//! `organizationMembership.deleted` event, and forgets their enrollment (addresses
//! deleted, suggestions and pending requests withdrawn, each request with its
//! `organizationMembershipRequest.withdrawn` event). It never removes an org's last member
//! who can manage members: such orgs are reported instead, for a person to decide.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use uuid::Uuid;

use crate::auth::kratos::KratosClient;
use crate::clock::Clock;
use crate::store::{Change, PageRequest, Store, StoreError};

/// Identities asked about per Kratos call (one page of `GET /admin/identities?ids=…`).
const BATCH: u32 = 500;

#[derive(Debug, Default, Serialize)]
pub struct ReconcileReport {
    /// Member identities looked up in Kratos.
    pub checked: usize,
    /// Of those, the ones Kratos no longer has.
    pub departed: Vec<Uuid>,
    /// Memberships removed.
    pub removed: usize,
    /// Pending membership requests withdrawn.
    pub requests_withdrawn: usize,
    /// `(org, identity)`: memberships kept because the identity is the org's last
    /// member who can manage members.
    pub stranded: Vec<(Uuid, Uuid)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Kratos(#[from] crate::auth::kratos::KratosUnavailable),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Kratos answered, but knew none of a whole batch of identities: more
    /// likely the wrong Kratos (or an empty one) than that many deletions. Nothing of
    /// that batch was removed.
    #[error(
        "Kratos knows none of {0} identities in one batch; refusing to remove their \
         memberships (is KRATOS_ADMIN_URL the Kratos these identities live in?)"
    )]
    NoneKnown(usize),
}

/// One pass over every identity Polis knows.
pub async fn reconcile_identities(
    store: &dyn Store,
    kratos: &KratosClient,
    clock: &dyn Clock,
) -> Result<ReconcileReport, ReconcileError> {
    let mut report = ReconcileReport::default();
    let mut after = None;
    loop {
        let ids = store.known_identities(after, BATCH).await?;
        let Some(last) = ids.last() else {
            return Ok(report);
        };
        after = Some(*last);
        let known: std::collections::HashSet<Uuid> = kratos
            .identities(&ids)
            .await?
            .into_iter()
            .map(|identity| identity.id)
            .collect();
        // A handful of members all deleted at once is plausible; a whole batch is not.
        if known.is_empty() && ids.len() > 10 {
            return Err(ReconcileError::NoneKnown(ids.len()));
        }
        report.checked += ids.len();
        for identity in ids.into_iter().filter(|id| !known.contains(id)) {
            remove_departed(store, identity, clock, &mut report).await?;
            let change = Change::by_system(clock.now());
            report.requests_withdrawn += store.forget_identity(identity, change).await?;
            report.departed.push(identity);
        }
    }
}

/// Removes every membership of an identity Kratos no longer has, except where it is
/// its org's last manager.
async fn remove_departed(
    store: &dyn Store,
    identity: Uuid,
    clock: &dyn Clock,
    report: &mut ReconcileReport,
) -> Result<(), StoreError> {
    let mut after = None;
    loop {
        let page = PageRequest {
            limit: BATCH,
            after,
        };
        let memberships = store.list_memberships_of(identity, page).await?;
        let Some((last, _)) = memberships.last() else {
            return Ok(());
        };
        after = Some(last.org_id);
        for (membership, _) in memberships {
            let org = membership.org_id;
            match store
                .remove_member(org, identity, Change::by_system(clock.now()))
                .await
            {
                Ok(()) => report.removed += 1,
                Err(StoreError::LastAdmin) => report.stranded.push((org, identity)),
                // Removed meanwhile, by someone else or with its org.
                Err(StoreError::MemberNotFound | StoreError::OrgNotFound) => {}
                Err(other) => return Err(other),
            }
        }
    }
}

/// Runs [`reconcile_identities`] every `interval` in `polis serve` (off by default).
pub fn start_periodic(state: &crate::AppState, interval: Duration) {
    let (store, clock) = (state.store.clone(), state.clock.clone());
    let kratos: Arc<KratosClient> = Arc::new(state.auth.kratos().clone());
    state
        .lifecycle
        .spawn_worker("identity-reconciler", move |stop| async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(interval) => {}
                }
                match reconcile_identities(store.as_ref(), &kratos, clock.as_ref()).await {
                    Ok(report) => log(&report),
                    Err(err) => tracing::warn!(error = %err, "identity reconciliation failed"),
                }
            }
        });
}

fn log(report: &ReconcileReport) {
    tracing::info!(
        checked = report.checked,
        departed = report.departed.len(),
        removed = report.removed,
        requests_withdrawn = report.requests_withdrawn,
        stranded = report.stranded.len(),
        "identities reconciled"
    );
    for (org, identity) in &report.stranded {
        tracing::warn!(%org, %identity, "a deleted identity is this org's last admin: kept");
    }
}
