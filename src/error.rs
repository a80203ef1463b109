//! The one error type every route returns, and its status policy: client errors
//! carry a stable machine `code`; 5xx bodies never carry internal text.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::validation::FieldError;
use crate::domain::{Denied, DirectAddDisabled};
use crate::store::StoreError;

/// Stable, machine-readable problem codes. Clients branch on these, never on `detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidJson,
    UnsupportedMediaType,
    PayloadTooLarge,
    ValidationFailed,
    Unauthenticated,
    Forbidden,
    OriginNotAllowed,
    AalRequired,
    IdentityProviderUnavailable,
    OrgNotFound,
    MemberNotFound,
    RoleNotFound,
    RouteNotFound,
    MethodNotAllowed,
    SlugTaken,
    AlreadyMember,
    UnknownRole,
    IdentityNotFound,
    MembershipQuotaExceeded,
    LastAdmin,
    RoleInUse,
    RoleExists,
    InvitationNotFound,
    InvitationExists,
    InvitationNotPending,
    InvitationEmailMismatch,
    RoleNotGrantable,
    DirectAddDisabled,
    DatabaseUnavailable,
    RateLimited,
    InternalError,
    /// An OAuth2 access token without the scope the request needs.
    InsufficientScope,
    WebhookNotFound,
    EventNotFound,
    /// An e-mail was asked for, but Polis has no SMTP server configured.
    EmailNotConfigured,
    /// The invitation's last e-mail was queued less than a minute ago.
    ResendTooSoon,
    SuggestionNotFound,
    MembershipRequestNotFound,
    MembershipRequestNotPending,
    DomainNotFound,
    /// The org already has this domain.
    DomainExists,
    /// The org has ten domains, the most allowed.
    DomainQuotaExceeded,
    /// The domain cannot be verified by this org (another org of the instance has).
    DomainTaken,
    DomainAlreadyVerified,
    /// A common mail provider (or a blocked name): no org owns it.
    DomainBlocked,
    /// The affiliation address is not at the domain.
    DomainAddressMismatch,
    /// No live verification code: request one (again).
    VerificationCodeMissing,
    VerificationCodeExpired,
    VerificationCodeInvalid,
}

impl ErrorCode {
    pub fn status(self) -> StatusCode {
        use ErrorCode::*;
        match self {
            InvalidJson => StatusCode::BAD_REQUEST,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ValidationFailed
            | UnknownRole
            | IdentityNotFound
            | DomainBlocked
            | DomainAddressMismatch
            | VerificationCodeExpired
            | VerificationCodeInvalid => StatusCode::UNPROCESSABLE_ENTITY,
            Unauthenticated => StatusCode::UNAUTHORIZED,
            Forbidden
            | OriginNotAllowed
            | AalRequired
            | InvitationEmailMismatch
            | RoleNotGrantable
            | DirectAddDisabled
            | InsufficientScope => StatusCode::FORBIDDEN,
            OrgNotFound
            | MemberNotFound
            | RoleNotFound
            | RouteNotFound
            | InvitationNotFound
            | WebhookNotFound
            | EventNotFound
            | SuggestionNotFound
            | MembershipRequestNotFound
            | DomainNotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            SlugTaken
            | AlreadyMember
            | MembershipQuotaExceeded
            | LastAdmin
            | RoleInUse
            | RoleExists
            | InvitationExists
            | InvitationNotPending
            | MembershipRequestNotPending
            | DomainExists
            | DomainQuotaExceeded
            | DomainTaken
            | DomainAlreadyVerified
            | VerificationCodeMissing
            | EmailNotConfigured => StatusCode::CONFLICT,
            IdentityProviderUnavailable | DatabaseUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            RateLimited | ResendTooSoon => StatusCode::TOO_MANY_REQUESTS,
            InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn as_str(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// An RFC 9457 problem document, served as `application/problem+json`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type: `urn:polis:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: ErrorCode,
    /// Every invalid field, for `validation_failed`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(nullable = false)]
    pub errors: Vec<FieldError>,
    /// Where to send the browser to step up to AAL2 (for `aal_required`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub redirect_browser_to: Option<String>,
    /// For `verification_code_invalid`: how many more codes may be tried before the
    /// code is burned and a new one must be sent (0: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub remaining_attempts: Option<u32>,
    /// The request's `X-Request-Id`, to quote when reporting the problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub request_id: Option<String>,
}

impl Problem {
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    detail: String,
    errors: Vec<FieldError>,
    redirect_browser_to: Option<String>,
    retry_after: Option<u64>,
    remaining_attempts: Option<u32>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            errors: Vec::new(),
            redirect_browser_to: None,
            retry_after: None,
            remaining_attempts: None,
        }
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        let mut err = Self::new(
            ErrorCode::ValidationFailed,
            format!("invalid fields: {}", fields.join(", ")),
        );
        err.errors = errors;
        err
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError {
            field: field.to_owned(),
            message: message.into(),
        }])
    }

    pub fn aal_required(redirect_browser_to: Option<String>) -> Self {
        let mut err = Self::new(
            ErrorCode::AalRequired,
            "the session must be stepped up to a second factor",
        );
        err.redirect_browser_to = redirect_browser_to;
        err
    }

    /// 429: the caller may try again after `retry_after_secs` (sent as `Retry-After`).
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        let mut err = Self::new(
            ErrorCode::RateLimited,
            "too many requests; retry after the time given in Retry-After",
        );
        err.retry_after = Some(retry_after_secs.max(1));
        err
    }

    /// A 500 whose cause is logged here and never sent to the client.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(ErrorCode::InternalError, "internal error")
    }

    /// 409 `email_not_configured`: an e-mail asked for (an invitation's `send_email: true`,
    /// a resend, a domain's verification code) without SMTP.
    pub fn email_not_configured() -> Self {
        Self::new(
            ErrorCode::EmailNotConfigured,
            "Polis sends no e-mail: POLIS_SMTP_URL is not set",
        )
    }

    pub fn invitation_not_found() -> Self {
        Self::new(ErrorCode::InvitationNotFound, "no such invitation")
    }

    pub fn org_not_found() -> Self {
        Self::new(ErrorCode::OrgNotFound, "no such organization")
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn to_problem(&self) -> Problem {
        let status = self.code.status();
        Problem {
            kind: format!("urn:polis:problem:{}", self.code.as_str()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.detail.clone(),
            code: self.code,
            errors: self.errors.clone(),
            redirect_browser_to: self.redirect_browser_to.clone(),
            remaining_attempts: self.remaining_attempts,
            request_id: None,
        }
    }
}

/// The body is complete without a request id; the problem also travels in the
/// response's extensions, so the request-id middleware can add `request_id` to it.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.to_problem();
        let status = self.code.status();
        let mut response = (status, problem.to_json()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response.extensions_mut().insert(problem);
        response
    }
}

