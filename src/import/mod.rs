//! The Clerk import (issue 5). One code path for the HTTP route, `--file` and
//! `--from-api`: read and check the whole document (first pass, nothing written),
//! settle the role catalog, then for each org map its users, plan it (pure) and write
//! it in one transaction. A dry run does the same and rolls each transaction back.

pub mod clerk;
pub mod clerk_api;
mod collect;
pub mod command;
mod document;
pub mod identities;
mod plan;
pub mod report;
mod roles;
mod spill;

use std::collections::HashSet;
use std::io::Read;
use std::sync::Arc;

use tokio::task::JoinSet;

pub use clerk::ShapeError;
pub use document::DocumentError;
pub use identities::KratosIdentities;
pub use report::{ImportReport, OrgReport, ReportSink, Tally};

use crate::auth::kratos::KratosUnavailable;
use crate::store::{RoleImport, Store, StoreError};
use identities::Resolver;
use plan::{plan_org, Mapping, OrgBundle};
use report::{ImportProblem, ProblemCode, RoleReport};
use spill::Spill;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Document(#[from] DocumentError),
    #[error(transparent)]
    IdentityProvider(#[from] KratosUnavailable),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0:#}")]
    Internal(anyhow::Error),
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    pub dry_run: bool,
}

/// Progress of a long run: orgs done out of the document's total.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub orgs_done: usize,
    pub orgs_total: usize,
    pub memberships_done: u64,
}

/// Everything but the per-org reports, which went to the [`ReportSink`].
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub dry_run: bool,
    pub tally: Tally,
    pub roles: Vec<RoleReport>,
    pub problems: Vec<ImportProblem>,
    pub ignored_keys: Vec<String>,
}

impl RunSummary {
    pub fn into_report(self, orgs: Vec<OrgReport>) -> ImportReport {
        ImportReport {
            dry_run: self.dry_run,
            changed: self.tally.changed(),
            summary: self.tally.summary,
            identity_mapping: self.tally.mapping,
            roles: self.roles,
            orgs,
            problems: self.problems,
            ignored_keys: self.ignored_keys,
        }
    }
}

/// What every org task shares.
struct Shared {
    store: Arc<dyn Store>,
    spill: Spill,
    resolver: Resolver,
    known_roles: HashSet<String>,
    /// Roles a dry run must create inside each org's transaction (see [`crate::store::OrgImport`]).
    ensure_roles: Vec<RoleImport>,
    dry_run: bool,
}

/// Imports the Clerk export read from `reader`. Per-org reports go to `sink` as each
/// org is done; `progress` hears about long runs.
pub async fn run<R: Read + Send + 'static>(
    reader: R,
    store: Arc<dyn Store>,
    kratos: KratosIdentities,
    options: ImportOptions,
    sink: &mut dyn ReportSink,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<RunSummary, ImportError> {
    let spill = Spill::create().await.map_err(ImportError::Internal)?;
    let collected = collect::collect(reader, &spill).await?;
    let org_ids: Vec<String> = collected.orgs.iter().map(|o| o.id.clone()).collect();
    spill
        .finish_loading(&org_ids)
        .await
        .map_err(ImportError::Internal)?;
    let mut problems = orphan_problems(&spill).await?;
    let mut tally = Tally::default();
    let catalog = roles::settle(store.as_ref(), &collected.roles, options.dry_run).await?;
    for role in &catalog.reports {
        tally.summary.roles.add(role.status);
    }
    problems.extend(catalog.problems);
    let resolver = Resolver::new(collected.user_map, kratos);
    if collected.memberships > 0 {
        resolver.prepare().await?;
    }
    let shared = Arc::new(Shared {
        store,
        spill,
        resolver,
        known_roles: catalog.known,
        ensure_roles: if options.dry_run {
            catalog.imports
        } else {
            Vec::new()
        },
        dry_run: options.dry_run,
    });
    apply_orgs(&shared, collected.orgs, &mut tally, sink, progress).await?;
    if let Ok(shared) = Arc::try_unwrap(shared) {
        shared.spill.close().await;
    }
    Ok(RunSummary {
        dry_run: options.dry_run,
        tally,
        roles: catalog.reports,
        problems,
        ignored_keys: collected.info.ignored_keys,
    })
}

