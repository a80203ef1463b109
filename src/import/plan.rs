//! Turns one Clerk organization, its memberships and invitations, plus the identity
//! mapping, into what the store writes and the report rows. Pure: no I/O, so every
//! skip rule is unit-tested here and a dry run plans exactly what a real run does.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

pub mod enrollment;

use super::clerk::{
    from_millis, normalize_role_key, ClerkDomain, ClerkInvitation, ClerkMembership,
    ClerkMembershipRequest, ClerkOrg,
};
use super::report::{
    ImportProblem, InvitationReport, MappedBy, MemberReport, OrgReport, ProblemCode,
};
use crate::domain::domains::BlockList;
use crate::domain::invitation::kratos_lowercase;
use crate::domain::org::{validate_name, Slug};
use crate::domain::validation::{validate_http_url, validate_metadata};
use crate::store::{
    AppliedOrg, InvitationImport, MemberImport, OrgImport, OrgImportOutcome, RowStatus,
};

/// An org with the items the document attaches to it.
#[derive(Debug, Clone)]
pub struct OrgBundle {
    pub org: ClerkOrg,
    pub memberships: Vec<ClerkMembership>,
    pub invitations: Vec<ClerkInvitation>,
    pub domains: Vec<ClerkDomain>,
    pub requests: Vec<ClerkMembershipRequest>,
}

/// Clerk user id → the identity it maps to, for the users of one bundle.
pub type Mapping = HashMap<String, Option<(Uuid, MappedBy)>>;

/// What an org's plan is made against: how its users map to identities, the roles
/// Polis knows, and the moment of the run (the timestamps of rows Clerk gave none).
pub struct PlanContext<'a> {
    pub mapping: &'a Mapping,
    pub known_roles: &'a HashSet<String>,
    /// Domain names no org may have.
    pub blocked: &'a BlockList,
    pub now: DateTime<Utc>,
}

/// What to write for one org, and the report rows to fill in once it is written.
#[derive(Debug)]
pub struct OrgPlan {
    /// `None` when the org itself is skipped.
    pub import: Option<OrgImport>,
    pub report: OrgReport,
    /// For each `import.members[i]`, its row in `report.memberships`.
    member_rows: Vec<usize>,
    invitation_rows: Vec<usize>,
    /// For the domains and requests of `import`, their rows in the report.
    enrollment: enrollment::Rows,
}

pub fn plan_org(bundle: &OrgBundle, ctx: &PlanContext<'_>) -> OrgPlan {
    let org = &bundle.org;
    let mut problems = org_field_problems(org);
    let mut report = OrgReport {
        clerk_id: org.id.clone(),
        id: None,
        slug: org.slug.clone(),
        status: RowStatus::Skipped,
        memberships: Vec::new(),
        invitations: Vec::new(),
        domains: Vec::new(),
        membership_requests: Vec::new(),
        problems: Vec::new(),
    };
    let (members, member_rows) = plan_members(bundle, ctx, &mut report, &mut problems);
    let (invitations, invitation_rows) = plan_invitations(bundle, ctx, &mut report, &mut problems);
    let (domains, requests, enrollment) =
        enrollment::plan(bundle, ctx, &members, &mut report, &mut problems);
    let created_by = org.created_by.as_ref().and_then(|user| {
        let mapped = ctx.mapping.get(user).copied().flatten().map(|(id, _)| id);
        if mapped.is_none() {
            problems.push(ImportProblem {
                field: Some("created_by".into()),
                ..ImportProblem::new(
                    ProblemCode::UnmappedUser,
                    &org.id,
                    format!("creator {user} maps to no Kratos identity; created_by is left empty"),
                )
            });
        }
        mapped
    });
    let valid = !problems
        .iter()
        .any(|p| p.code == ProblemCode::InvalidField && p.clerk_id == org.id);
    report.problems = problems;
    if !valid {
        // The org goes in whole or not at all: its members are skipped with it.
        skip_all(&mut report);
        return OrgPlan {
            import: None,
            report,
            member_rows: Vec::new(),
            invitation_rows: Vec::new(),
            enrollment: enrollment::Rows::default(),
        };
    }
    let created_at = org.created_at.and_then(from_millis).unwrap_or(ctx.now);
    let import = OrgImport {
        clerk_id: org.id.clone(),
        name: org.name.clone(),
        slug: org.slug.clone().unwrap_or_default(),
        image_url: org.image_url.clone().filter(|u| !u.is_empty()),
        public_metadata: org.public_metadata.clone(),
        private_metadata: org.private_metadata.clone(),
        max_allowed_memberships: i32::try_from(org.max_allowed_memberships).unwrap_or(0),
        created_by,
        created_at,
        updated_at: org.updated_at.and_then(from_millis).unwrap_or(created_at),
        members,
        invitations,
        domains,
        requests,
        ensure_roles: Vec::new(),
    };
    OrgPlan {
        import: Some(import),
        report,
        member_rows,
        invitation_rows,
        enrollment,
    }
}

