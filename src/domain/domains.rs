//! Verified domains: what a valid domain name is, which names are never accepted (common
//! mail providers), which addresses count as "at" a domain, enrollment modes, and the
//! 6-digit affiliation codes (their generation, hashing, expiry and attempt budget).

use std::collections::BTreeSet;
use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// At most this many domains per organization (Clerk's limit).
pub const MAX_DOMAINS_PER_ORG: i64 = 10;
/// An affiliation code is valid this long after it was sent.
pub const CODE_TTL_MINUTES: i64 = 10;
/// Wrong codes accepted against one code before it is burned.
pub const MAX_CODE_ATTEMPTS: i32 = 5;
/// A new code for the same domain may be sent once this many seconds have passed.
pub const CODE_RESEND_SECONDS: i64 = 60;

/// Longest domain name in its ASCII form (RFC 1035, without the trailing dot).
const MAX_NAME_LEN: usize = 253;
const MAX_LABEL_LEN: usize = 63;

/// What a verified domain does for identities with a verified address at it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentMode {
    /// Nothing automatic: members are invited by hand.
    #[default]
    ManualInvitation,
    /// Matching identities get a pending invitation with the default role.
    AutomaticInvitation,
    /// Matching identities see the org as a suggestion and may request to join.
    AutomaticSuggestion,
}

impl EnrollmentMode {
    pub fn as_str(self) -> &'static str {
        match self {
            EnrollmentMode::ManualInvitation => "manual_invitation",
            EnrollmentMode::AutomaticInvitation => "automatic_invitation",
            EnrollmentMode::AutomaticSuggestion => "automatic_suggestion",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "manual_invitation" => Some(EnrollmentMode::ManualInvitation),
            "automatic_invitation" => Some(EnrollmentMode::AutomaticInvitation),
            "automatic_suggestion" => Some(EnrollmentMode::AutomaticSuggestion),
            _ => None,
        }
    }

    /// Whether the mode enrolls identities without a manager in the loop.
    pub fn is_automatic(self) -> bool {
        self != EnrollmentMode::ManualInvitation
    }
}

/// How a domain became verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerificationStrategy {
    /// A 6-digit code sent to an address at the domain was entered.
    EmailCode,
    /// The identity that created it already had a verified address at the domain.
    VerifiedAddress,
    /// Imported from Clerk as verified.
    Import,
    /// Created (or marked verified) by an admin API key.
    Admin,
}

impl VerificationStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            VerificationStrategy::EmailCode => "email_code",
            VerificationStrategy::VerifiedAddress => "verified_address",
            VerificationStrategy::Import => "import",
            VerificationStrategy::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "email_code" => Some(VerificationStrategy::EmailCode),
            "verified_address" => Some(VerificationStrategy::VerifiedAddress),
            "import" => Some(VerificationStrategy::Import),
            "admin" => Some(VerificationStrategy::Admin),
            _ => None,
        }
    }
}

/// Where a domain's affiliation verification stands (Clerk's statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerificationStatus {
    Unverified,
    Verified,
    /// The last code was burned by too many wrong attempts: request a new one.
    Failed,
    /// The last code expired unused: request a new one.
    Expired,
}

/// A domain's verification as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeState<'a> {
    pub verified: bool,
    /// SHA-256 of the live code; `None` once used, burned, or never sent.
    pub code_hash: Option<&'a str>,
    pub expires_at: Option<DateTime<Utc>>,
    pub attempts: i32,
}

impl CodeState<'_> {
    /// The status callers see at `now`.
    pub fn status(&self, now: DateTime<Utc>) -> VerificationStatus {
        if self.verified {
            VerificationStatus::Verified
        } else if self.attempts >= MAX_CODE_ATTEMPTS {
            VerificationStatus::Failed
        } else if self.code_hash.is_some() && self.expires_at.is_some_and(|at| at <= now) {
            VerificationStatus::Expired
        } else {
            VerificationStatus::Unverified
        }
    }
}

