//! The Clerk import (issue 5). One code path for the HTTP route, `--file` and
//! `--from-api`: read and check the whole document (first pass, nothing written),
//! settle the role catalog, then for each org map its users and plan it (pure), and
//! write the planned orgs in batches: one transaction per batch, a savepoint per org, so
//! an org still goes in whole or not at all without paying a commit each. A dry run
//! does the same and rolls each transaction back.

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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::task::JoinSet;

pub use clerk::ShapeError;
pub use document::DocumentError;
pub use identities::kratos_client;
pub use report::{ImportReport, OrgReport, ReportSink, Tally};

use crate::auth::kratos::{KratosClient, KratosUnavailable};
use crate::domain::domains::BlockList;
use crate::store::{OrgImport, RoleImport, Store, StoreError};
use identities::Resolver;
use plan::{plan_org, Mapping, OrgBundle, PlanContext};
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

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub dry_run: bool,
    /// The moment of the run, from the application's clock: it stamps roles the
    /// import creates and rows Clerk gave no timestamps.
    pub now: DateTime<Utc>,
    /// Domain names no org may have (`POLIS_BLOCKED_EMAIL_DOMAINS`): such imported
    /// domains are skipped.
    pub blocked_domains: BlockList,
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

/// Clerk org id → the slug to import it under instead of Clerk's, chosen by the admin
/// to resolve a `slug_conflict` (never chosen by the import itself).
pub type SlugOverrides = HashMap<String, String>;

/// What every org task shares.
struct Shared {
    store: Arc<dyn Store>,
    spill: Spill,
    slug_overrides: SlugOverrides,
    resolver: Resolver,
    known_roles: HashSet<String>,
    blocked_domains: BlockList,
    /// Clerk org id → its domains and membership requests.
    domains: HashMap<String, Vec<clerk::ClerkDomain>>,
    requests: HashMap<String, Vec<clerk::ClerkMembershipRequest>>,
    /// Roles a dry run must create inside each org's transaction (see [`crate::store::OrgImport`]).
    ensure_roles: Vec<RoleImport>,
    dry_run: bool,
    now: DateTime<Utc>,
}

/// Imports the Clerk export read from `reader`. Per-org reports go to `sink` as each
/// org is done; `progress` hears about long runs.
pub async fn run<R: Read + Send + 'static>(
    reader: R,
    store: Arc<dyn Store>,
    kratos: KratosClient,
    options: ImportOptions,
    sink: &mut dyn ReportSink,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<RunSummary, ImportError> {
    run_with_overrides(
        reader,
        store,
        kratos,
        options,
        SlugOverrides::new(),
        sink,
        progress,
    )
    .await
}

