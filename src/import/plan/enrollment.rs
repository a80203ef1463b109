//! The domains and membership requests of one Clerk org: which go in, which are skipped
//! and why. Pure, like the rest of the plan.

use std::collections::{HashMap, HashSet};

use super::{timestamps, OrgBundle, PlanContext};
use crate::domain::domains::{check_name, EnrollmentMode, NameError, MAX_DOMAINS_PER_ORG};
use crate::import::clerk::{ClerkDomain, ClerkMembershipRequest};
use crate::import::report::{
    DomainReport, ImportProblem, MembershipRequestReport, OrgReport, ProblemCode,
};
use crate::store::{
    AppliedOrg, AppliedRequest, DomainImport, DomainNote, MemberImport, RequestImport, RowStatus,
};

/// For each domain and request to write, its row in the org's report.
#[derive(Debug, Default)]
pub struct Rows {
    domains: Vec<usize>,
    requests: Vec<usize>,
}

/// Plans the bundle's domains and requests, adding their report rows (skipped until
/// written) and problems.
pub fn plan(
    bundle: &OrgBundle,
    ctx: &PlanContext<'_>,
    members: &[MemberImport],
    report: &mut OrgReport,
    problems: &mut Vec<ImportProblem>,
) -> (Vec<DomainImport>, Vec<RequestImport>, Rows) {
    let mut rows = Rows::default();
    let mut domains = Vec::new();
    let mut names = HashSet::new();
    for domain in &bundle.domains {
        match domain_import(domain, ctx, &mut names, problems) {
            Ok(import) => {
                report.domains.push(DomainReport {
                    clerk_id: domain.id.clone(),
                    name: import.name.clone(),
                    verified: import.verified,
                    status: RowStatus::Skipped,
                });
                rows.domains.push(report.domains.len() - 1);
                domains.push(import);
            }
            Err(problem) => {
                report.domains.push(DomainReport {
                    clerk_id: domain.id.clone(),
                    name: domain.name.clone(),
                    verified: domain.verified,
                    status: RowStatus::Skipped,
                });
                problems.push(problem);
            }
        }
    }
    let members: HashSet<_> = members.iter().map(|m| m.identity_id).collect();
    let mut requesters = HashSet::new();
    let mut requests = Vec::new();
    for request in &bundle.requests {
        let identity = ctx
            .mapping
            .get(&request.user_id)
            .copied()
            .flatten()
            .map(|(id, _)| id);
        report.membership_requests.push(MembershipRequestReport {
            clerk_id: request.id.clone(),
            user_id: request.user_id.clone(),
            identity_id: identity,
            status: RowStatus::Skipped,
        });
        let planned = request_import(request, identity, ctx, (&members, &mut requesters));
        match planned {
            Ok(import) => {
                rows.requests.push(report.membership_requests.len() - 1);
                requests.push(import);
            }
            Err(problem) => problems.push(problem),
        }
    }
    (domains, requests, rows)
}

fn domain_import(
    domain: &ClerkDomain,
    ctx: &PlanContext<'_>,
    names: &mut HashSet<String>,
    problems: &mut Vec<ImportProblem>,
) -> Result<DomainImport, ImportProblem> {
    let name = check_name(&domain.name, ctx.blocked).map_err(|e| match e {
        NameError::Invalid(message) => ImportProblem::field(&domain.id, "name", message),
        NameError::Blocked => ImportProblem::field(
            &domain.id,
            "name",
            "is a common mail provider (or blocked here): no org may have it",
        ),
    })?;
    if !names.insert(name.clone()) {
        return Err(ImportProblem::new(
            ProblemCode::DuplicateDomain,
            &domain.id,
            format!("{name} appears twice for this org in the document"),
        ));
    }
    if i64::try_from(names.len()).unwrap_or(i64::MAX) > MAX_DOMAINS_PER_ORG {
        return Err(ImportProblem::new(
            ProblemCode::DomainQuotaExceeded,
            &domain.id,
            "an org may have at most 10 domains; skipped",
        ));
    }
    let enrollment_mode = EnrollmentMode::parse(&domain.enrollment_mode).unwrap_or_else(|| {
        problems.push(ImportProblem::new(
            ProblemCode::UnsupportedEnrollmentMode,
            &domain.id,
            format!(
                "enrollment mode {:?} is not supported; imported as manual_invitation",
                domain.enrollment_mode
            ),
        ));
        EnrollmentMode::ManualInvitation
    });
    let (created_at, updated_at) =
        timestamps(&domain.id, domain.created_at, domain.updated_at, ctx.now)?;
    Ok(DomainImport {
        clerk_id: domain.id.clone(),
        name,
        enrollment_mode,
        verified: domain.verified,
        affiliation_email_address: domain.affiliation_email_address.clone(),
        created_at,
        updated_at,
    })
}