/// What an entered code does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The code matches: the domain becomes verified and the code is used up.
    Verified,
    /// Wrong code: counted; `burned` when it was the last one the budget allowed.
    Wrong { burned: bool },
    /// Already verified: nothing to do.
    AlreadyVerified,
    /// No live code: none was sent, it was used, or it was burned.
    NoCode,
    /// The code expired before it was entered.
    Expired,
}

/// Judges `code` against `state` at `now`, comparing hashes in constant time.
pub fn attempt(state: &CodeState<'_>, domain_id: Uuid, code: &str, now: DateTime<Utc>) -> Attempt {
    if state.verified {
        return Attempt::AlreadyVerified;
    }
    let Some(hash) = state.code_hash else {
        return Attempt::NoCode;
    };
    if state.attempts >= MAX_CODE_ATTEMPTS {
        return Attempt::NoCode;
    }
    if state.expires_at.is_none_or(|at| at <= now) {
        return Attempt::Expired;
    }
    if code_matches(domain_id, code.trim(), hash) {
        Attempt::Verified
    } else {
        Attempt::Wrong {
            burned: state.attempts + 1 >= MAX_CODE_ATTEMPTS,
        }
    }
}

/// A fresh 6-digit code, uniform over 000000–999999, from the operating system's CSPRNG.
pub fn generate_code() -> String {
    let n: u32 = rand::rngs::OsRng.gen_range(0..1_000_000);
    format!("{n:06}")
}

/// When a code sent at `now` expires.
pub fn code_expiry(now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::minutes(CODE_TTL_MINUTES)
}

/// Seconds to wait before another code may be sent, if a code sent at `sent_at` is too
/// recent at `now`.
pub fn resend_wait(sent_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<u64> {
    let sent_at = sent_at?;
    let ready = sent_at + Duration::seconds(CODE_RESEND_SECONDS);
    (ready > now).then(|| u64::try_from((ready - now).num_seconds().max(1)).unwrap_or(1))
}

/// What is stored in place of a code: SHA-256 over the domain's id and the code, so one
/// hash says nothing about another domain's code. (A 6-digit code cannot withstand an
/// offline search whatever the hash; what protects it is the attempt budget and expiry.)
pub fn hash_code(domain_id: Uuid, code: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(domain_id.as_bytes());
    hasher.update(b":");
    hasher.update(code.as_bytes());
    hex::encode(hasher.finalize())
}

fn code_matches(domain_id: Uuid, code: &str, stored_hash: &str) -> bool {
    hash_code(domain_id, code)
        .as_bytes()
        .ct_eq(stored_hash.as_bytes())
        .into()
}

/// Why a domain name is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    /// Not a valid name: the message says why.
    Invalid(&'static str),
    /// A common mail provider (or a subdomain of one): nobody's organization owns it.
    Blocked,
}

/// Normalises a domain name to lower-case ASCII (IDNA/UTS #46, so `Bücher.example`
/// becomes `xn--bcher-kva.example`), dropping one trailing dot, and refuses what cannot
/// be an organization's domain: IP addresses, wildcards, single labels, labels outside
/// letters, digits and inner hyphens, an all-numeric top-level label, and over-long names.
pub fn normalize_name(raw: &str) -> Result<String, &'static str> {
    let trimmed = raw.trim();
    let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Err("must not be empty");
    }
    if trimmed.contains('*') {
        return Err("must not be a wildcard");
    }
    let unbracketed = trimmed.trim_start_matches('[').trim_end_matches(']');
    if unbracketed.parse::<IpAddr>().is_ok() {
        return Err("must be a domain name, not an IP address");
    }
    let ascii = idna::domain_to_ascii(trimmed).map_err(|_| "is not a valid domain name")?;
    check_ascii_name(&ascii)?;
    Ok(ascii)
}

fn check_ascii_name(name: &str) -> Result<(), &'static str> {
    if name.len() > MAX_NAME_LEN {
        return Err("must be at most 253 characters long");
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return Err("must have at least two labels, like example.com");
    }
    for label in &labels {
        let ldh = label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if label.is_empty() || label.len() > MAX_LABEL_LEN || !ldh {
            return Err("labels must be 1-63 letters, digits or hyphens");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("labels must not start or end with a hyphen");
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("must be a domain name, not an IP address");
    }
    Ok(())
}