/// [`run`], with slug overrides given besides the document's `slug_overrides` (the
/// CLI's `--slug-override`); these win over the document's for the same org.
pub async fn run_with_overrides<R: Read + Send + 'static>(
    reader: R,
    store: Arc<dyn Store>,
    kratos: KratosClient,
    options: ImportOptions,
    overrides: SlugOverrides,
    sink: &mut dyn ReportSink,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<RunSummary, ImportError> {
    let spill = Spill::create().await.map_err(ImportError::Internal)?;
    let mut collected = collect::collect(reader, &spill).await?;
    let org_ids: Vec<String> = collected.orgs.iter().map(|o| o.id.clone()).collect();
    spill
        .finish_loading(&org_ids)
        .await
        .map_err(ImportError::Internal)?;
    let mut problems = orphan_problems(&spill).await?;
    problems.extend(plan::enrollment::orphans(
        &collected.domains,
        &collected.requests,
        &org_ids,
    ));
    collected.slug_overrides.extend(overrides);
    problems.extend(unknown_override_problems(
        &collected.slug_overrides,
        &org_ids,
    ));
    let mut tally = Tally::default();
    let catalog = roles::settle(store.as_ref(), &collected.roles, options.clone()).await?;
    for role in &catalog.reports {
        tally.summary.roles.add(role.status);
    }
    problems.extend(catalog.problems);
    let resolver = Resolver::new(collected.user_map, kratos);
    if collected.memberships > 0 || !collected.requests.is_empty() {
        resolver.prepare().await?;
    }
    let shared = Arc::new(Shared {
        store,
        spill,
        slug_overrides: collected.slug_overrides,
        resolver,
        known_roles: catalog.known,
        blocked_domains: options.blocked_domains,
        domains: collected.domains,
        requests: collected.requests,
        ensure_roles: if options.dry_run {
            catalog.imports
        } else {
            Vec::new()
        },
        dry_run: options.dry_run,
        now: options.now,
    });
    sink.begin().await;
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

/// An override naming an org the document lacks is a warning, not an error: the
/// other orgs import as asked, and the report names the override that did nothing
/// (most likely a typo, which leaves the intended org reported as `slug_conflict`).
fn unknown_override_problems(overrides: &SlugOverrides, org_ids: &[String]) -> Vec<ImportProblem> {
    let known: HashSet<&str> = org_ids.iter().map(String::as_str).collect();
    let mut unknown: Vec<&String> = overrides
        .keys()
        .filter(|id| !known.contains(id.as_str()))
        .collect();
    unknown.sort();
    unknown
        .into_iter()
        .map(|id| ImportProblem {
            field: Some("slug_overrides".into()),
            ..ImportProblem::new(
                ProblemCode::UnknownOrganization,
                id,
                format!(
                    "slug_overrides names {id}, which is not in the document's organizations; ignored"
                ),
            )
        })
        .collect()
}

/// Orgs handed to one task at a time.
const TASK_ORGS: usize = 32;
/// A task writes its orgs in transactions of about this many memberships (a savepoint
/// each): enough to spread the commit over many orgs, few enough to keep memory and
/// lock time small whatever the org sizes.
const BATCH_MEMBERSHIPS: usize = 2_000;

/// Chunks of [`TASK_ORGS`] orgs finished ahead of the oldest unfinished one, per task
/// slot: how far the import may run ahead while reports wait to go out in document
/// order. Bounds the reports held in memory whatever the document's size.
const REORDER_WINDOW: usize = 2;

/// The reports of one task's orgs, with their document positions.
type ChunkReports = Vec<(usize, OrgReport)>;

/// Runs the orgs with the store's parallelism, handing reports over in document order.
async fn apply_orgs(
    shared: &Arc<Shared>,
    orgs: Vec<clerk::ClerkOrg>,
    tally: &mut Tally,
    sink: &mut dyn ReportSink,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(), ImportError> {
    let total = orgs.len();
    let parallelism = shared.store.import_parallelism().max(1);
    let mut tasks: JoinSet<Result<(usize, ChunkReports), ImportError>> = JoinSet::new();
    let mut finished: BTreeMap<usize, ChunkReports> = BTreeMap::new();
    let (mut spawned, mut emitted, mut done) = (0usize, 0usize, 0usize);
    let mut orgs = orgs.into_iter().enumerate();
    loop {
        while tasks.len() < parallelism && spawned - emitted < parallelism * REORDER_WINDOW {
            let chunk: Vec<_> = orgs.by_ref().take(TASK_ORGS).collect();
            if chunk.is_empty() {
                break;
            }
            let (shared, index) = (Arc::clone(shared), spawned);
            tasks.spawn(async move { Ok((index, import_orgs(&shared, chunk).await?)) });
            spawned += 1;
        }
        let Some(joined) = tasks.join_next().await else {
            return Ok(());
        };
        let (index, reports) = joined
            .map_err(|e| ImportError::Internal(anyhow::anyhow!("org import task failed: {e}")))??;
        finished.insert(index, reports);
        while let Some(mut reports) = finished.remove(&emitted) {
            emitted += 1;
            reports.sort_by_key(|(seq, _)| *seq);
            for (seq, report) in reports {
                tally.org(&report);
                sink.org(seq, report).await;
                done += 1;
                if done % 500 == 0 || done == total {
                    progress(tally.progress(done, total));
                }
            }
        }
    }
}

/// Orgs planned and waiting to be written together.
#[derive(Default)]
struct Batch {
    seqs: Vec<usize>,
    plans: Vec<plan::OrgPlan>,
    imports: Vec<OrgImport>,
    memberships: usize,
}

/// Plans a chunk of orgs and writes them in batches. Only a broken scratch file fails
/// the run.
async fn import_orgs(
    shared: &Shared,
    chunk: Vec<(usize, clerk::ClerkOrg)>,
) -> Result<Vec<(usize, OrgReport)>, ImportError> {
    let mut reports = Vec::with_capacity(chunk.len());
    let mut batch = Batch::default();
    for (seq, org) in chunk {
        let mut plan = match plan_one(shared, org).await? {
            Ok(plan) => plan,
            Err(report) => {
                reports.push((seq, report));
                continue;
            }
        };
        let Some(mut import) = plan.import.take() else {
            reports.push((seq, plan.report));
            continue;
        };
        import.ensure_roles.clone_from(&shared.ensure_roles);
        batch.memberships += import.members.len();
        batch.seqs.push(seq);
        batch.plans.push(plan);
        batch.imports.push(import);
        if batch.memberships >= BATCH_MEMBERSHIPS {
            write_batch(shared, std::mem::take(&mut batch), &mut reports).await;
        }
    }
    write_batch(shared, batch, &mut reports).await;
    Ok(reports)
}

/// Maps and plans one org; `Err` is the report of an org already done with (Kratos
/// failing skips it).
async fn plan_one(
    shared: &Shared,
    mut org: clerk::ClerkOrg,
) -> Result<Result<plan::OrgPlan, OrgReport>, ImportError> {
    if let Some(slug) = shared.slug_overrides.get(&org.id) {
        org.slug = Some(slug.clone());
    }
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
        domains: shared.domains.get(&org.id).cloned().unwrap_or_default(),
        requests: shared.requests.get(&org.id).cloned().unwrap_or_default(),
        org,
    };
    let mapping = map_users(&shared.resolver, &bundle).await;
    let empty = Mapping::new();
    let context = PlanContext {
        mapping: mapping.as_ref().unwrap_or(&empty),
        known_roles: &shared.known_roles,
        blocked: &shared.blocked_domains,
        now: shared.now,
    };
    let plan_result = plan_org(&bundle, &context);
    if let Err(e) = mapping {
        let problem = ImportProblem::new(
            ProblemCode::IdentityProviderUnavailable,
            &bundle.org.id,
            format!("{e}; the org is skipped"),
        );
        return Ok(Err(plan_result.fail(problem)));
    }
    Ok(Ok(plan_result))
}

/// Writes a batch in one transaction (a savepoint per org) and fills in the reports.
/// A failing org is reported as skipped; the others are not affected.
async fn write_batch(shared: &Shared, batch: Batch, reports: &mut Vec<(usize, OrgReport)>) {
    if batch.imports.is_empty() {
        return;
    }
    let outcomes: Vec<Option<_>> = match shared
        .store
        .apply_org_imports(&batch.imports, shared.dry_run, shared.now)
        .await
    {
        Ok(outcomes) => outcomes.into_iter().map(Some).collect(),
        Err(e) => {
            tracing::warn!(orgs = batch.imports.len(), error = %e, "org import batch failed");
            batch.imports.iter().map(|_| None).collect()
        }
    };
    let rows = batch.seqs.into_iter().zip(batch.plans).zip(batch.imports);
    for (((seq, plan), import), outcome) in rows.zip(outcomes) {
        let report = match outcome {
            Some(Ok(outcome)) => plan.finish(outcome, shared.dry_run),
            Some(Err(e)) => {
                tracing::warn!(clerk_id = %import.clerk_id, error = %e, "org import failed");
                plan.fail(apply_failed(&import.clerk_id))
            }
            None => plan.fail(apply_failed(&import.clerk_id)),
        };
        reports.push((seq, report));
    }
}

fn apply_failed(clerk_id: &str) -> ImportProblem {
    ImportProblem::new(
        ProblemCode::ApplyFailed,
        clerk_id,
        "writing the org failed; nothing of it was written",
    )
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
    for r in &bundle.requests {
        if !mapping.contains_key(&r.user_id) {
            let found = resolver
                .resolve(&r.user_id, r.identifier.as_deref())
                .await?;
            mapping.insert(r.user_id.clone(), found);
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
