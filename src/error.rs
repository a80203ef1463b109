//! The one error type every route returns, and its status policy: client errors
//! carry a stable machine `code`; 5xx bodies never carry internal text.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::validation::FieldError;
use crate::domain::Denied;
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
    DatabaseUnavailable,
    InternalError,
    /// An OAuth2 access token without the scope the request needs.
    InsufficientScope,
}

impl ErrorCode {
    pub fn status(self) -> StatusCode {
        use ErrorCode::*;
        match self {
            InvalidJson => StatusCode::BAD_REQUEST,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ValidationFailed | UnknownRole | IdentityNotFound => StatusCode::UNPROCESSABLE_ENTITY,
            Unauthenticated => StatusCode::UNAUTHORIZED,
            Forbidden
            | OriginNotAllowed
            | AalRequired
            | InvitationEmailMismatch
            | InsufficientScope => StatusCode::FORBIDDEN,
            OrgNotFound | MemberNotFound | RoleNotFound | RouteNotFound | InvitationNotFound => {
                StatusCode::NOT_FOUND
            }
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            SlugTaken
            | AlreadyMember
            | MembershipQuotaExceeded
            | LastAdmin
            | RoleInUse
            | RoleExists
            | InvitationExists
            | InvitationNotPending => StatusCode::CONFLICT,
            IdentityProviderUnavailable | DatabaseUnavailable => StatusCode::SERVICE_UNAVAILABLE,
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
}

#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    detail: String,
    errors: Vec<FieldError>,
    redirect_browser_to: Option<String>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            errors: Vec::new(),
            redirect_browser_to: None,
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

    /// A 500 whose cause is logged here and never sent to the client.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(ErrorCode::InternalError, "internal error")
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
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.to_problem();
        let status = self.code.status();
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
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
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        use ErrorCode::*;
        match err {
            StoreError::OrgNotFound => ApiError::org_not_found(),
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
            StoreError::InvalidMetadata { field, message } => ApiError::field(field, message),
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

/// The database is down, overloaded or (SQLite) locked past the busy timeout: 503.
fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => {
            let is_sqlite = db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some();
            let sqlite_code = db
                .code()
                .filter(|_| is_sqlite)
                .and_then(|code| code.parse::<i32>().ok());
            // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
            sqlite_code.is_some_and(|code| matches!(code & 0xff, 5 | 6))
        }
        _ => false,
    }
}

/// PostgreSQL refuses NUL in text and JSON (SQLSTATE 22021, 22P05): the client's
/// input, not a server fault.
fn is_unstorable_text(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|code| code == "22021" || code == "22P05")
}
