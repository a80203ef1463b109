//! `/me`: the calling identity's own memberships.

use std::sync::Arc;

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::members::MembershipResponse;
use super::{AppJson, AppQuery, Page, PageParams};
use crate::domain::{authorize, Action, Caller};
use crate::error::{ApiResult, Problem};
use crate::state::AppState;
use crate::store::{OrgSummary, Store};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(me_memberships_list))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgSummaryResponse {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub image_url: Option<String>,
}

/// A membership of the caller, with the organization it is in.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyMembershipResponse {
    pub org: OrgSummaryResponse,
    #[serde(flatten)]
    pub membership: MembershipResponse,
}

/// The caller's memberships, ordered by organization id. Identities only.
#[utoipa::path(
    get, path = "/me/memberships", tag = "me", operation_id = "listMyMemberships",
    params(PageParams),
    responses(
        (status = 200, description = "A page of the caller's memberships", body = Page<MyMembershipResponse>),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "API keys have no memberships", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []))
)]
async fn me_memberships_list(
    State(store): State<Arc<dyn Store>>,
    caller: Caller,
    AppQuery(params): AppQuery<PageParams>,
) -> ApiResult<AppJson<Page<MyMembershipResponse>>> {
    authorize(&caller, Action::OwnMemberships, None)?;
    let identity = caller.identity_id().unwrap_or_default();
    let page = params.to_request()?;
    let rows = store.list_memberships_of(identity, page).await?;
    Ok(AppJson(Page::from_rows(
        rows,
        page,
        |(m, _)| m.org_id,
        |(membership, org): (_, OrgSummary)| MyMembershipResponse {
            org: OrgSummaryResponse {
                id: org.id,
                name: org.name,
                slug: org.slug,
                image_url: org.image_url,
            },
            membership: MembershipResponse::new(membership, &caller),
        },
    )))
}