fn org_field_problems(org: &ClerkOrg) -> Vec<ImportProblem> {
    let mut problems = Vec::new();
    let mut check = |field: &str, result: Result<(), String>| {
        if let Err(message) = result {
            problems.push(ImportProblem::field(&org.id, field, message));
        }
    };
    check("name", validate_name(&org.name));
    match &org.slug {
        Some(slug) => check("slug", Slug::parse(slug).map(|_| ())),
        None => check("slug", Err("is required".into())),
    }
    if let Some(url) = org.image_url.as_deref().filter(|u| !u.is_empty()) {
        check("image_url", validate_http_url(url));
    }
    check("public_metadata", validate_metadata(&org.public_metadata));
    check("private_metadata", validate_metadata(&org.private_metadata));
    if !(0..=i64::from(i32::MAX)).contains(&org.max_allowed_memberships) {
        check(
            "max_allowed_memberships",
            Err("must be 0 (unlimited) or more".into()),
        );
    }
    for (field, ms) in [
        ("created_at", org.created_at),
        ("updated_at", org.updated_at),
    ] {
        if ms.is_some_and(|ms| from_millis(ms).is_none()) {
            check(
                field,
                Err("is not a valid Unix millisecond timestamp".into()),
            );
        }
    }
    problems
}

fn skip_all(report: &mut OrgReport) {
    report.status = RowStatus::Skipped;
    for m in &mut report.memberships {
        m.status = RowStatus::Skipped;
    }
    for i in &mut report.invitations {
        i.status = RowStatus::Skipped;
    }
    for d in &mut report.domains {
        d.status = RowStatus::Skipped;
    }
    for r in &mut report.membership_requests {
        r.status = RowStatus::Skipped;
    }
}

/// Checks a role key (after mapping Clerk's legacy keys) against the known roles.
fn role_problem(
    role: &str,
    clerk_id: &str,
    known_roles: &HashSet<String>,
) -> Result<String, ImportProblem> {
    let key = normalize_role_key(role);
    if known_roles.contains(key) {
        Ok(key.to_owned())
    } else {
        Err(ImportProblem::new(
            ProblemCode::UnknownRole,
            clerk_id,
            format!("role {role:?} is neither in Polis nor in the document's roles"),
        ))
    }
}

