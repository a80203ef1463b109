//! The import report: per org, per membership and per invitation what happened, every
//! problem with its reason and Clerk id, and totals. Nothing is dropped silently.

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::store::RowStatus;

/// How a Clerk user was matched to a Kratos identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MappedBy {
    /// The document's `user_map`.
    UserMap,
    /// A Kratos identity's `metadata_admin.legacy_clerk_id`.
    LegacyClerkId,
    /// The membership's e-mail, as a Kratos login identifier.
    Email,
}

/// Why something was skipped or needs a look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    /// No Kratos identity matches the Clerk user; the membership is skipped.
    UnmappedUser,
    /// The role is neither in Polis nor in the document's roles.
    UnknownRole,
    /// Another org already has the slug: the org is skipped, never renamed. The admin
    /// may choose another slug for it with `slug_overrides`.
    SlugConflict,
    /// A value Polis cannot store (see `field`); the item is skipped.
    InvalidField,
    /// Imported, but no member can manage members; admin API keys can still manage it.
    OrgWithoutAdmin,
    /// Two Clerk memberships of one org map to the same identity; the later is skipped.
    DuplicateMember,
    /// The address already has another pending invitation to the org.
    DuplicateInvitation,
    /// Only pending invitations are imported.
    InvitationNotPending,
    /// The item (or a `slug_overrides` key) names an organization that is not in the
    /// document.
    UnknownOrganization,
    /// Kratos did not answer while mapping this org's users; the org is skipped.
    IdentityProviderUnavailable,
    /// Writing the org failed; nothing of it was written.
    ApplyFailed,
    /// The org has this domain already (in the document or in Polis); skipped.
    DuplicateDomain,
    /// Beyond the 10 domains an org may have; skipped.
    DomainQuotaExceeded,
    /// Verified in Clerk, but another org of Polis has verified the name: imported
    /// unverified.
    DomainVerifiedElsewhere,
    /// `enterprise_sso` (or an unknown mode): imported as `manual_invitation`.
    UnsupportedEnrollmentMode,
    /// Only pending membership requests are imported.
    RequestNotPending,
    /// The user is a member already, or has another pending request to the org; skipped.
    DuplicateRequest,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ImportProblem {
    pub code: ProblemCode,
    /// The Clerk id of the org, membership, invitation or role concerned.
    pub clerk_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub field: Option<String>,
    pub detail: String,
}

impl ImportProblem {
    pub fn new(code: ProblemCode, clerk_id: &str, detail: impl Into<String>) -> Self {
        Self {
            code,
            clerk_id: clerk_id.to_owned(),
            field: None,
            detail: detail.into(),
        }
    }

