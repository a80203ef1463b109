//! Enrollment by verified domain: which e-mail domain an address belongs to, the modes a
//! domain enrolls by, and the states of suggestions and membership requests.
//!
//! The rules (README "Joining by domain"):
//! - An identity with a verified address at a verified domain of an org it is not a
//!   member of is enrolled by the domain's mode: `automatic_invitation` gives it a
//!   pending invitation with the default role, `automatic_suggestion` suggests the org,
//!   `manual_invitation` does nothing and reveals nothing.
//! - Polis invites an address to an org automatically once: an invitation to that org
//!   for that address which is pending, accepted, declined or revoked (whoever created
//!   it) means the question was answered; only an expired one lets a new one be made.
//!   An org is suggested to an identity once (one row per identity and org).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use uuid::Uuid;

pub use super::domains::{address_domain, EnrollmentMode};

/// A suggestion's state. `withdrawn` (by the domain's `delete_pending`) is never shown.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SuggestionStatus {
    Pending,
    Accepted,
    Withdrawn,
}

impl SuggestionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SuggestionStatus::Pending => "pending",
            SuggestionStatus::Accepted => "accepted",
            SuggestionStatus::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            SuggestionStatus::Pending,
            SuggestionStatus::Accepted,
            SuggestionStatus::Withdrawn,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
    }
}

/// A membership request's state.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Pending,
    Accepted,
    Rejected,
    Withdrawn,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Accepted => "accepted",
            RequestStatus::Rejected => "rejected",
            RequestStatus::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            RequestStatus::Pending,
            RequestStatus::Accepted,
            RequestStatus::Rejected,
            RequestStatus::Withdrawn,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
    }
}

/// A request may be accepted or rejected while pending only.
pub fn check_decidable(status: RequestStatus) -> Result<(), RequestStatus> {
    if status == RequestStatus::Pending {
        Ok(())
    } else {
        Err(status)
    }
}

/// A verified domain whose mode enrolls automatically, as the enrollment cache holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AutomaticDomain {
    pub id: Uuid,
    pub mode: EnrollmentMode,
}

/// What an identity's last enrollment was evaluated against: its verified addresses and
/// the automatic domains among their domains. While both are the same, evaluating again
/// changes nothing (the domain side of later changes is enrolled when the domain changes).
pub fn fingerprint(addresses: &[String], relevant: &[AutomaticDomain]) -> u64 {
    let mut addresses: Vec<&String> = addresses.iter().collect();
    addresses.sort();
    let mut relevant = relevant.to_vec();
    relevant.sort_by_key(|domain| domain.id);
    let mut hasher = DefaultHasher::new();
    addresses.hash(&mut hasher);
    relevant.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip() {
        for mode in [
            "manual_invitation",
            "automatic_invitation",
            "automatic_suggestion",
        ] {
            assert_eq!(EnrollmentMode::parse(mode).unwrap().as_str(), mode);
        }
        assert!(!EnrollmentMode::ManualInvitation.is_automatic());
        for status in ["pending", "accepted", "rejected", "withdrawn"] {
            assert_eq!(RequestStatus::parse(status).unwrap().as_str(), status);
        }
        for status in ["pending", "accepted", "withdrawn"] {
            assert_eq!(SuggestionStatus::parse(status).unwrap().as_str(), status);
        }
        assert_eq!(check_decidable(RequestStatus::Pending), Ok(()));
        assert_eq!(
            check_decidable(RequestStatus::Rejected),
            Err(RequestStatus::Rejected)
        );
    }

    #[test]
    fn fingerprints_ignore_order_and_see_changes() {
        let a = vec!["a@x.com".to_owned(), "b@y.com".to_owned()];
        let b = vec!["b@y.com".to_owned(), "a@x.com".to_owned()];
        let domain = AutomaticDomain {
            id: Uuid::now_v7(),
            mode: EnrollmentMode::AutomaticSuggestion,
        };
        assert_eq!(fingerprint(&a, &[domain]), fingerprint(&b, &[domain]));
        assert_ne!(fingerprint(&a, &[domain]), fingerprint(&a, &[]));
        let invitation = AutomaticDomain {
            mode: EnrollmentMode::AutomaticInvitation,
            ..domain
        };
        assert_ne!(fingerprint(&a, &[domain]), fingerprint(&a, &[invitation]));
    }
}