/// The normalised domain part of an e-mail address, if it has a valid one.
pub fn address_domain(address: &str) -> Option<String> {
    let (_, domain) = address.trim().rsplit_once('@')?;
    normalize_name(domain).ok()
}

/// Whether `address` is at exactly `domain` (already normalised). Subdomains do not
/// match: `ada@eu.acme.com` is not at `acme.com` (an org adds `eu.acme.com` on its own),
/// so a domain's reach is never wider than what its verification proved.
pub fn address_matches(address: &str, domain: &str) -> bool {
    address_domain(address).is_some_and(|d| d == domain)
}

/// The common mail providers shipped as blocked: nobody's organization owns them.
pub const COMMON_PROVIDERS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "outlook.de",
    "outlook.fr",
    "hotmail.com",
    "hotmail.co.uk",
    "hotmail.de",
    "hotmail.fr",
    "live.com",
    "live.co.uk",
    "msn.com",
    "passport.com",
    "yahoo.com",
    "yahoo.co.uk",
    "yahoo.co.jp",
    "yahoo.de",
    "yahoo.fr",
    "ymail.com",
    "rocketmail.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "aim.com",
    "proton.me",
    "protonmail.com",
    "protonmail.ch",
    "pm.me",
    "tutanota.com",
    "tuta.io",
    "gmx.com",
    "gmx.de",
    "gmx.net",
    "gmx.at",
    "gmx.ch",
    "web.de",
    "t-online.de",
    "freenet.de",
    "mail.com",
    "email.com",
    "yandex.ru",
    "yandex.com",
    "ya.ru",
    "mail.ru",
    "bk.ru",
    "inbox.ru",
    "list.ru",
    "rambler.ru",
    "zoho.com",
    "zohomail.com",
    "qq.com",
    "foxmail.com",
    "163.com",
    "126.com",
    "yeah.net",
    "sina.com",
    "naver.com",
    "daum.net",
    "hanmail.net",
    "fastmail.com",
    "fastmail.fm",
    "hey.com",
    "orange.fr",
    "wanadoo.fr",
    "free.fr",
    "laposte.net",
    "libero.it",
    "virgilio.it",
    "btinternet.com",
    "comcast.net",
    "verizon.net",
    "att.net",
    "sbcglobal.net",
    "rediffmail.com",
    "seznam.cz",
    "wp.pl",
    "o2.pl",
    "interia.pl",
    "mailinator.com",
    "guerrillamail.com",
    "10minutemail.com",
];

/// The names refused as domains: the shipped list, plus or instead of the configured one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockList {
    names: BTreeSet<String>,
}

impl BlockList {
    /// `configured` names (normalised) added to the shipped list, or replacing it.
    pub fn new(configured: &[String], replace: bool) -> BlockList {
        let shipped = COMMON_PROVIDERS.iter().map(|name| (*name).to_owned());
        let configured = configured
            .iter()
            .filter_map(|name| normalize_name(name).ok());
        let names = if replace {
            configured.collect()
        } else {
            shipped.chain(configured).collect()
        };
        BlockList { names }
    }

    /// Whether `name` (normalised) is blocked: listed, or a subdomain of a listed name.
    pub fn blocks(&self, name: &str) -> bool {
        let mut rest = name;
        loop {
            if self.names.contains(rest) {
                return true;
            }
            match rest.split_once('.') {
                Some((_, parent)) => rest = parent,
                None => return false,
            }
        }
    }
}

impl Default for BlockList {
    fn default() -> Self {
        BlockList::new(&[], false)
    }
}

/// A name as an org may add it: valid, and not blocked.
pub fn check_name(raw: &str, blocked: &BlockList) -> Result<String, NameError> {
    let name = normalize_name(raw).map_err(NameError::Invalid)?;
    if blocked.blocks(&name) {
        return Err(NameError::Blocked);
    }
    Ok(name)
}

pub mod budget;
#[cfg(test)]
mod tests;
