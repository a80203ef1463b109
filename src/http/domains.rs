//! `/orgs/{org}/domains`: an org's verified domains. Added, listed, read, their
//! enrollment mode changed and deleted with `org:sys_domains:manage` (reading needs
//! `org:sys_domains:read`), and verified by a 6-digit code sent to an address at the
//! domain — or at once when an admin API key adds it, or when the identity adding it
//! already has a verified address there.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::openapi::PROBLEM_CONTENT_TYPE;
use super::problems;
use super::{org_access, AppJson, AppPath, AppQuery, Page, PageParams};
use crate::domain::domains::{
    address_matches, check_name, generate_code, EnrollmentMode, NameError, VerificationStatus,
    VerificationStrategy,
};
use crate::domain::email::normalize_locale;
use crate::domain::{Action, Caller};
use crate::error::{ApiError, ApiResult, ErrorCode, Problem};
use crate::state::AppState;
use crate::store::{Change, Domain, NewDomain, RequestOrigin, VerificationRequest};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(domains_create, domains_list))
        .routes(routes!(domains_get, domains_update, domains_delete))
        .routes(routes!(domains_prepare_verification))
        .routes(routes!(domains_attempt_verification))
}

/// Where a domain's affiliation verification stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct DomainVerification {
    pub status: VerificationStatus,
    /// How it was verified; `email_code` while a code is pending; `null` before.
    #[schema(required = true)]
    pub strategy: Option<VerificationStrategy>,
    /// Wrong codes entered against the last code (5 burn it).
    pub attempts: i32,
    /// When the last code expires (or expired).
    #[schema(required = true)]
    pub expires_at: Option<DateTime<Utc>>,
    #[schema(required = true)]
    pub verified_at: Option<DateTime<Utc>>,
}