impl From<DirectAddDisabled> for ApiError {
    fn from(_: DirectAddDisabled) -> Self {
        ApiError::new(
            ErrorCode::DirectAddDisabled,
            "identities add members by invitation here (POST /orgs/{org}/invitations); \
             only API keys add by identity id",
        )
    }
}

impl From<Denied> for ApiError {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::Hidden => ApiError::org_not_found(),
            Denied::Forbidden => ApiError::new(
                ErrorCode::Forbidden,
                "the caller lacks the permission for this action",
            ),
            Denied::NotGrantable => ApiError::new(
                ErrorCode::RoleNotGrantable,
                "the role, or the member acted on, holds a permission the caller does not",
            ),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        use ErrorCode::*;
        match err {
            StoreError::OrgNotFound => ApiError::org_not_found(),
            StoreError::Denied(denied) => denied.into(),
            StoreError::MemberNotFound => ApiError::new(MemberNotFound, "no such member"),
            StoreError::RoleNotFound => ApiError::new(RoleNotFound, "no such role"),
            StoreError::SlugTaken => ApiError::new(SlugTaken, "another organization has this slug"),
            StoreError::AlreadyMember => {
                ApiError::new(AlreadyMember, "the identity is already a member")
            }
            StoreError::UnknownRole(role) => {
                ApiError::new(UnknownRole, format!("no role with key {role:?}"))
            }
            StoreError::QuotaExceeded => ApiError::new(
                MembershipQuotaExceeded,
                "the organization has reached max_allowed_memberships",
            ),
            StoreError::LastAdmin => ApiError::new(
                LastAdmin,
                "the organization must keep at least one member who can manage members",
            ),
            StoreError::RoleInUse => {
                ApiError::new(RoleInUse, "the role is assigned to members or configured")
            }
            StoreError::RoleExists => ApiError::new(RoleExists, "a role with this key exists"),
            StoreError::InvitationNotFound => ApiError::invitation_not_found(),
            StoreError::InvitationExists => ApiError::new(
                InvitationExists,
                "this address already has a pending invitation to the organization",
            ),
            StoreError::InvitationNotPending(status) => ApiError::new(
                InvitationNotPending,
                format!("the invitation is {}, not pending", status.as_str()),
            ),
            StoreError::AddressNotVerified => ApiError::new(
                InvitationEmailMismatch,
                "accepting needs a verified e-mail address equal to the invited one",
            ),
            StoreError::SuggestionNotFound => {
                ApiError::new(SuggestionNotFound, "no such suggestion")
            }
            StoreError::MembershipRequestNotFound => {
                ApiError::new(MembershipRequestNotFound, "no such membership request")
            }
            StoreError::MembershipRequestNotPending(status) => ApiError::new(
                MembershipRequestNotPending,
                format!("the membership request is {}, not pending", status.as_str()),
            ),
            StoreError::InvalidMetadata { field, message } => ApiError::field(field, message),
            StoreError::ResendTooSoon { retry_after_secs } => {
                let mut err = ApiError::new(
                    ResendTooSoon,
                    "the invitation was e-mailed less than a minute ago; retry after Retry-After",
                );
                err.retry_after = Some(retry_after_secs.max(1));
                err
            }
            StoreError::DomainNotFound
            | StoreError::DomainExists
            | StoreError::DomainQuotaExceeded
            | StoreError::DomainTaken
            | StoreError::DomainAlreadyVerified
            | StoreError::DomainAddressMismatch
            | StoreError::CodeRecentlySent { .. }
            | StoreError::VerificationCodeMissing
            | StoreError::VerificationCodeExpired
            | StoreError::VerificationCodeInvalid { .. } => domain_error(err),
            StoreError::Database(ref db) if is_unavailable(db) => {
                tracing::error!(error = %err, "database unavailable");
                ApiError::new(DatabaseUnavailable, "the database is unavailable")
            }
            StoreError::Database(ref db) if is_unstorable_text(db) => ApiError::field(
                "body",
                "contains a character the database cannot store (such as U+0000)",
            ),
            other => ApiError::internal(&other),
        }
    }
}