    pub fn field(clerk_id: &str, field: &str, detail: impl Into<String>) -> Self {
        Self {
            field: Some(field.to_owned()),
            ..Self::new(ProblemCode::InvalidField, clerk_id, detail)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MemberReport {
    /// Clerk membership id (`orgmem_…`).
    pub clerk_id: String,
    /// Clerk user id (`user_…`).
    pub user_id: String,
    #[schema(required = true)]
    pub identity_id: Option<Uuid>,
    #[schema(required = true)]
    pub mapped_by: Option<MappedBy>,
    pub role: String,
    pub status: RowStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct InvitationReport {
    /// Clerk invitation id (`orginv_…`).
    pub clerk_id: String,
    pub email_address: String,
    pub status: RowStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DomainReport {
    /// Clerk domain id (`orgdmn_…`).
    pub clerk_id: String,
    /// As imported: lower-case ASCII.
    pub name: String,
    pub verified: bool,
    pub status: RowStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MembershipRequestReport {
    /// Clerk membership request id (`orgreq_…`).
    pub clerk_id: String,
    /// Clerk user id (`user_…`).
    pub user_id: String,
    #[schema(required = true)]
    pub identity_id: Option<Uuid>,
    pub status: RowStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct OrgReport {
    /// Clerk organization id (`org_…`).
    pub clerk_id: String,
    /// The Polis org id; `null` when skipped, or created by a dry run.
    #[schema(required = true)]
    pub id: Option<Uuid>,
    #[schema(required = true)]
    pub slug: Option<String>,
    pub status: RowStatus,
    pub memberships: Vec<MemberReport>,
    pub invitations: Vec<InvitationReport>,
    pub domains: Vec<DomainReport>,
    pub membership_requests: Vec<MembershipRequestReport>,
    pub problems: Vec<ImportProblem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RoleReport {
    pub key: String,
    pub status: RowStatus,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Counts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub skipped: u64,
}

impl Counts {
    pub fn add(&mut self, status: RowStatus) {
        match status {
            RowStatus::Created => self.created += 1,
            RowStatus::Updated => self.updated += 1,
            RowStatus::Unchanged => self.unchanged += 1,
            RowStatus::Skipped => self.skipped += 1,
        }
    }

    fn changed(&self) -> bool {
        self.created + self.updated > 0
    }
}

/// Memberships matched by each strategy, and those no strategy matched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct MappingCounts {
    pub user_map: u64,
    pub legacy_clerk_id: u64,
    pub email: u64,
    pub unmapped: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Summary {
    pub orgs: Counts,
    pub memberships: Counts,
    pub invitations: Counts,
    pub domains: Counts,
    pub membership_requests: Counts,
    pub roles: Counts,
    pub problems: u64,
}

/// The outcome of one import run.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ImportReport {
    pub dry_run: bool,
    /// Whether the run created or updated anything (a dry run: would have).
    pub changed: bool,
    pub summary: Summary,
    pub identity_mapping: MappingCounts,
    pub roles: Vec<RoleReport>,
    /// In document order.
    pub orgs: Vec<OrgReport>,
    /// Problems not tied to one org of the document (e.g. memberships of unknown orgs).
    pub problems: Vec<ImportProblem>,
    /// Top-level keys of the document that the import does not read.
    pub ignored_keys: Vec<String>,
}

/// Running totals, updated as each org's report is produced.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub summary: Summary,
    pub mapping: MappingCounts,
}

impl Tally {
    pub fn org(&mut self, org: &OrgReport) {
        self.summary.orgs.add(org.status);
        for m in &org.memberships {
            self.summary.memberships.add(m.status);
            match m.mapped_by {
                Some(MappedBy::UserMap) => self.mapping.user_map += 1,
                Some(MappedBy::LegacyClerkId) => self.mapping.legacy_clerk_id += 1,
                Some(MappedBy::Email) => self.mapping.email += 1,
                None => self.mapping.unmapped += 1,
            }
        }
        for i in &org.invitations {
            self.summary.invitations.add(i.status);
        }
        for d in &org.domains {
            self.summary.domains.add(d.status);
        }
        for r in &org.membership_requests {
            self.summary.membership_requests.add(r.status);
        }
        self.summary.problems += org.problems.len() as u64;
    }

    pub fn progress(&self, orgs_done: usize, orgs_total: usize) -> crate::import::Progress {
        let m = &self.summary.memberships;
        crate::import::Progress {
            orgs_done,
            orgs_total,
            memberships_done: m.created + m.updated + m.unchanged + m.skipped,
        }
    }

    pub fn changed(&self) -> bool {
        let s = &self.summary;
        s.orgs.changed()
            || s.memberships.changed()
            || s.invitations.changed()
            || s.domains.changed()
            || s.membership_requests.changed()
            || s.roles.changed()
    }
}

/// Where per-org reports go as they are produced, in document order: kept for a test,
/// streamed out as the HTTP answer, or written line by line by the CLI, so a million
/// memberships need no memory. Async so that a slow reader of the report slows the
/// import down instead of piling reports up.
#[async_trait::async_trait]
pub trait ReportSink: Send {
    /// Called once the document has been read and checked and the roles settled, just
    /// before the first org is written: from here on a run fails only on an internal
    /// error, so an HTTP answer may start.
    async fn begin(&mut self) {}
    async fn org(&mut self, seq: usize, report: OrgReport);
}

/// Keeps every org report, for callers that want the whole report in memory.
#[derive(Default)]
pub struct CollectingSink {
    pub orgs: Vec<(usize, OrgReport)>,
}

#[async_trait::async_trait]
impl ReportSink for CollectingSink {
    async fn org(&mut self, seq: usize, report: OrgReport) {
        self.orgs.push((seq, report));
    }
}

impl CollectingSink {
    /// The reports in document order.
    pub fn into_sorted(mut self) -> Vec<OrgReport> {
        self.orgs.sort_by_key(|(seq, _)| *seq);
        self.orgs.into_iter().map(|(_, r)| r).collect()
    }
}