/// A domain of an organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct DomainResponse {
    pub id: Uuid,
    pub org_id: Uuid,
    /// Lower-case ASCII (IDNA): `bücher.example` reads `xn--bcher-kva.example`.
    pub name: String,
    pub enrollment_mode: EnrollmentMode,
    pub verified: bool,
    /// Where the last verification code was sent.
    #[schema(required = true)]
    pub affiliation_email_address: Option<String>,
    pub verification: DomainVerification,
    /// Pending invitations this domain made (`automatic_invitation`).
    pub total_pending_invitations: i64,
    /// Pending suggestions this domain made (`automatic_suggestion`).
    pub total_pending_suggestions: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Domain> for DomainResponse {
    fn from(domain: Domain) -> Self {
        let strategy = domain
            .verification_strategy
            .or(domain.code_sent_at.map(|_| VerificationStrategy::EmailCode));
        DomainResponse {
            id: domain.id,
            org_id: domain.org_id,
            name: domain.name,
            enrollment_mode: domain.enrollment_mode,
            verified: domain.verified_at.is_some(),
            affiliation_email_address: domain.affiliation_email_address,
            verification: DomainVerification {
                status: domain.verification_status,
                strategy,
                attempts: domain.code_attempts,
                expires_at: domain.code_expires_at,
                verified_at: domain.verified_at,
            },
            total_pending_invitations: domain.total_pending_invitations,
            total_pending_suggestions: domain.total_pending_suggestions,
            created_at: domain.created_at,
            updated_at: domain.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDomainRequest {
    /// A domain name such as `acme.com` (IDNA accepted); not an IP address, a wildcard,
    /// a single label or a common mail provider.
    pub name: String,
    /// `manual_invitation` when absent.
    pub enrollment_mode: Option<EnrollmentMode>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDomainRequest {
    pub enrollment_mode: Option<EnrollmentMode>,
    /// Also withdraw the pending invitations and suggestions this domain made.
    #[serde(default)]
    pub delete_pending: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrepareVerificationRequest {
    /// An address at the domain itself (not a subdomain); the code is sent there.
    pub email: String,
    /// The e-mail's language, a BCP-47 tag such as `de`; English when absent.
    pub locale: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttemptVerificationRequest {
    /// The 6-digit code from the e-mail.
    pub code: String,
}

/// Polis's `DeletedObject`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedDomain {
    pub id: Uuid,
    pub deleted: bool,
}

/// How a domain added by `caller` is verified at once, if it is: admin API keys verify
/// what they add (as Clerk's Backend API does); an identity does when one of its
/// verified addresses is at the domain.
fn verified_on_creation(caller: &Caller, name: &str) -> Option<VerificationStrategy> {
    match caller {
        Caller::ApiKey(_) => Some(VerificationStrategy::Admin),
        Caller::Identity(identity) => identity
            .verified_emails
            .iter()
            .any(|address| address_matches(address, name))
            .then_some(VerificationStrategy::VerifiedAddress),
    }
}

/// Add a domain. Needs `org:sys_domains:manage`. Verified at once when an admin API key
/// adds it (strategy `admin`) or the caller has a verified address at it (strategy
/// `verified_address`); otherwise verify it with a code.
#[utoipa::path(
    post, path = "/orgs/{org}/domains", tag = "domains", operation_id = "createDomain",
    params(("org" = String, Path, description = "The org's UUID, slug or Clerk id")),
    request_body = CreateDomainRequest,
    responses(
        (status = 201, description = "Created", body = DomainResponse),
        problems::MissingPermission,
        problems::OrgNotFound,
        (status = 409, description = "The org has this domain or ten domains, or (verifying at once) the domain cannot be verified by this org", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        (status = 422, description = "Invalid name, or a common mail provider", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn domains_create(
    State(state): State<AppState>,
    caller: Caller,
    origin: RequestOrigin,
    AppPath(org): AppPath<String>,
    AppJson(body): AppJson<CreateDomainRequest>,
) -> ApiResult<(StatusCode, AppJson<DomainResponse>)> {
    let store = state.store.as_ref();
    let access = org_access(store, &caller, &org, Action::ManageDomains).await?;
    let name =
        check_name(&body.name, &state.settings.domains.block_list()).map_err(|e| match e {
            NameError::Invalid(message) => ApiError::field("name", message),
            NameError::Blocked => ApiError::new(
                ErrorCode::DomainBlocked,
                "common mail providers cannot be an organization's domain",
            ),
        })?;
    let domain = NewDomain {
        verified: verified_on_creation(&caller, &name),
        name,
        enrollment_mode: body.enrollment_mode.unwrap_or_default(),
    };
    let change = Change::new(&caller, state.clock.now()).from_request(&origin);
    let created = store.create_domain(access.org.id, domain, change).await?;
    state.enrollment.domains_changed().await;
    tracing::info!(org = %access.org.id, domain = %created.id, "domain added");
    Ok((StatusCode::CREATED, AppJson(created.into())))
}

/// List an organization's domains. Needs `org:sys_domains:read` (or `…:manage`).
#[utoipa::path(
    get, path = "/orgs/{org}/domains", tag = "domains", operation_id = "listDomains",
    params(("org" = String, Path, description = "The org's UUID, slug or Clerk id"), PageParams),
    responses(
        (status = 200, description = "A page of domains", body = Page<DomainResponse>),
        problems::MissingPermission,
        problems::OrgNotFound,
        problems::InvalidParameters,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn domains_list(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(org): AppPath<String>,
    AppQuery(params): AppQuery<PageParams>,
) -> ApiResult<AppJson<Page<DomainResponse>>> {
    let store = state.store.as_ref();
    let access = org_access(store, &caller, &org, Action::ReadDomains).await?;
    let page = params.to_request()?;
    let rows = store
        .list_domains(access.org.id, page, state.clock.now())
        .await?;
    Ok(AppJson(Page::from_rows(
        rows,
        page,
        |d| d.id,
        DomainResponse::from,
    )))
}

fn domain_id(raw: &str) -> ApiResult<Uuid> {
    Uuid::try_parse(raw).map_err(|_| ApiError::new(ErrorCode::DomainNotFound, "no such domain"))
}

/// Read one domain of the organization.
#[utoipa::path(
    get, path = "/orgs/{org}/domains/{id}", tag = "domains", operation_id = "getDomain",
    params(
        ("org" = String, Path, description = "The org's UUID, slug or Clerk id"),
        ("id" = Uuid, Path, description = "Domain id")
    ),
    responses(
        (status = 200, description = "The domain", body = DomainResponse),
        problems::MissingPermission,
        problems::DomainNotFound,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn domains_get(
    State(state): State<AppState>,
    caller: Caller,
    AppPath((org, id)): AppPath<(String, String)>,
) -> ApiResult<AppJson<DomainResponse>> {
    let store = state.store.as_ref();
    let access = org_access(store, &caller, &org, Action::ReadDomains).await?;
    let domain = store
        .find_domain(access.org.id, domain_id(&id)?, state.clock.now())
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::DomainNotFound, "no such domain"))?;
    Ok(AppJson(domain.into()))
}

/// Change a domain's enrollment mode; `delete_pending` also withdraws the invitations
/// and suggestions it made that are still pending. Needs `org:sys_domains:manage`.
#[utoipa::path(
    patch, path = "/orgs/{org}/domains/{id}", tag = "domains", operation_id = "updateDomain",
    params(
        ("org" = String, Path, description = "The org's UUID, slug or Clerk id"),
        ("id" = Uuid, Path, description = "Domain id")
    ),
    request_body = UpdateDomainRequest,
    responses(
        (status = 200, description = "The changed domain", body = DomainResponse),
        problems::MissingPermission,
        problems::DomainNotFound,
        problems::InvalidFields,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn domains_update(
    State(state): State<AppState>,
    caller: Caller,
    origin: RequestOrigin,
    AppPath((org, id)): AppPath<(String, String)>,
    AppJson(body): AppJson<UpdateDomainRequest>,
) -> ApiResult<AppJson<DomainResponse>> {
    let store = state.store.as_ref();
    let access = org_access(store, &caller, &org, Action::ManageDomains).await?;
    let change = Change::new(&caller, state.clock.now()).from_request(&origin);
    let updated = store
        .update_domain(
            access.org.id,
            domain_id(&id)?,
            body.enrollment_mode,
            body.delete_pending,
            change,
        )
        .await?;
    state.enrollment.domains_changed().await;
    Ok(AppJson(updated.into()))
}

/// Delete a domain; the invitations and suggestions it made that are still pending are
/// withdrawn. Needs `org:sys_domains:manage`.
#[utoipa::path(
    delete, path = "/orgs/{org}/domains/{id}", tag = "domains", operation_id = "deleteDomain",
    params(
        ("org" = String, Path, description = "The org's UUID, slug or Clerk id"),
        ("id" = Uuid, Path, description = "Domain id")
    ),
    responses(
        (status = 200, description = "Deleted", body = DeletedDomain),
        problems::MissingPermission,
        problems::DomainNotFound,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn domains_delete(
    State(state): State<AppState>,
    caller: Caller,
    origin: RequestOrigin,
    AppPath((org, id)): AppPath<(String, String)>,
) -> ApiResult<AppJson<DeletedDomain>> {
    let store = state.store.as_ref();
    let access = org_access(store, &caller, &org, Action::ManageDomains).await?;
    let change = Change::new(&caller, state.clock.now()).from_request(&origin);
    let deleted = store
        .delete_domain(access.org.id, domain_id(&id)?, change)
        .await?;
    state.enrollment.domains_changed().await;
    tracing::info!(org = %access.org.id, domain = %deleted.id, "domain deleted");
    Ok(AppJson(DeletedDomain {
        id: deleted.id,
        deleted: true,
    }))
}

/// Send a 6-digit code to an address at the domain, valid 10 minutes; at most one code
/// a minute per domain. A new code replaces the last one. Needs `org:sys_domains:manage`.
#[utoipa::path(
    post, path = "/orgs/{org}/domains/{id}/verification", tag = "domains", operation_id = "prepareDomainVerification",
    params(
        ("org" = String, Path, description = "The org's UUID, slug or Clerk id"),
        ("id" = Uuid, Path, description = "Domain id")
    ),
    request_body = PrepareVerificationRequest,
    responses(
        (status = 200, description = "The code is on its way", body = DomainResponse),
        problems::MissingPermission,
        problems::DomainNotFound,
        (status = 409, description = "Already verified, or e-mail is not configured", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        (status = 422, description = "The address is not at the domain", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        (status = 429, description = "A code was sent less than a minute ago, or the name's ten codes of the day are spent (see Retry-After)", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn domains_prepare_verification(
    State(state): State<AppState>,
    caller: Caller,
    origin: RequestOrigin,
    AppPath((org, id)): AppPath<(String, String)>,
    AppJson(body): AppJson<PrepareVerificationRequest>,
) -> ApiResult<AppJson<DomainResponse>> {
    let store = state.store.as_ref();
    let access = org_access(store, &caller, &org, Action::ManageDomains).await?;
    super::require_email(&state)?;
    // The same rule as invitations' addresses: a code sent to an address the mail
    // system cannot take would still hold the minute's lock.
    let address = crate::domain::invitation::normalize_email(&body.email)
        .map_err(|message| ApiError::field("email", message))?;
    let locale = body
        .locale
        .as_deref()
        .map(normalize_locale)
        .transpose()
        .map_err(|message| ApiError::field("locale", message))?;
    let request = VerificationRequest {
        address,
        code: generate_code(),
        org_name: access.org.name.clone(),
        locale,
    };
    let change = Change::new(&caller, state.clock.now()).from_request(&origin);
    let prepared = store
        .prepare_domain_verification(access.org.id, domain_id(&id)?, request, change)
        .await?;
    tracing::info!(org = %access.org.id, domain = %prepared.id, "domain verification code sent");
    Ok(AppJson(prepared.into()))
}

/// Enter the code. Five wrong codes burn it; it expires after 10 minutes and works once.
/// A name takes at most ten wrong codes a day, whichever orgs enter them.
/// Needs `org:sys_domains:manage`.
#[utoipa::path(
    post, path = "/orgs/{org}/domains/{id}/verification/attempt", tag = "domains", operation_id = "attemptDomainVerification",
    params(
        ("org" = String, Path, description = "The org's UUID, slug or Clerk id"),
        ("id" = Uuid, Path, description = "Domain id")
    ),
    request_body = AttemptVerificationRequest,
    responses(
        (status = 200, description = "Verified", body = DomainResponse),
        problems::MissingPermission,
        problems::DomainNotFound,
        (status = 409, description = "No code is pending, or the domain cannot be verified by this org", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        (status = 422, description = "Wrong or expired code", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        (status = 429, description = "The name's ten wrong codes of the day, across all orgs, are spent (see Retry-After)", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn domains_attempt_verification(
    State(state): State<AppState>,
    caller: Caller,
    origin: RequestOrigin,
    AppPath((org, id)): AppPath<(String, String)>,
    AppJson(body): AppJson<AttemptVerificationRequest>,
) -> ApiResult<AppJson<DomainResponse>> {
    let store = state.store.as_ref();
    let access = org_access(store, &caller, &org, Action::ManageDomains).await?;
    let code = body.code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::field(
            "code",
            "must be the 6 digits from the e-mail",
        ));
    }
    let change = Change::new(&caller, state.clock.now()).from_request(&origin);
    let verified = store
        .attempt_domain_verification(access.org.id, domain_id(&id)?, code, change)
        .await?;
    state.enrollment.domains_changed().await;
    tracing::info!(org = %access.org.id, domain = %verified.id, "domain verified");
    Ok(AppJson(verified.into()))
}
