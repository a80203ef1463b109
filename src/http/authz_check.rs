//! `POST /authz/check`: up to a hundred permission checks in one request and one database
//! round trip, answered in order. Each item stands alone: a malformed or unknown one gets
//! its own problem, and the others still answer.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::openapi::PROBLEM_CONTENT_TYPE;
use super::AppJson;
use crate::domain::claims::{is_allowed, Requirement};
use crate::domain::org::OrgRef;
use crate::domain::role::{validate_permission_key, validate_role_key};
use crate::domain::{authorize, Action, Caller};
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use crate::store::{MembershipQuery, OrgMembershipFacts};

/// Most checks in one request.
pub const MAX_CHECKS: usize = 100;

/// The longest org reference (a slug is at most 64 characters, a Clerk id about 30).
const MAX_ORG_REF_LEN: usize = 256;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(authz_check))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// 1 to 100 checks, answered in this order.
    #[schema(min_items = 1, max_items = 100)]
    pub checks: Vec<CheckItem>,
}

/// One question: may `identity_id` (the caller when omitted) do this in `org`? With
/// neither `permission` nor `role`, membership alone answers.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckItem {
    /// The org's UUID, slug or Clerk id (`org_…`).
    pub org: String,
    /// A permission key, `org:<feature>:<action>`.
    #[serde(default)]
    pub permission: Option<String>,
    /// A role key, `org:<name>`.
    #[serde(default)]
    pub role: Option<String>,
    /// A Kratos identity id (UUID). Identities may ask only about themselves and may
    /// leave it out; API keys must name one. Checked per item, so it is a plain string.
    #[serde(default)]
    pub identity_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResponse {
    /// One result per check, in the order asked.
    pub results: Vec<CheckResult>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResult {
    pub allowed: bool,
    /// The identity's role in the org; `null` when it is not a member.
    #[schema(required = true)]
    pub role: Option<String>,
    /// The identity's permissions in the org, when it is a member.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub permissions: Option<Vec<String>>,
    /// Why this check could not be answered: `validation_failed`, `forbidden` (an identity
    /// asking about another) or `org_not_found` (no such org, or one an identity caller is
    /// not a member of, told apart from nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub error: Option<Problem>,
}

impl CheckResult {
    fn failed(error: &ApiError) -> CheckResult {
        CheckResult {
            allowed: false,
            role: None,
            permissions: None,
            error: Some(error.to_problem()),
        }
    }
}

/// An org reference from a body: any UUID, slug or Clerk id, but not empty, not huge and
/// without control characters.
pub fn org_ref(raw: &str) -> Result<OrgRef, String> {
    if raw.is_empty() || raw.len() > MAX_ORG_REF_LEN || raw.chars().any(char::is_control) {
        return Err(format!(
            "must be an org's UUID, slug or Clerk id (1 to {MAX_ORG_REF_LEN} characters)"
        ));
    }
    Ok(OrgRef::parse(raw))
}

/// Check several permissions at once, for backends: identities about themselves, read
/// and admin API keys about anyone. A non-member is `allowed: false`.
#[utoipa::path(
    post, path = "/authz/check", tag = "authz", operation_id = "checkPermissions",
    request_body = CheckRequest,
    responses(
        (status = 200, description = "One result per check, in order", body = CheckResponse),
        (status = 422, description = "`validation_failed`: not 1 to 100 checks, or a check that is not an object", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn authz_check(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(request): AppJson<CheckRequest>,
) -> ApiResult<AppJson<CheckResponse>> {
    let count = request.checks.len();
    if !(1..=MAX_CHECKS).contains(&count) {
        return Err(ApiError::field(
            "checks",
            format!("must hold 1 to {MAX_CHECKS} checks, not {count}"),
        ));
    }
    let parsed: Vec<Result<ParsedCheck<'_>, ApiError>> = request
        .checks
        .iter()
        .enumerate()
        .map(|(i, item)| parse(&caller, i, item))
        .collect();
    let questions: Vec<MembershipQuery> = parsed
        .iter()
        .filter_map(|p| p.as_ref().ok().map(|p| p.question.clone()))
        .collect();
    let mut answers = state.store.check_memberships(&questions).await?.into_iter();
    let results = parsed
        .into_iter()
        .map(|check| match check {
            Ok(check) => answer(&caller, &check, answers.next().flatten()),
            Err(error) => CheckResult::failed(&error),
        })
        .collect();
    Ok(AppJson(CheckResponse { results }))
}

struct ParsedCheck<'a> {
    question: MembershipQuery,
    requirement: Requirement<'a>,
}

/// Validates item `i` and authorizes the caller to ask it.
fn parse<'a>(caller: &Caller, i: usize, item: &'a CheckItem) -> ApiResult<ParsedCheck<'a>> {
    let field = |name: &str| format!("checks[{i}].{name}");
    let org = org_ref(&item.org).map_err(|m| ApiError::field(&field("org"), m))?;
    let identity = match (&item.identity_id, caller.identity_id()) {
        (Some(raw), _) => Uuid::try_parse(raw)
            .map_err(|_| ApiError::field(&field("identity_id"), "must be a UUID"))?,
        (None, Some(me)) => me,
        (None, None) => {
            return Err(ApiError::field(
                &field("identity_id"),
                "is required when an API key asks",
            ))
        }
    };
    if let Some(permission) = &item.permission {
        validate_permission_key(permission)
            .map_err(|m| ApiError::field(&field("permission"), m))?;
    }
    if let Some(role) = &item.role {
        validate_role_key(role).map_err(|m| ApiError::field(&field("role"), m))?;
    }
    authorize(
        caller,
        Action::CheckPermissions {
            identity_id: identity,
        },
        None,
    )?;
    Ok(ParsedCheck {
        question: MembershipQuery { org, identity },
        requirement: Requirement {
            permission: item.permission.as_deref(),
            role: item.role.as_deref(),
        },
    })
}

/// The answer to one check. Whether the caller may see the org at all is `authorize`'s
/// call, as for every org-scoped route: identities see only their own orgs.
fn answer(
    caller: &Caller,
    check: &ParsedCheck<'_>,
    facts: Option<OrgMembershipFacts>,
) -> CheckResult {
    let Some(facts) = facts else {
        return CheckResult::failed(&ApiError::org_not_found());
    };
    let membership = facts.membership.as_ref();
    let permissions = membership.map(|m| m.permissions.as_slice());
    if let Err(denied) = authorize(caller, Action::ReadOrg, permissions) {
        return CheckResult::failed(&denied.into());
    }
    CheckResult {
        allowed: is_allowed(
            membership.map(|m| (m.role.as_str(), m.permissions.as_slice())),
            check.requirement,
        ),
        role: membership.map(|m| m.role.clone()),
        permissions: membership.map(|m| m.permissions.clone()),
        error: None,
    }
}
