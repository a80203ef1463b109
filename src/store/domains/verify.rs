//! Affiliation verification: a 6-digit code sent to an address at the domain, entered
//! back within ten minutes, single-use, five wrong tries at most.

use uuid::Uuid;

use super::budget::{lock_budget, save_budget};
use super::{domain_enrolls, emit_domain, load_domain, lock_for_manager, mark_verified, Domain};
use crate::domain::domains::{
    address_matches, attempt as judge, code_expiry, hash_code, resend_wait, Attempt,
    VerificationStrategy, CODE_TTL_MINUTES, MAX_CODE_ATTEMPTS,
};
use crate::domain::email::{EmailAbout, EmailMessage, OutgoingEmail};
use crate::store::db::{query, Db};
use crate::store::emails::{cancel_emails, enqueue_email};
use crate::store::events::EventType;
use crate::store::{Change, StoreError, StoreResult};

/// A code to send to an address at the domain.
#[derive(Clone)]
pub struct VerificationRequest {
    /// Lower-cased.
    pub address: String,
    /// The 6-digit code; only its hash is kept on the domain (the queued e-mail holds
    /// it until sent).
    pub code: String,
    /// Named in the e-mail.
    pub org_name: String,
    /// The e-mail's language (BCP-47); `None`: English.
    pub locale: Option<String>,
}

impl std::fmt::Debug for VerificationRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationRequest")
            .field("address", &self.address)
            .field("code", &"[redacted]")
            .field("org_name", &self.org_name)
            .field("locale", &self.locale)
            .finish()
    }
}

pub(super) async fn prepare(
    db: &Db,
    org: Uuid,
    id: Uuid,
    request: VerificationRequest,
    change: Change<'_>,
) -> StoreResult<Domain> {
    let now = change.now;
    let mut tx = db.begin_write().await?;
    let domain = lock_for_manager(&mut tx, org, id, change).await?.at(now);
    if domain.verified_at.is_some() {
        return Err(StoreError::DomainAlreadyVerified);
    }
    if !address_matches(&request.address, &domain.name) {
        return Err(StoreError::DomainAddressMismatch);
    }
    if let Some(retry_after) = resend_wait(domain.code_sent_at, now) {
        return Err(StoreError::CodeRecentlySent { retry_after });
    }
    let mut budget = lock_budget(&mut tx, &domain.name, now).await?;
    if let Some(retry_after) = budget.code_wait(now) {
        return Err(StoreError::CodeRecentlySent { retry_after });
    }
    budget.codes_sent += 1;
    save_budget(&mut tx, &domain.name, budget).await?;
    query(
        "UPDATE org_domains SET affiliation_email_address = $2, code_hash = $3, \
         code_expires_at = $4, code_attempts = 0, code_sent_at = $5, updated_at = $5 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(&request.address)
    .bind(hash_code(id, &request.code))
    .bind(code_expiry(now))
    .bind(now)
    .execute(&mut tx)
    .await?;
    // The last code no longer works: its e-mail, if still queued, is not sent.
    cancel_emails(&mut tx, EmailAbout::Domain(id), now).await?;
    enqueue_email(&mut tx, &code_email(id, &domain.name, request), now).await?;
    let prepared = load_domain(&mut tx, org, id, now).await?;
    emit_domain(&mut tx, change, EventType::DomainUpdated, &prepared).await?;
    tx.commit().await?;
    Ok(prepared)
}

fn code_email(id: Uuid, domain: &str, request: VerificationRequest) -> OutgoingEmail {
    OutgoingEmail {
        to: request.address,
        locale: request.locale,
        message: EmailMessage::DomainVerificationCode {
            org_name: request.org_name,
            domain: domain.to_owned(),
            code: request.code,
            expires_in_minutes: u32::try_from(CODE_TTL_MINUTES).unwrap_or(10),
        },
        about: Some(EmailAbout::Domain(id)),
    }
}

pub(super) async fn attempt(
    db: &Db,
    org: Uuid,
    id: Uuid,
    code: &str,
    change: Change<'_>,
) -> StoreResult<Domain> {
    let now = change.now;
    let mut tx = db.begin_write().await?;
    let row = lock_for_manager(&mut tx, org, id, change).await?;
    let mut budget = lock_budget(&mut tx, row.name(), now).await?;
    if let Some(retry_after) = budget.attempt_wait(now) {
        if row.code_state().verified {
            return Err(StoreError::DomainAlreadyVerified);
        }
        return Err(StoreError::CodeRecentlySent { retry_after });
    }
    match judge(&row.code_state(), id, code, now) {
        Attempt::AlreadyVerified => Err(StoreError::DomainAlreadyVerified),
        Attempt::NoCode => Err(StoreError::VerificationCodeMissing),
        Attempt::Expired => Err(StoreError::VerificationCodeExpired),
        Attempt::Wrong { burned } => {
            // Counted in a write of its own that commits before the refusal: a wrong
            // code always costs one of the five tries.
            query(
                "UPDATE org_domains SET code_attempts = code_attempts + 1, \
                 code_hash = CASE WHEN code_attempts + 1 >= $3 THEN NULL ELSE code_hash END, \
                 updated_at = $2 WHERE id = $1",
            )
            .bind(id)
            .bind(now)
            .bind(MAX_CODE_ATTEMPTS)
            .execute(&mut tx)
            .await?;
            budget.wrong_codes += 1;
            save_budget(&mut tx, row.name(), budget).await?;
            let counted = load_domain(&mut tx, org, id, now).await?;
            emit_domain(&mut tx, change, EventType::DomainUpdated, &counted).await?;
            tx.commit().await?;
            Err(StoreError::VerificationCodeInvalid {
                remaining: if burned {
                    0
                } else {
                    MAX_CODE_ATTEMPTS - counted.code_attempts
                },
            })
        }
        Attempt::Verified => {
            mark_verified(&mut tx, id, VerificationStrategy::EmailCode, now).await?;
            cancel_emails(&mut tx, EmailAbout::Domain(id), now).await?;
            let verified = load_domain(&mut tx, org, id, now).await?;
            emit_domain(&mut tx, change, EventType::DomainUpdated, &verified).await?;
            domain_enrolls(&mut tx, &verified, now).await?;
            tx.commit().await?;
            Ok(verified)
        }
    }
}
