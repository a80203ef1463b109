//! Who is making a request, once authentication has succeeded.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// What an API key may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyScope {
    /// Everything, including imports, roles and private metadata.
    Admin,
    /// Read-only access to every organization.
    Read,
}

impl ApiKeyScope {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiKeyScope::Admin => "admin",
            ApiKeyScope::Read => "read",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(ApiKeyScope::Admin),
            "read" => Some(ApiKeyScope::Read),
            _ => None,
        }
    }
}

/// The authenticated caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A Kratos identity, proven by a session Kratos accepted.
    Identity(IdentityCaller),
    /// A Polis API key (service or admin caller).
    ApiKey(ApiKeyCaller),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityCaller {
    pub id: Uuid,
    /// E-mail addresses Kratos reports as verified for this identity.
    pub verified_emails: Vec<String>,
    /// True when the session arrived as a browser cookie: such requests get CSRF checks.
    pub via_cookie: bool,
    /// What proved the identity: a Kratos session, or a Hydra access token acting for it.
    pub credential: IdentityCredential,
}

/// How an identity proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityCredential {
    /// A Kratos session: the identity's own account, with its session for the active org.
    Session(SessionRef),
    /// A Hydra OAuth2 access token whose subject is the identity. Its scopes were checked
    /// against the request's method when it was authenticated; it has no Kratos session.
    AccessToken(AccessTokenGrant),
}

/// A Kratos session, as whoami described it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRef {
    pub id: Uuid,
    pub expires_at: Option<DateTime<Utc>>,
}

/// What an introspected access token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenGrant {
    /// The OAuth2 client the token was issued to.
    pub client_id: String,
    pub scopes: Vec<String>,
}

impl IdentityCaller {
    /// The caller's Kratos session; `None` for access-token callers.
    pub fn session(&self) -> Option<SessionRef> {
        match &self.credential {
            IdentityCredential::Session(session) => Some(*session),
            IdentityCredential::AccessToken(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyCaller {
    pub id: Uuid,
    pub name: String,
    pub scope: ApiKeyScope,
}

impl Caller {
    pub fn identity_id(&self) -> Option<Uuid> {
        match self {
            Caller::Identity(identity) => Some(identity.id),
            Caller::ApiKey(_) => None,
        }
    }

    /// A short, non-secret description for logs and audit fields.
    pub fn log_label(&self) -> String {
        match self {
            Caller::Identity(IdentityCaller {
                id,
                credential: IdentityCredential::AccessToken(grant),
                ..
            }) => format!("identity:{id} client:{}", grant.client_id),
            Caller::Identity(identity) => format!("identity:{}", identity.id),
            Caller::ApiKey(key) => format!("api_key:{}", key.id),
        }
    }
}
