//! The invitation e-mail: whether one is sent, where its link points, and what it says.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::domain::email::{display_name, on_trusted_origin, EmailMessage, OutgoingEmail};
use crate::domain::Caller;
use crate::error::ApiResult;
use crate::state::AppState;

/// What the accept link starts from: the invitation's `redirect_url`, else
/// `POLIS_INVITATION_URL`; `None`: no link can be made.
pub(super) fn link_base(state: &AppState, redirect_url: Option<&str>) -> Option<String> {
    redirect_url.map(str::to_owned).or_else(|| {
        state
            .settings
            .email
            .invitation_url
            .as_ref()
            .map(|url| url.to_string())
    })
}

/// Why a link cannot be e-mailed: it is not on an origin the deployment owns.
pub(super) const FOREIGN_LINK: &str = "e-mailed links must be on an allowed origin: \
     POLIS_INVITATION_URL or POLIS_CORS_ALLOWED_ORIGINS";

/// Whether Polis may e-mail a link starting at `link`: its origin is that of
/// `POLIS_INVITATION_URL` or one of `POLIS_CORS_ALLOWED_ORIGINS`
/// (`domain::email::on_trusted_origin`).
pub(super) fn may_email(state: &AppState, link: &str) -> bool {
    let origins = state.settings.allowed_origins();
    let app_page = state.settings.email.invitation_url.as_ref();
    let trusted: Vec<&str> = app_page
        .map(url::Url::as_str)
        .into_iter()
        .chain(origins.iter().map(String::as_str))
        .collect();
    on_trusted_origin(link, &trusted)
}

/// Whether to e-mail an invitation whose link starts at `link`: as asked, else whenever
/// SMTP is configured and the link may be e-mailed. `Err`: asked for without a link, or
/// with one Polis may not e-mail (the message for `redirect_url`).
pub(super) fn wants_email(
    state: &AppState,
    asked: Option<bool>,
    link: Option<&str>,
) -> Result<bool, &'static str> {
    let mailable = link.is_some_and(|link| may_email(state, link));
    match asked {
        Some(true) if link.is_none() => Err(
            "is needed to e-mail the invitation (its link points there) \
             unless POLIS_INVITATION_URL is set",
        ),
        Some(true) if !mailable => Err(FOREIGN_LINK),
        Some(asked) => Ok(asked),
        None => Ok(state.settings.email.sends() && mailable),
    }
}

/// What the e-mails of one request have in common: the org, the inviter, role names.
pub(super) struct Letterhead {
    pub org_name: String,
    pub inviter_name: Option<String>,
    role_names: HashMap<String, String>,
}

impl Letterhead {
    /// Reads the inviter's name (from Kratos, cached; none when Kratos does not answer)
    /// and the names of `roles`.
    pub async fn new(
        state: &AppState,
        caller: &Caller,
        org_name: &str,
        roles: &[String],
    ) -> ApiResult<Letterhead> {
        let mut inviter_name = None;
        if let Some(id) = caller.identity_id() {
            if let Ok(lookup) = state.identities.lookup(&[id]).await {
                inviter_name = lookup
                    .identities
                    .get(&id)
                    .and_then(|found| found.as_ref())
                    .and_then(|identity| display_name(&identity.traits));
            }
        }
        let mut role_names = HashMap::new();
        for role in roles {
            if !role_names.contains_key(role) {
                let name = state.store.find_role(role).await?.map(|r| r.name);
                role_names.insert(role.clone(), name.unwrap_or_else(|| role.clone()));
            }
        }
        Ok(Letterhead {
            org_name: org_name.to_owned(),
            inviter_name,
            role_names,
        })
    }

    /// The e-mail inviting `to` with `accept_url`.
    pub fn email(
        &self,
        to: &str,
        locale: Option<String>,
        role: &str,
        accept_url: String,
        expires_at: Option<DateTime<Utc>>,
    ) -> OutgoingEmail {
        OutgoingEmail {
            to: to.to_owned(),
            locale,
            message: EmailMessage::Invitation {
                org_name: self.org_name.clone(),
                accept_url,
                inviter_name: self.inviter_name.clone(),
                role_name: self
                    .role_names
                    .get(role)
                    .cloned()
                    .unwrap_or_else(|| role.to_owned()),
                expires_at,
            },
            about: None,
        }
    }
}
