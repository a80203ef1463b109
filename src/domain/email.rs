//! What Polis e-mails, as data: the message kinds the templates render, and the rules
//! that keep their secrets (an invitation's acceptance link, a verification code) out of
//! logs and out of the queue once sent.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What an e-mail says; rendered by templates when sent. Stored as JSON in the queue,
/// tagged by `template` (the template's name).
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "template", rename_all = "snake_case")]
pub enum EmailMessage {
    /// An invitation to join an org; `accept_url` carries the acceptance token.
    Invitation {
        org_name: String,
        accept_url: String,
        inviter_name: Option<String>,
        role_name: String,
        expires_at: Option<DateTime<Utc>>,
    },
    /// The code proving control of an address at a domain an org claims.
    DomainVerificationCode {
        org_name: String,
        domain: String,
        code: String,
        expires_in_minutes: u32,
    },
}

/// What stands in for a secret once it is cleared or hidden.
pub const REDACTED: &str = "<redacted>";

impl EmailMessage {
    /// The template's name, as in the JSON tag and the templates directory.
    pub fn template(&self) -> &'static str {
        match self {
            EmailMessage::Invitation { .. } => "invitation",
            EmailMessage::DomainVerificationCode { .. } => "domain_verification_code",
        }
    }

    /// The same message with its secret replaced by [`REDACTED`]: what the queue keeps
    /// once the message is sent or given up on.
    pub fn without_secrets(&self) -> EmailMessage {
        let mut message = self.clone();
        match &mut message {
            EmailMessage::Invitation { accept_url, .. } => *accept_url = redact_url(accept_url),
            EmailMessage::DomainVerificationCode { code, .. } => *code = REDACTED.to_owned(),
        }
        message
    }
}

/// A URL without its query and fragment (where the token travels).
pub fn redact_url(url: &str) -> String {
    match url.find(['?', '#']) {
        Some(at) => format!("{}?{REDACTED}", &url[..at]),
        None => url.to_owned(),
    }
}

impl std::fmt::Debug for EmailMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.without_secrets() {
            EmailMessage::Invitation {
                org_name,
                accept_url,
                inviter_name,
                role_name,
                expires_at,
            } => f
                .debug_struct("Invitation")
                .field("org_name", &org_name)
                .field("accept_url", &accept_url)
                .field("inviter_name", &inviter_name)
                .field("role_name", &role_name)
                .field("expires_at", &expires_at)
                .finish(),
            EmailMessage::DomainVerificationCode {
                org_name,
                domain,
                code,
                expires_in_minutes,
            } => f
                .debug_struct("DomainVerificationCode")
                .field("org_name", &org_name)
                .field("domain", &domain)
                .field("code", &code)
                .field("expires_in_minutes", &expires_in_minutes)
                .finish(),
        }
    }
}

/// One e-mail to queue: to whom, in which language, saying what.
#[derive(Clone, PartialEq)]
pub struct OutgoingEmail {
    /// One address (already checked, e.g. by `invitation::normalize_email`).
    pub to: String,
    /// A BCP-47 tag (`de`, `fr-CA`) choosing the templates' language; `None`: English.
    pub locale: Option<String>,
    pub message: EmailMessage,
    /// What the e-mail is about: its queued e-mails are withdrawn when their secret no
    /// longer works (an invitation revoked or its token rotated, a code replaced or used),
    /// and removed with it.
    pub about: Option<EmailAbout>,
}

/// The record an e-mail carries a secret of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailAbout {
    Invitation(Uuid),
    /// A domain's verification code.
    Domain(Uuid),
}

/// The message's Debug hides its secret; the address is kept (the queue shows it too).
impl std::fmt::Debug for OutgoingEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingEmail")
            .field("to", &self.to)
            .field("locale", &self.locale)
            .field("message", &self.message)
            .field("about", &self.about)
            .finish()
    }
}

