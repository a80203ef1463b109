//! Creating invitations: every request is checked (naming each bad field), each address
//! is looked up in Kratos, and the store writes all of them or none.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{email, CreateInvitationRequest, CreatedInvitationResponse, InvitationResponse};
use crate::auth::tokens::{random_token, sha256_hex};
use crate::domain::email::normalize_locale;
use crate::domain::invitation;
use crate::domain::validation::{validate_http_url, validate_metadata, FieldErrors};
use crate::domain::{visibility, Action, Caller};
use crate::error::{ApiError, ApiResult};
use crate::http::org_access;
use crate::state::AppState;
use crate::store::{Change, NewInvitation, RequestOrigin};

/// A checked request, ready for the store, and its token.
struct Prepared {
    invitation: NewInvitation,
    token: String,
    /// Where its link points (before the token), if anywhere.
    link: Option<String>,
    /// Whether to e-mail it.
    send: bool,
}

/// What checking one request yields.
#[derive(Default)]
struct Checked {
    email: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    locale: Option<String>,
    link: Option<String>,
    send: bool,
}

/// Checks one request; field names are prefixed with `prefix` (for bulk requests).
fn check_request(
    state: &AppState,
    errors: &mut FieldErrors,
    prefix: &str,
    request: &CreateInvitationRequest,
) -> Checked {
    let field = |name: &str| format!("{prefix}{name}");
    let now = state.clock.now();
    let link = email::link_base(state, request.redirect_url.as_deref());
    let locale = request.locale.as_deref().and_then(|raw| {
        normalize_locale(raw)
            .map_err(|message| errors.add(&field("locale"), message))
            .ok()
    });
    let email = match invitation::normalize_email(&request.email_address) {
        Ok(email) => Some(email),
        Err(message) => {
            errors.add(&field("email_address"), message);
            None
        }
    };
    let expires_at = match invitation::expiry(now, request.expires_in_days) {
        Ok(at) => Some(at),
        Err(message) => {
            errors.add(&field("expires_in_days"), message);
            None
        }
    };
    let send = check_send(
        state,
        errors,
        &field("redirect_url"),
        request,
        link.as_deref(),
    );
    for (name, metadata) in [
        ("public_metadata", &request.public_metadata),
        ("private_metadata", &request.private_metadata),
    ] {
        if let Some(metadata) = metadata {
            errors.check(&field(name), validate_metadata(metadata));
        }
    }
    Checked {
        email,
        expires_at,
        locale,
        link,
        send,
    }
}

/// Checks `redirect_url` and whether to e-mail the invitation (its link starting at
/// `link`); a problem of either is recorded under `field`, once.
fn check_send(
    state: &AppState,
    errors: &mut FieldErrors,
    field: &str,
    request: &CreateInvitationRequest,
    link: Option<&str>,
) -> bool {
    if let Some(Err(message)) = request.redirect_url.as_deref().map(validate_http_url) {
        errors.add(field, message);
        return false;
    }
    email::wants_email(state, request.send_email, link).unwrap_or_else(|message| {
        errors.add(field, message);
        false
    })
}

/// Validates every request (naming each bad field), then looks each address up in
/// Kratos so that inviting an existing member can be refused.
async fn prepare(
    state: &AppState,
    caller: &Caller,
    requests: Vec<CreateInvitationRequest>,
    bulk: bool,
) -> ApiResult<Vec<Prepared>> {
    let sets_private = requests.iter().any(|r| r.private_metadata.is_some());
    visibility(caller).may_set_private_metadata(sets_private)?;
    if requests.iter().any(|r| r.send_email == Some(true)) {
        crate::http::require_email(state)?;
    }
    let mut errors = FieldErrors::new();
    let mut all = Vec::with_capacity(requests.len());
    let mut seen = HashSet::new();
    for (i, request) in requests.into_iter().enumerate() {
        let prefix = if bulk {
            format!("[{i}].")
        } else {
            String::new()
        };
        let checked = check_request(state, &mut errors, &prefix, &request);
        if let Some(email) = &checked.email {
            if !seen.insert(email.clone()) {
                errors.add(
                    &format!("{prefix}email_address"),
                    "appears twice in this request",
                );
            }
        }
        all.push((request, checked));
    }
    errors.into_result().map_err(ApiError::validation)?;

    let mut prepared = Vec::with_capacity(all.len());
    for (request, checked) in all {
        let email = checked.email.unwrap_or_default();
        let existing = state.auth.kratos().identity_by_email(&email).await?;
        let token = random_token();
        prepared.push(Prepared {
            invitation: NewInvitation {
                email_address: email,
                role: request
                    .role
                    .unwrap_or_else(|| state.settings.default_role.clone()),
                expires_at: checked.expires_at,
                public_metadata: request
                    .public_metadata
                    .unwrap_or_else(|| Value::Object(Default::default())),
                private_metadata: request
                    .private_metadata
                    .unwrap_or_else(|| Value::Object(Default::default())),
                redirect_url: request.redirect_url,
                inviter_id: caller.identity_id(),
                token_hash: Some(sha256_hex(&token)),
                existing_identity: existing.map(|identity| identity.id),
                locale: checked.locale,
                email: None,
            },
            token,
            link: checked.link,
            send: checked.send,
        });
    }
    Ok(prepared)
}