fn timestamps(
    clerk_id: &str,
    created: Option<i64>,
    updated: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ImportProblem> {
    let read = |field: &str, ms: Option<i64>| match ms {
        None => Ok(None),
        Some(ms) => from_millis(ms).map(Some).ok_or_else(|| {
            ImportProblem::field(clerk_id, field, "is not a valid Unix millisecond timestamp")
        }),
    };
    let created = read("created_at", created)?.unwrap_or(now);
    let updated = read("updated_at", updated)?.unwrap_or(created);
    Ok((created, updated))
}

fn metadata_problem(clerk_id: &str, public: &Value, private: &Value) -> Option<ImportProblem> {
    for (field, value) in [("public_metadata", public), ("private_metadata", private)] {
        if let Err(message) = validate_metadata(value) {
            return Some(ImportProblem::field(clerk_id, field, message));
        }
    }
    None
}

fn plan_members(
    bundle: &OrgBundle,
    ctx: &PlanContext<'_>,
    report: &mut OrgReport,
    problems: &mut Vec<ImportProblem>,
) -> (Vec<MemberImport>, Vec<usize>) {
    let mut members = Vec::new();
    let mut rows = Vec::new();
    let mut seen: HashSet<Uuid> = HashSet::new();
    for m in &bundle.memberships {
        let mapped = ctx.mapping.get(&m.user_id).copied().flatten();
        report.memberships.push(MemberReport {
            clerk_id: m.id.clone(),
            user_id: m.user_id.clone(),
            identity_id: mapped.map(|(id, _)| id),
            mapped_by: mapped.map(|(_, by)| by),
            role: normalize_role_key(&m.role).to_owned(),
            status: RowStatus::Skipped,
        });
        match member_import(m, mapped, ctx, &mut seen) {
            Ok(member) => {
                rows.push(report.memberships.len() - 1);
                members.push(member);
            }
            Err(problem) => problems.push(problem),
        }
    }
    (members, rows)
}

fn member_import(
    m: &ClerkMembership,
    mapped: Option<(Uuid, MappedBy)>,
    ctx: &PlanContext<'_>,
    seen: &mut HashSet<Uuid>,
) -> Result<MemberImport, ImportProblem> {
    let Some((identity_id, _)) = mapped else {
        let detail = match &m.identifier {
            Some(identifier) => format!(
                "user {} ({identifier}) matches no Kratos identity by user_map, legacy_clerk_id or e-mail",
                m.user_id
            ),
            None => format!("user {} matches no Kratos identity", m.user_id),
        };
        return Err(ImportProblem::new(ProblemCode::UnmappedUser, &m.id, detail));
    };
    let role = role_problem(&m.role, &m.id, ctx.known_roles)?;
    if let Some(problem) = metadata_problem(&m.id, &m.public_metadata, &m.private_metadata) {
        return Err(problem);
    }
    let (created_at, updated_at) = timestamps(&m.id, m.created_at, m.updated_at, ctx.now)?;
    if !seen.insert(identity_id) {
        return Err(ImportProblem::new(
            ProblemCode::DuplicateMember,
            &m.id,
            format!(
                "identity {identity_id} already has a membership in this org from the document"
            ),
        ));
    }
    Ok(MemberImport {
        identity_id,
        role,
        public_metadata: m.public_metadata.clone(),
        private_metadata: m.private_metadata.clone(),
        created_at,
        updated_at,
    })
}

fn plan_invitations(
    bundle: &OrgBundle,
    ctx: &PlanContext<'_>,
    report: &mut OrgReport,
    problems: &mut Vec<ImportProblem>,
) -> (Vec<InvitationImport>, Vec<usize>) {
    let mut invitations = Vec::new();
    let mut rows = Vec::new();
    let mut emails: HashSet<String> = HashSet::new();
    for inv in &bundle.invitations {
        let email = kratos_lowercase(inv.email_address.trim());
        report.invitations.push(InvitationReport {
            clerk_id: inv.id.clone(),
            email_address: email.clone(),
            status: RowStatus::Skipped,
        });
        match invitation_import(inv, email, ctx, &mut emails) {
            Ok(import) => {
                rows.push(report.invitations.len() - 1);
                invitations.push(import);
            }
            Err(problem) => problems.push(problem),
        }
    }
    (invitations, rows)
}

fn invitation_import(
    inv: &ClerkInvitation,
    email: String,
    ctx: &PlanContext<'_>,
    emails: &mut HashSet<String>,
) -> Result<InvitationImport, ImportProblem> {
    if inv.status != "pending" {
        return Err(ImportProblem::new(
            ProblemCode::InvitationNotPending,
            &inv.id,
            format!(
                "the invitation is {}; only pending ones are imported",
                inv.status
            ),
        ));
    }
    if !email.contains('@') || email.len() > 320 {
        return Err(ImportProblem::field(
            &inv.id,
            "email_address",
            "is not an e-mail address",
        ));
    }
    let role = role_problem(&inv.role, &inv.id, ctx.known_roles)?;
    if let Some(problem) = metadata_problem(&inv.id, &inv.public_metadata, &inv.private_metadata) {
        return Err(problem);
    }
    let (created_at, updated_at) = timestamps(&inv.id, inv.created_at, inv.updated_at, ctx.now)?;
    let expires_at = match inv.expires_at {
        None => None,
        Some(ms) => Some(from_millis(ms).ok_or_else(|| {
            ImportProblem::field(
                &inv.id,
                "expires_at",
                "is not a valid Unix millisecond timestamp",
            )
        })?),
    };
    if !emails.insert(email.clone()) {
        return Err(ImportProblem::new(
            ProblemCode::DuplicateInvitation,
            &inv.id,
            format!("{email} has another pending invitation to this org in the document"),
        ));
    }
    let inviter_id = inv
        .inviter_id
        .as_ref()
        .and_then(|u| ctx.mapping.get(u).copied().flatten())
        .map(|(id, _)| id);
    Ok(InvitationImport {
        clerk_id: inv.id.clone(),
        email_address: email,
        role,
        inviter_id,
        public_metadata: inv.public_metadata.clone(),
        private_metadata: inv.private_metadata.clone(),
        expires_at,
        created_at,
        updated_at,
    })
}

impl OrgPlan {
    /// Fills the report in from what the store did (or, for a dry run, would do).
    pub fn finish(mut self, outcome: OrgImportOutcome, dry_run: bool) -> OrgReport {
        let applied = match outcome {
            OrgImportOutcome::SlugConflict => {
                let slug = self.report.slug.clone().unwrap_or_default();
                self.report.problems.push(ImportProblem::new(
                    ProblemCode::SlugConflict,
                    &self.report.clerk_id,
                    format!(
                        "another organization already has the slug {slug:?}; the org is skipped \
                         (it is never renamed silently: to import it under another slug, run the \
                         import again with slug_overrides {{\"{}\": \"<new-slug>\"}})",
                        self.report.clerk_id
                    ),
                ));
                skip_all(&mut self.report);
                return self.report;
            }
            OrgImportOutcome::Applied(applied) => applied,
        };
        self.fill(&applied, dry_run);
        self.report
    }

    fn fill(&mut self, applied: &AppliedOrg, dry_run: bool) {
        let report = &mut self.report;
        report.status = applied.status;
        let created_by_dry_run = dry_run && applied.status == RowStatus::Created;
        report.id = (!created_by_dry_run).then_some(applied.org_id);
        for (row, status) in self.member_rows.iter().zip(&applied.members) {
            report.memberships[*row].status = *status;
        }
        for (row, status) in self.invitation_rows.iter().zip(&applied.invitations) {
            let invitation = &mut report.invitations[*row];
            invitation.status = *status;
            if *status == RowStatus::Skipped {
                report.problems.push(ImportProblem::new(
                    ProblemCode::DuplicateInvitation,
                    &invitation.clerk_id,
                    format!(
                        "{} already has a pending invitation to this org in Polis",
                        invitation.email_address
                    ),
                ));
            }
        }
        self.enrollment.fill(report, applied);
        if !applied.has_admin {
            report.problems.push(ImportProblem::new(
                ProblemCode::OrgWithoutAdmin,
                &report.clerk_id,
                "no member can manage members; admin API keys can still manage the org",
            ));
        }
    }

    /// Skips the whole org because writing it failed or Kratos did not answer.
    pub fn fail(mut self, problem: ImportProblem) -> OrgReport {
        self.report.problems.push(problem);
        skip_all(&mut self.report);
        self.report
    }
}

#[cfg(test)]
mod tests;