/// Checks a BCP-47 language tag as Polis uses it: a 2–3 letter language, then optional
/// subtags of 1–8 letters or digits (`de`, `fr-CA`, `zh-Hant-TW`, `es-419`), at most 35
/// characters. Returns the tag with its language lower-cased and a two-letter region
/// upper-cased (`FR-ca` → `fr-CA`), `_` read as `-`.
pub fn normalize_locale(raw: &str) -> Result<String, String> {
    const MESSAGE: &str = "must be a BCP-47 language tag such as de or fr-CA";
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 35 {
        return Err(MESSAGE.into());
    }
    let mut parts = Vec::new();
    for (i, part) in raw.split(['-', '_']).enumerate() {
        let valid = if i == 0 {
            (2..=3).contains(&part.len()) && part.chars().all(|c| c.is_ascii_alphabetic())
        } else {
            (1..=8).contains(&part.len()) && part.chars().all(|c| c.is_ascii_alphanumeric())
        };
        if !valid {
            return Err(MESSAGE.into());
        }
        parts.push(match (i, part.len()) {
            (0, _) => part.to_ascii_lowercase(),
            (_, 2) if part.chars().all(|c| c.is_ascii_alphabetic()) => part.to_ascii_uppercase(),
            (_, 4) => {
                let lower = part.to_ascii_lowercase();
                let mut chars = lower.chars();
                chars
                    .next()
                    .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            }
            _ => part.to_ascii_lowercase(),
        });
    }
    Ok(parts.join("-"))
}

/// The locales to try for `locale`, most specific first, ending with `en`:
/// `fr-CA` → `fr-CA`, `fr`, `en`.
pub fn locale_fallbacks(locale: Option<&str>) -> Vec<String> {
    let mut chain = Vec::new();
    if let Some(locale) = locale {
        let parts: Vec<&str> = locale.split('-').collect();
        for end in (1..=parts.len()).rev() {
            chain.push(parts[..end].join("-"));
        }
    }
    if !chain.iter().any(|l| l == "en") {
        chain.push("en".to_owned());
    }
    chain
}

/// When a message that failed `attempts` times (from 1) is tried again: 30 s, doubling
/// each time up to one hour; `None` once the next attempt would come more than
/// [`GIVE_UP_AFTER`] after the message was queued.
pub fn next_attempt(
    attempts: u32,
    queued_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let exponent = attempts.saturating_sub(1).min(7);
    let delay = (30_i64 << exponent).min(3600);
    let at = now + chrono::Duration::seconds(delay);
    (at - queued_at <= GIVE_UP_AFTER).then_some(at)
}

/// Whether Polis may e-mail a link to `link`: only when its origin (scheme, host and
/// port, the scheme's default port when none is written) is the origin of one of
/// `trusted` (the app's own pages and origins, from configuration). Anything that is not
/// an absolute http(s) URL is never trusted, nor trusts. Keeps Polis's sender from
/// carrying a link to a page the deployment does not own.
pub fn on_trusted_origin(link: &str, trusted: &[&str]) -> bool {
    let Some(origin) = http_origin(link) else {
        return false;
    };
    trusted
        .iter()
        .filter_map(|url| http_origin(url))
        .any(|allowed| allowed == origin)
}

/// The origin of an absolute http(s) URL.
fn http_origin(url: &str) -> Option<url::Origin> {
    let url = url::Url::parse(url).ok()?;
    (matches!(url.scheme(), "http" | "https") && url.has_host()).then(|| url.origin())
}

/// The shortest time between two e-mails for one invitation (`…/resend`).
pub const RESEND_INTERVAL: chrono::Duration = chrono::Duration::seconds(60);

/// How long Polis keeps trying to send one e-mail.
pub const GIVE_UP_AFTER: chrono::Duration = chrono::Duration::hours(24);

