//! The invitation e-mail: whether one is sent, where its link points, and what it says.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::domain::email::{display_name, EmailMessage, OutgoingEmail};
use crate::domain::Caller;
use crate::error::{ApiError, ApiResult};
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

/// Refuses `send_email: true` when Polis sends no e-mail (409 `email_not_configured`).
pub(super) fn check_configured(state: &AppState, asked: bool) -> ApiResult<()> {
    if asked && !state.settings.email.sends() {
        return Err(ApiError::email_not_configured());
    }
    Ok(())
}

/// Whether to e-mail an invitation: as asked, else whenever SMTP is configured and a
/// link can be made. `Err`: asked for without a link (the message for `redirect_url`).
pub(super) fn wants_email(
    state: &AppState,
    asked: Option<bool>,
    has_link: bool,
) -> Result<bool, &'static str> {
    match asked {
        Some(true) if !has_link => Err(
            "is needed to e-mail the invitation (its link points there) \
             unless POLIS_INVITATION_URL is set",
        ),
        Some(asked) => Ok(asked),
        None => Ok(state.settings.email.sends() && has_link),
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
            invitation_id: None,
        }
    }
}