/// Adds the e-mail of each invitation that sends one.
async fn add_emails(
    state: &AppState,
    caller: &Caller,
    org_name: &str,
    prepared: &mut [Prepared],
) -> ApiResult<()> {
    if !prepared.iter().any(|p| p.send) {
        return Ok(());
    }
    let roles: Vec<String> = prepared.iter().map(|p| p.invitation.role.clone()).collect();
    let letterhead = email::Letterhead::new(state, caller, org_name, &roles).await?;
    for p in prepared.iter_mut().filter(|p| p.send) {
        let Some(url) = acceptance_url(p.link.as_deref(), &p.token) else {
            continue;
        };
        let invitation = &mut p.invitation;
        invitation.email = Some(letterhead.email(
            &invitation.email_address,
            invitation.locale.clone(),
            &invitation.role,
            url,
            invitation.expires_at,
        ));
    }
    Ok(())
}

/// `redirect_url` with the token as its one `invitation_token` query parameter: one
/// the URL already carries is replaced, so an app reading the first never gets another.
pub(super) fn acceptance_url(redirect_url: Option<&str>, token: &str) -> Option<String> {
    let mut url = url::Url::parse(redirect_url?).ok()?;
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| key != "invitation_token")
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("invitation_token", token);
    Some(url.into())
}

/// Creates the invitations of one request (one, or a bulk list) in the org `org`: all
/// of them or none.
pub(super) async fn create(
    state: &AppState,
    (caller, origin): (&Caller, &RequestOrigin),
    org: &str,
    requests: Vec<CreateInvitationRequest>,
    bulk: bool,
) -> ApiResult<Vec<CreatedInvitationResponse>> {
    let store = state.store.as_ref();
    let access = org_access(store, caller, org, Action::ManageInvitations).await?;
    let mut prepared = prepare(state, caller, requests, bulk).await?;
    add_emails(state, caller, &access.org.name, &mut prepared).await?;
    let mut invitations = Vec::with_capacity(prepared.len());
    let mut secrets = Vec::with_capacity(prepared.len());
    for p in prepared {
        secrets.push((p.token, p.link, p.invitation.email.is_some()));
        invitations.push(p.invitation);
    }
    let created = store
        .create_invitations(
            access.org.id,
            invitations,
            Change::new(caller, state.clock.now()).from_request(origin),
        )
        .await?;
    tracing::info!(org = %access.org.id, count = created.len(), "invitations created");
    Ok(created
        .into_iter()
        .zip(secrets)
        .map(
            |(invitation, (token, link, email_sent))| CreatedInvitationResponse {
                url: acceptance_url(link.as_deref(), &token),
                invitation: InvitationResponse::new(invitation, visibility(caller)),
                token,
                email_sent,
            },
        )
        .collect())
}

#[cfg(test)]
mod tests {
    use super::acceptance_url;

    #[test]
    fn urls_carry_the_token() {
        assert_eq!(
            acceptance_url(Some("https://app.example.com/join?x=1"), "tok").as_deref(),
            Some("https://app.example.com/join?x=1&invitation_token=tok")
        );
        assert_eq!(acceptance_url(None, "tok"), None);
    }
}
