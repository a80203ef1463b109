//! What an org-claims token says and how a permission check is answered. Token claims
//! use Clerk's flat names (`org_id`, `org_slug`, `org_role`, `org_permissions`), so a
//! backend that read Clerk's session token reads these the same way. Claims are a
//! snapshot: a role change shows in new tokens at once and in old ones when they expire.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::role::has_permission;

/// The claims of a token from `POST /me/token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgClaims {
    pub iss: String,
    pub sub: Uuid,
    /// The Kratos session; absent for a caller that came with an OAuth2 access token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub org: Option<OrgClaim>,
}

/// The caller's membership in the org the token is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgClaim {
    pub org_id: Uuid,
    pub org_slug: String,
    pub org_role: String,
    pub org_permissions: Vec<String>,
}

/// Who a token is for and when it is issued.
pub struct TokenSubject {
    pub identity: Uuid,
    pub session: Option<Uuid>,
    pub issued_at: DateTime<Utc>,
    pub ttl: chrono::Duration,
    pub jti: String,
}

impl OrgClaims {
    pub fn new(issuer: String, subject: TokenSubject, org: Option<OrgClaim>) -> OrgClaims {
        let iat = subject.issued_at.timestamp();
        OrgClaims {
            iss: issuer,
            sub: subject.identity,
            sid: subject.session,
            iat,
            nbf: iat,
            exp: (subject.issued_at + subject.ttl).timestamp(),
            jti: subject.jti,
            org,
        }
    }

    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.exp, 0).unwrap_or_default()
    }
}

/// What a permission check asks beyond membership.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requirement<'a> {
    pub permission: Option<&'a str>,
    pub role: Option<&'a str>,
}

/// Whether a member with `role` and `permissions` meets `requirement`: a member meets an
/// empty one; a non-member (`None`) meets none.
pub fn is_allowed(membership: Option<(&str, &[String])>, requirement: Requirement<'_>) -> bool {
    let Some((role, permissions)) = membership else {
        return false;
    };
    requirement.role.is_none_or(|wanted| wanted == role)
        && requirement
            .permission
            .is_none_or(|wanted| has_permission(permissions, wanted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_use_clerks_names_and_a_ttl() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let claims = OrgClaims::new(
            "https://polis.example.com".into(),
            TokenSubject {
                identity: Uuid::nil(),
                session: None,
                issued_at: now,
                ttl: chrono::Duration::seconds(60),
                jti: "j".into(),
            },
            Some(OrgClaim {
                org_id: Uuid::nil(),
                org_slug: "acme".into(),
                org_role: "org:admin".into(),
                org_permissions: vec!["org:sys_profile:manage".into()],
            }),
        );
        let json = serde_json::to_value(&claims).unwrap();
        assert_eq!(json["exp"], 1_700_000_060);
        assert_eq!(json["nbf"], json["iat"]);
        assert_eq!(json["org_role"], "org:admin");
        assert_eq!(json["org_slug"], "acme");
        assert!(json.get("sid").is_none(), "{json}");
        assert!(json.get("org").is_none(), "flattened: {json}");
        assert_eq!(claims.expires_at(), now + chrono::Duration::seconds(60));
    }

    #[test]
    fn checks() {
        let perms = vec!["org:invoices:create".to_owned()];
        let member = Some(("org:member", perms.as_slice()));
        let any = Requirement::default();
        let create = Requirement {
            permission: Some("org:invoices:create"),
            role: None,
        };
        let admin = Requirement {
            permission: None,
            role: Some("org:admin"),
        };
        assert!(is_allowed(member, any));
        assert!(is_allowed(member, create));
        assert!(!is_allowed(member, admin));
        assert!(!is_allowed(
            member,
            Requirement {
                role: Some("org:member"),
                permission: Some("org:x:y")
            }
        ));
        assert!(!is_allowed(None, any));
    }
}