/// How an invitation e-mail names the inviter, from its Kratos traits: `name` (a
/// string, or Kratos's `{first, last}`), else `first_name` and `last_name`, else
/// `username`. Never the inviter's address; `None` when no name is there.
pub fn display_name(traits: &serde_json::Value) -> Option<String> {
    let text = |value: Option<&serde_json::Value>| {
        value
            .and_then(serde_json::Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let joined = |first: Option<String>, last: Option<String>| {
        let parts: Vec<String> = first.into_iter().chain(last).collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    };
    let name = traits.get("name");
    text(name)
        .or_else(|| {
            let name = name?;
            joined(text(name.get("first")), text(name.get("last")))
        })
        .or_else(|| {
            joined(
                text(traits.get("first_name")),
                text(traits.get("last_name")),
            )
        })
        .or_else(|| text(traits.get("username")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invitation() -> EmailMessage {
        EmailMessage::Invitation {
            org_name: "Acme".into(),
            accept_url: "https://app.example.com/join?x=1&invitation_token=SECRET".into(),
            inviter_name: Some("Alice".into()),
            role_name: "Member".into(),
            expires_at: None,
        }
    }

    #[test]
    fn debug_hides_secrets() {
        let code = EmailMessage::DomainVerificationCode {
            org_name: "Acme".into(),
            domain: "acme.com".into(),
            code: "123456".into(),
            expires_in_minutes: 10,
        };
        let email = OutgoingEmail {
            to: "bob@acme.com".into(),
            locale: None,
            message: invitation(),
            about: None,
        };
        let shown = format!("{email:?} {code:?}");
        assert!(
            !shown.contains("SECRET") && !shown.contains("123456"),
            "{shown}"
        );
        assert!(shown.contains("https://app.example.com/join?<redacted>"));
        assert!(shown.contains("bob@acme.com"));
    }

    #[test]
    fn messages_round_trip_as_tagged_json() {
        let json = serde_json::to_value(invitation()).unwrap();
        assert_eq!(json["template"], "invitation");
        let back: EmailMessage = serde_json::from_value(json).unwrap();
        assert_eq!(back, invitation());
        assert_eq!(back.template(), "invitation");
        let cleared = invitation().without_secrets();
        assert!(!serde_json::to_string(&cleared).unwrap().contains("SECRET"));
    }

    #[test]
    fn locales() {
        assert_eq!(normalize_locale("de").unwrap(), "de");
        assert_eq!(normalize_locale("FR_ca").unwrap(), "fr-CA");
        assert_eq!(normalize_locale("zh-hant-tw").unwrap(), "zh-Hant-TW");
        assert_eq!(normalize_locale("es-419").unwrap(), "es-419");
        for bad in [
            "",
            "d",
            "deutsch",
            "de-",
            "de/../x",
            "../en",
            "de-CA-toolongsubtag",
        ] {
            assert!(normalize_locale(bad).is_err(), "{bad}");
        }
        assert_eq!(locale_fallbacks(Some("fr-CA")), ["fr-CA", "fr", "en"]);
        assert_eq!(locale_fallbacks(Some("en-GB")), ["en-GB", "en"]);
        assert_eq!(locale_fallbacks(None), ["en"]);
    }

    #[test]
    fn inviters_are_named_from_their_traits() {
        use serde_json::json;
        assert_eq!(
            display_name(&json!({"name": " Alice "})).as_deref(),
            Some("Alice")
        );
        let kratos = json!({"name": {"first": "Alice", "last": "Liddell"}});
        assert_eq!(display_name(&kratos).as_deref(), Some("Alice Liddell"));
        let flat = json!({"first_name": "Alice", "email": "a@x.com"});
        assert_eq!(display_name(&flat).as_deref(), Some("Alice"));
        assert_eq!(display_name(&json!({"email": "a@x.com"})), None);
    }

    #[test]
    fn links_are_mailed_only_to_trusted_origins() {
        let trusted = [
            "https://app.example.com/accept?from=mail",
            "http://localhost:3000",
        ];
        for ok in [
            "https://app.example.com/join?x=1",
            "https://APP.example.com:443/other",
            "http://localhost:3000/invite",
        ] {
            assert!(on_trusted_origin(ok, &trusted), "{ok}");
        }
        for bad in [
            "https://evil.example.net/join",
            "http://app.example.com/join",
            "https://app.example.com:8443/join",
            "https://app.example.com.evil.net/join",
            "https://app.example.com@evil.net/join",
            "http://localhost:3001/",
            "javascript:alert(1)",
            "not a url",
        ] {
            assert!(!on_trusted_origin(bad, &trusted), "{bad}");
        }
        assert!(!on_trusted_origin("https://app.example.com/", &[]));
        assert!(!on_trusted_origin("data:,x", &["data:,x"]));
    }

    #[test]
    fn retries_back_off_then_stop() {
        let queued = Utc::now();
        let first = next_attempt(1, queued, queued).unwrap();
        assert_eq!(first - queued, chrono::Duration::seconds(30));
        assert_eq!(
            next_attempt(2, queued, queued).unwrap() - queued,
            chrono::Duration::seconds(60)
        );
        assert_eq!(
            next_attempt(20, queued, queued).unwrap() - queued,
            chrono::Duration::hours(1)
        );
        let late = queued + chrono::Duration::hours(23) + chrono::Duration::minutes(30);
        assert_eq!(next_attempt(30, queued, late), None);
    }
}
