//! Creating invitations: every request is checked (naming each bad field), each address
//! is looked up in Kratos, and the store writes all of them or none.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{CreateInvitationRequest, CreatedInvitationResponse, InvitationResponse};
use crate::auth::tokens::{random_token, sha256_hex};
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
}

/// Checks one request; field names are prefixed with `prefix` (for bulk requests).
fn check_request(
    errors: &mut FieldErrors,
    prefix: &str,
    request: &CreateInvitationRequest,
    now: DateTime<Utc>,
) -> (Option<String>, Option<DateTime<Utc>>) {
    let field = |name: &str| format!("{prefix}{name}");
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
    if let Some(url) = &request.redirect_url {
        errors.check(&field("redirect_url"), validate_http_url(url));
    }
    for (name, metadata) in [
        ("public_metadata", &request.public_metadata),
        ("private_metadata", &request.private_metadata),
    ] {
        if let Some(metadata) = metadata {
            errors.check(&field(name), validate_metadata(metadata));
        }
    }
    (email, expires_at)
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
    let now = state.clock.now();
    let mut errors = FieldErrors::new();
    let mut checked = Vec::with_capacity(requests.len());
    let mut seen = HashSet::new();
    for (i, request) in requests.into_iter().enumerate() {
        let prefix = if bulk {
            format!("[{i}].")
        } else {
            String::new()
        };
        let (email, expires_at) = check_request(&mut errors, &prefix, &request, now);
        if let Some(email) = &email {
            if !seen.insert(email.clone()) {
                errors.add(
                    &format!("{prefix}email_address"),
                    "appears twice in this request",
                );
            }
        }
        checked.push((request, email, expires_at));
    }
    errors.into_result().map_err(ApiError::validation)?;

    let mut prepared = Vec::with_capacity(checked.len());
    for (request, email, expires_at) in checked {
        let email = email.unwrap_or_default();
        let existing = state.auth.kratos().identity_by_email(&email).await?;
        let token = random_token();
        prepared.push(Prepared {
            invitation: NewInvitation {
                email_address: email,
                role: request
                    .role
                    .unwrap_or_else(|| state.settings.default_role.clone()),
                expires_at,
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
            },
            token,
        });
    }
    Ok(prepared)
}

/// `redirect_url` with the token as its one `invitation_token` query parameter: one
/// the URL already carries is replaced, so an app reading the first never gets another.
fn acceptance_url(redirect_url: Option<&str>, token: &str) -> Option<String> {
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
    let prepared = prepare(state, caller, requests, bulk).await?;
    let (invitations, tokens): (Vec<_>, Vec<_>) = prepared
        .into_iter()
        .map(|p| (p.invitation, p.token))
        .unzip();
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
        .zip(tokens)
        .map(|(invitation, token)| CreatedInvitationResponse {
            url: acceptance_url(invitation.redirect_url.as_deref(), &token),
            invitation: InvitationResponse::new(invitation, visibility(caller)),
            token,
        })
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
