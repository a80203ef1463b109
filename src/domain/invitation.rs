//! Invitation rules: addresses, lifetimes, statuses and who may accept.

use chrono::{DateTime, Duration, Utc};

pub const DEFAULT_EXPIRES_IN_DAYS: i64 = 30;
pub const MAX_EXPIRES_IN_DAYS: i64 = 365;
/// Most invitations one bulk request may create.
pub const MAX_BULK: usize = 100;

/// What an invitation's state is, as callers see it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Revoked,
    Declined,
    Expired,
}

impl InvitationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationStatus::Pending => "pending",
            InvitationStatus::Accepted => "accepted",
            InvitationStatus::Revoked => "revoked",
            InvitationStatus::Declined => "declined",
            InvitationStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            InvitationStatus::Pending,
            InvitationStatus::Accepted,
            InvitationStatus::Revoked,
            InvitationStatus::Declined,
            InvitationStatus::Expired,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
    }

    /// The status callers see: a pending invitation past its expiry reads as expired.
    pub fn effective(
        stored: InvitationStatus,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Self {
        match (stored, expires_at) {
            (InvitationStatus::Pending, Some(at)) if at <= now => InvitationStatus::Expired,
            _ => stored,
        }
    }
}

/// Why an invitation cannot be accepted or declined by this caller now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No longer pending (accepted, revoked, declined or expired).
    NotPending(InvitationStatus),
    /// None of the caller's verified addresses is the invited one.
    AddressNotVerified,
}

/// An invitation may be accepted or declined while pending, by an identity holding a
/// verified address equal (ignoring case) to the invited one.
pub fn check_acceptable(
    status: InvitationStatus,
    invited: &str,
    verified_emails: &[String],
) -> Result<(), Refusal> {
    // The address first: someone else must not learn this invitation's state. The
    // invited address is put in the form Kratos stores (see `normalize_email`); the
    // verified ones are Kratos's own values and are compared as they are: folding them
    // again could make two addresses that Kratos keeps apart equal.
    let invited = kratos_lowercase(invited.trim());
    if !verified_emails.contains(&invited) {
        return Err(Refusal::AddressNotVerified);
    }
    if status != InvitationStatus::Pending {
        return Err(Refusal::NotPending(status));
    }
    Ok(())
}

/// Normalizes and checks an e-mail address: trimmed and lower-cased exactly as Kratos
/// stores the addresses it verifies ([`kratos_lowercase`]), one `@` with text on both
/// sides and a dot in the domain, at most 320 characters.
pub fn normalize_email(raw: &str) -> Result<String, String> {
    let email = kratos_lowercase(raw.trim());
    let valid = email.len() <= 320
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if valid {
        Ok(email)
    } else {
        Err("must be an e-mail address".into())
    }
}

/// Lower-cases text as Kratos does before storing an e-mail address (Go's
/// `strings.ToLower`): each character takes its one-character (simple) lower-case
/// mapping. That differs from Rust's `to_lowercase` only where the full mapping has
/// several characters: `İ` (U+0130) becomes `i`, as in Go, not `i̇`. Characters such as
/// the Kelvin sign (U+212A) become `k` in both, so an address typed with one is the
/// ASCII address to Kratos too, and it verifies only through that mailbox.
pub fn kratos_lowercase(text: &str) -> String {
    text.chars()
        .map(|c| {
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(single), None) => single,
                _ if c == '\u{130}' => 'i',
                _ => c,
            }
        })
        .collect()
}

/// When an invitation made at `now` lasting `days` (1–365, default 30) expires.
pub fn expiry(now: DateTime<Utc>, days: Option<i64>) -> Result<DateTime<Utc>, String> {
    let days = days.unwrap_or(DEFAULT_EXPIRES_IN_DAYS);
    if (1..=MAX_EXPIRES_IN_DAYS).contains(&days) {
        Ok(now + Duration::days(days))
    } else {
        Err(format!("must be between 1 and {MAX_EXPIRES_IN_DAYS}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_computed() {
        let now = Utc::now();
        let past = Some(now - Duration::seconds(1));
        let future = Some(now + Duration::days(1));
        use InvitationStatus::*;
        assert_eq!(InvitationStatus::effective(Pending, past, now), Expired);
        assert_eq!(InvitationStatus::effective(Pending, future, now), Pending);
        assert_eq!(InvitationStatus::effective(Pending, None, now), Pending);
        assert_eq!(InvitationStatus::effective(Accepted, past, now), Accepted);
    }

    #[test]
    fn only_verified_matching_addresses_accept_pending_invitations() {
        let mine = vec!["alice@example.com".to_owned()];
        use InvitationStatus::*;
        assert_eq!(
            check_acceptable(Pending, "Alice@Example.com", &mine),
            Ok(())
        );
        assert_eq!(
            check_acceptable(Pending, "bob@example.com", &mine),
            Err(Refusal::AddressNotVerified)
        );
        assert_eq!(
            check_acceptable(Accepted, "alice@example.com", &mine),
            Err(Refusal::NotPending(Accepted))
        );
        assert_eq!(
            check_acceptable(Expired, "alice@example.com", &mine),
            Err(Refusal::NotPending(Expired))
        );
        assert_eq!(
            check_acceptable(Accepted, "bob@example.com", &mine),
            Err(Refusal::AddressNotVerified),
            "a stranger learns nothing about the invitation's state"
        );
    }

    #[test]
    fn addresses_compare_as_kratos_stores_them() {
        // Kratos lower-cases a typed Kelvin sign to `k`: that address is kate@'s.
        assert_eq!(
            normalize_email("\u{212A}ate@example.com").unwrap(),
            "kate@example.com"
        );
        // Go's one-character mapping, not Rust's two-character one.
        assert_eq!(
            normalize_email("\u{130}nfo@example.com").unwrap(),
            "info@example.com"
        );
        // A verified address Kratos kept unfolded is not the ASCII one.
        let kelvin = vec!["\u{212A}ate@example.com".to_owned()];
        assert_eq!(
            check_acceptable(InvitationStatus::Pending, "kate@example.com", &kelvin),
            Err(Refusal::AddressNotVerified)
        );
        let dotted = vec!["i\u{307}nfo@example.com".to_owned()];
        assert_eq!(
            check_acceptable(InvitationStatus::Pending, "info@example.com", &dotted),
            Err(Refusal::AddressNotVerified)
        );
    }

    #[test]
    fn emails() {
        assert_eq!(
            normalize_email(" Alice@Example.COM ").unwrap(),
            "alice@example.com"
        );
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "a@b",
            "a b@example.com",
            "a@@b.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lifetimes() {
        let now = Utc::now();
        assert_eq!(expiry(now, None).unwrap(), now + Duration::days(30));
        assert_eq!(expiry(now, Some(365)).unwrap(), now + Duration::days(365));
        assert!(expiry(now, Some(0)).is_err());
        assert!(expiry(now, Some(366)).is_err());
    }
}