/// The problems of verified domains.
fn domain_error(err: StoreError) -> ApiError {
    use ErrorCode::*;
    match err {
        StoreError::DomainExists => {
            ApiError::new(DomainExists, "the organization already has this domain")
        }
        StoreError::DomainQuotaExceeded => ApiError::new(
            DomainQuotaExceeded,
            "an organization may have at most 10 domains",
        ),
        // Neutral on purpose: it does not say which organization, or whether one did.
        StoreError::DomainTaken => ApiError::new(
            DomainTaken,
            "this domain cannot be verified by this organization",
        ),
        StoreError::DomainAlreadyVerified => {
            ApiError::new(DomainAlreadyVerified, "the domain is already verified")
        }
        StoreError::DomainAddressMismatch => ApiError::new(
            DomainAddressMismatch,
            "the e-mail address must be at the domain itself (not a subdomain)",
        ),
        StoreError::CodeRecentlySent { retry_after } => ApiError::rate_limited(retry_after),
        StoreError::VerificationCodeMissing => ApiError::new(
            VerificationCodeMissing,
            "no verification code is pending (none was sent, it was used, or too many \
             wrong attempts burned it): request a new one",
        ),
        StoreError::VerificationCodeExpired => ApiError::new(
            VerificationCodeExpired,
            "the verification code expired: request a new one",
        ),
        StoreError::VerificationCodeInvalid { remaining } => {
            let detail = if remaining == 0 {
                "wrong code; no attempts remain: request a new one".to_owned()
            } else {
                format!("wrong code; {remaining} attempt(s) remain")
            };
            let mut err = ApiError::new(VerificationCodeInvalid, detail);
            err.remaining_attempts = u32::try_from(remaining).ok();
            err
        }
        _ => ApiError::new(DomainNotFound, "no such domain"),
    }
}

/// The database is down, restarting, overloaded or (SQLite) locked past the busy
/// timeout: 503, which clients may retry.
fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => {
            let Some(code) = db.code() else {
                return false;
            };
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
                code.parse::<i32>()
                    .is_ok_and(|code| matches!(code & 0xff, 5 | 6))
            } else {
                is_postgres_unavailable(&code)
            }
        }
        _ => false,
    }
}

/// SQLSTATEs of a server going away or refusing work for now: connection exceptions
/// (class 08), shutdown by an administrator or a crash (57P01, 57P02), starting up
/// (57P03), too many connections (53300), and `statement_timeout` (57014).
fn is_postgres_unavailable(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300" | "57014")
}

/// PostgreSQL refuses NUL in text and JSON (SQLSTATE 22021, 22P05): the client's
/// input, not a server fault.
fn is_unstorable_text(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|code| code == "22021" || code == "22P05")
}