async fn orphan_problems(spill: &Spill) -> Result<Vec<ImportProblem>, ImportError> {
    let orphans = spill.orphans().await.map_err(ImportError::Internal)?;
    Ok(orphans
        .into_iter()
        .map(|(id, org)| {
            ImportProblem::new(
                ProblemCode::UnknownOrganization,
                &id,
                format!("belongs to {org}, which is not in the document's organizations; skipped"),
            )
        })
        .collect())
}

/// Runs the orgs with the store's parallelism, handing reports over as they finish.
async fn apply_orgs(
    shared: &Arc<Shared>,
    orgs: Vec<clerk::ClerkOrg>,
    tally: &mut Tally,
    sink: &mut dyn ReportSink,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(), ImportError> {
    let total = orgs.len();
    let parallelism = shared.store.import_parallelism().max(1);
    let mut tasks: JoinSet<Result<(usize, OrgReport), ImportError>> = JoinSet::new();
    let mut done = 0usize;
    let mut orgs = orgs.into_iter().enumerate();
    loop {
        while tasks.len() < parallelism {
            let Some((seq, org)) = orgs.next() else { break };
            let shared = Arc::clone(shared);
            tasks.spawn(async move { import_org(&shared, seq, org).await });
        }
        let Some(joined) = tasks.join_next().await else {
            return Ok(());
        };
        let (seq, report) = joined
            .map_err(|e| ImportError::Internal(anyhow::anyhow!("org import task failed: {e}")))??;
        tally.org(&report);
        sink.org(seq, report);
        done += 1;
        if done % 500 == 0 || done == total {
            progress(Progress {
                orgs_done: done,
                orgs_total: total,
                memberships_done: tally.summary.memberships.created
                    + tally.summary.memberships.updated
                    + tally.summary.memberships.unchanged
                    + tally.summary.memberships.skipped,
            });
        }
    }
}

/// Maps, plans and writes one org. Its own failures become problems in its report;
/// only a broken scratch file fails the run.
async fn import_org(
    shared: &Shared,
    seq: usize,
    org: clerk::ClerkOrg,
) -> Result<(usize, OrgReport), ImportError> {
    let spill_err = ImportError::Internal;
    let bundle = OrgBundle {
        memberships: shared
            .spill
            .memberships_of(&org.id)
            .await
            .map_err(spill_err)?,
        invitations: shared
            .spill
            .invitations_of(&org.id)
            .await
            .map_err(spill_err)?,
        org,
    };
    let mapping = map_users(&shared.resolver, &bundle).await;
    let empty = Mapping::new();
    let mut plan_result = plan_org(
        &bundle,
        mapping.as_ref().unwrap_or(&empty),
        &shared.known_roles,
    );
    if let Err(e) = mapping {
        let problem = ImportProblem::new(
            ProblemCode::IdentityProviderUnavailable,
            &bundle.org.id,
            format!("{e}; the org is skipped"),
        );
        return Ok((seq, plan_result.fail(problem)));
    }
    let Some(mut import) = plan_result.import.take() else {
        return Ok((seq, plan_result.report));
    };
    import.ensure_roles.clone_from(&shared.ensure_roles);
    let report = match shared.store.apply_org_import(&import, shared.dry_run).await {
        Ok(outcome) => plan_result.finish(outcome, shared.dry_run),
        Err(e) => {
            tracing::warn!(clerk_id = %bundle.org.id, error = %e, "org import failed");
            let problem = ImportProblem::new(
                ProblemCode::ApplyFailed,
                &bundle.org.id,
                "writing the org failed; nothing of it was written",
            );
            plan_result.fail(problem)
        }
    };
    Ok((seq, report))
}

/// Resolves every Clerk user the bundle mentions.
async fn map_users(resolver: &Resolver, bundle: &OrgBundle) -> Result<Mapping, KratosUnavailable> {
    let mut mapping = Mapping::new();
    for m in &bundle.memberships {
        if !mapping.contains_key(&m.user_id) {
            let found = resolver
                .resolve(&m.user_id, m.identifier.as_deref())
                .await?;
            mapping.insert(m.user_id.clone(), found);
        }
    }
    let others = bundle.org.created_by.iter().chain(
        bundle
            .invitations
            .iter()
            .filter_map(|i| i.inviter_id.as_ref()),
    );
    for user in others {
        if !mapping.contains_key(user) {
            let found = resolver.resolve(user, None).await?;
            mapping.insert(user.clone(), found);
        }
    }
    Ok(mapping)
}