fn request_import(
    request: &ClerkMembershipRequest,
    identity: Option<uuid::Uuid>,
    ctx: &PlanContext<'_>,
    (members, requesters): (&HashSet<uuid::Uuid>, &mut HashSet<uuid::Uuid>),
) -> Result<RequestImport, ImportProblem> {
    if request.status != "pending" {
        return Err(ImportProblem::new(
            ProblemCode::RequestNotPending,
            &request.id,
            format!(
                "the request is {}; only pending ones are imported",
                request.status
            ),
        ));
    }
    let Some(identity_id) = identity else {
        return Err(ImportProblem::new(
            ProblemCode::UnmappedUser,
            &request.id,
            format!("user {} maps to no Kratos identity", request.user_id),
        ));
    };
    if members.contains(&identity_id) || !requesters.insert(identity_id) {
        return Err(ImportProblem::new(
            ProblemCode::DuplicateRequest,
            &request.id,
            format!(
                "user {} is a member, or has another pending request in the document",
                request.user_id
            ),
        ));
    }
    let (created_at, updated_at) =
        timestamps(&request.id, request.created_at, request.updated_at, ctx.now)?;
    Ok(RequestImport {
        clerk_id: request.id.clone(),
        identity_id,
        created_at,
        updated_at,
    })
}

impl Rows {
    /// Fills the rows in from what the store did, with a problem for each hold-back.
    pub fn fill(&self, report: &mut OrgReport, applied: &AppliedOrg) {
        for (row, outcome) in self.domains.iter().zip(&applied.domains) {
            let domain = &mut report.domains[*row];
            domain.status = outcome.status;
            if let Some(note) = outcome.note {
                domain.verified &= note != DomainNote::VerifiedElsewhere;
                report
                    .problems
                    .push(domain_problem(&domain.clerk_id, &domain.name, note));
            }
        }
        for (row, outcome) in self.requests.iter().zip(&applied.requests) {
            let request = &mut report.membership_requests[*row];
            request.status = match outcome {
                AppliedRequest::Done(status) => *status,
                AppliedRequest::AlreadyMember | AppliedRequest::Duplicate => {
                    report.problems.push(ImportProblem::new(
                        ProblemCode::DuplicateRequest,
                        &request.clerk_id,
                        "the identity is a member, or has another pending request to this org \
                         in Polis",
                    ));
                    RowStatus::Skipped
                }
            };
        }
    }
}

fn domain_problem(clerk_id: &str, name: &str, note: DomainNote) -> ImportProblem {
    match note {
        DomainNote::VerifiedElsewhere => ImportProblem::new(
            ProblemCode::DomainVerifiedElsewhere,
            clerk_id,
            format!("another organization has verified {name}; imported unverified"),
        ),
        DomainNote::NameTaken => ImportProblem::new(
            ProblemCode::DuplicateDomain,
            clerk_id,
            format!("the org already has {name} in Polis; skipped"),
        ),
        DomainNote::QuotaExceeded => ImportProblem::new(
            ProblemCode::DomainQuotaExceeded,
            clerk_id,
            "the org already has 10 domains in Polis; skipped",
        ),
    }
}

/// Domains and requests naming an org that is not in the document.
pub fn orphans(
    domains: &HashMap<String, Vec<ClerkDomain>>,
    requests: &HashMap<String, Vec<ClerkMembershipRequest>>,
    org_ids: &[String],
) -> Vec<ImportProblem> {
    let known: HashSet<&str> = org_ids.iter().map(String::as_str).collect();
    let problem = |id: &str, org: &str| {
        ImportProblem::new(
            ProblemCode::UnknownOrganization,
            id,
            format!("belongs to {org}, which is not in the document's organizations; skipped"),
        )
    };
    let mut out: Vec<ImportProblem> = domains
        .iter()
        .filter(|(org, _)| !known.contains(org.as_str()))
        .flat_map(|(org, items)| items.iter().map(move |d| problem(&d.id, org)))
        .collect();
    out.extend(
        requests
            .iter()
            .filter(|(org, _)| !known.contains(org.as_str()))
            .flat_map(|(org, items)| items.iter().map(move |r| problem(&r.id, org))),
    );
    out.sort_by(|a, b| a.clerk_id.cmp(&b.clerk_id));
    out
}
