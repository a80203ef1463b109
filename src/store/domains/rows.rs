//! How domains are read: their columns (with the pending enrollment they hold) and the
//! rows as the store returns them, verification status applied at "now".

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Domain;
use crate::domain::domains::{CodeState, EnrollmentMode, VerificationStrategy};

/// The columns of a [`DomainRow`]; `$now` is the parameter binding "now" (for counting
/// invitations that have not expired).
pub(super) fn domain_columns(now: usize) -> String {
    format!(
        "d.id, d.org_id, d.name, d.enrollment_mode, d.verified_at, d.verification_strategy, \
         d.affiliation_email_address, d.code_hash, d.code_expires_at, d.code_attempts, \
         d.code_sent_at, d.clerk_id, d.created_at, d.updated_at, \
         (SELECT COUNT(*) FROM invitations i WHERE i.domain_id = d.id AND i.status = 'pending' \
          AND (i.expires_at IS NULL OR i.expires_at > ${now})) AS total_pending_invitations, \
         (SELECT COUNT(*) FROM org_suggestions s WHERE s.domain_id = d.id \
          AND s.status = 'pending') AS total_pending_suggestions"
    )
}

#[derive(sqlx::FromRow)]
pub(super) struct DomainRow {
    id: Uuid,
    org_id: Uuid,
    name: String,
    enrollment_mode: String,
    verified_at: Option<DateTime<Utc>>,
    verification_strategy: Option<String>,
    affiliation_email_address: Option<String>,
    pub(super) code_hash: Option<String>,
    code_expires_at: Option<DateTime<Utc>>,
    code_attempts: i32,
    code_sent_at: Option<DateTime<Utc>>,
    clerk_id: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    total_pending_invitations: i64,
    total_pending_suggestions: i64,
}

impl DomainRow {
    pub(super) fn name(&self) -> &str {
        &self.name
    }

    pub(super) fn code_state(&self) -> CodeState<'_> {
        CodeState {
            verified: self.verified_at.is_some(),
            code_hash: self.code_hash.as_deref(),
            expires_at: self.code_expires_at,
            attempts: self.code_attempts,
        }
    }

    pub(super) fn at(self, now: DateTime<Utc>) -> Domain {
        let status = self.code_state().status(now);
        Domain {
            verification_status: status,
            id: self.id,
            org_id: self.org_id,
            name: self.name,
            // The CHECK constraint admits only known modes.
            enrollment_mode: EnrollmentMode::parse(&self.enrollment_mode).unwrap_or_default(),
            verified_at: self.verified_at,
            verification_strategy: self
                .verification_strategy
                .as_deref()
                .and_then(VerificationStrategy::parse),
            affiliation_email_address: self.affiliation_email_address,
            code_attempts: self.code_attempts,
            code_expires_at: self.code_expires_at,
            code_sent_at: self.code_sent_at,
            clerk_id: self.clerk_id,
            total_pending_invitations: self.total_pending_invitations,
            total_pending_suggestions: self.total_pending_suggestions,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}
