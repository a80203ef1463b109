//! `/orgs`: create, list, read, update and delete organizations.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use rand::distributions::{Alphanumeric, DistString};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::members::{remember_profile, snapshot_before_write, MetadataRequest};
use super::openapi::PROBLEM_CONTENT_TYPE;
use super::problems;
use super::{double_option, org_access, org_read, AppJson, AppPath, AppQuery, Page, PageParams};
use crate::clock::Clock;
use crate::domain::org::{validate_name, Slug};
use crate::domain::validation::{validate_http_url, validate_metadata, FieldErrors};
use crate::domain::{authorize, visibility, Action, Caller, Visibility};
use crate::error::{ApiError, ApiResult, ErrorCode, Problem};
use crate::state::AppState;
use crate::store::{Change, NewOrg, Org, OrgFilter, OrgPatch, RequestOrigin, Store, StoreError};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(orgs_create, orgs_list))
        .routes(routes!(orgs_get, orgs_update, orgs_delete))
        .routes(routes!(orgs_metadata_update))
}

/// An organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgResponse {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    #[schema(required = true)]
    pub image_url: Option<String>,
    #[schema(value_type = Object)]
    pub public_metadata: Value,
    /// Only shown to admin API keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object, nullable = false)]
    pub private_metadata: Option<Value>,
    /// 0 means unlimited.
    pub max_allowed_memberships: i32,
    pub members_count: i64,
    /// The identity that created the org.
    #[schema(required = true)]
    pub created_by: Option<Uuid>,
    /// The Clerk organization id this org was imported from.
    #[schema(required = true)]
    pub clerk_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl OrgResponse {
    pub fn new(org: Org, visibility: Visibility) -> Self {
        OrgResponse {
            private_metadata: visibility.private_metadata(org.private_metadata),
            id: org.id,
            name: org.name,
            slug: org.slug,
            image_url: org.image_url,
            public_metadata: org.public_metadata,
            max_allowed_memberships: org.max_allowed_memberships,
            members_count: org.members_count,
            created_by: org.created_by,
            clerk_id: org.clerk_id,
            created_at: org.created_at,
            updated_at: org.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgRequest {
    pub name: String,
    /// `[a-z0-9-]`, 1–64, unique; derived from the name when absent.
    pub slug: Option<String>,
    pub image_url: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub public_metadata: Option<Value>,
    /// Admin API keys only.
    #[schema(value_type = Option<Object>)]
    pub private_metadata: Option<Value>,
    /// Admin API keys only. 0 (the default) means unlimited.
    #[schema(minimum = 0)]
    pub max_allowed_memberships: Option<i32>,
    /// Admin API keys only: the identity that becomes the first member, with the creator role.
    pub created_by: Option<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrgRequest {
    pub name: Option<String>,
    pub slug: Option<String>,
    /// `null` removes the image.
    #[serde(default, deserialize_with = "double_option")]
    pub image_url: Option<Option<String>>,
    /// Replaces the public metadata.
    #[schema(value_type = Option<Object>)]
    pub public_metadata: Option<Value>,
    /// Admin API keys only. Replaces the private metadata.
    #[schema(value_type = Option<Object>)]
    pub private_metadata: Option<Value>,
    /// Admin API keys only. 0 means unlimited.
    #[schema(minimum = 0)]
    pub max_allowed_memberships: Option<i32>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListOrgsParams {
    /// Case-insensitive match on name or slug.
    pub query: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    pub page_size: Option<u32>,
    pub page_token: Option<String>,
}

fn check_common(
    errors: &mut FieldErrors,
    image_url: Option<&str>,
    public_metadata: Option<&Value>,
    private_metadata: Option<&Value>,
    max_allowed_memberships: Option<i32>,
) {
    if let Some(url) = image_url {
        errors.check("image_url", validate_http_url(url));
    }
    if let Some(metadata) = public_metadata {
        errors.check("public_metadata", validate_metadata(metadata));
    }
    if let Some(metadata) = private_metadata {
        errors.check("private_metadata", validate_metadata(metadata));
    }
    if max_allowed_memberships.is_some_and(|max| max < 0) {
        errors.add("max_allowed_memberships", "must be 0 (unlimited) or more");
    }
}

fn parse_slug(errors: &mut FieldErrors, slug: Option<&str>) -> Option<Slug> {
    match slug.map(Slug::parse) {
        Some(Ok(slug)) => Some(slug),
        Some(Err(message)) => {
            errors.add("slug", message);
            None
        }
        None => None,
    }
}

/// Create an organization. An identity caller becomes its first member with the
/// creator role; an admin key may name that identity in `created_by`.
#[utoipa::path(
    post, path = "/orgs", tag = "orgs", operation_id = "createOrg",
    request_body = CreateOrgRequest,
    responses(
        (status = 201, description = "Created", body = OrgResponse),
        problems::MalformedJson,
        (status = 403, description = "Not allowed", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        problems::SlugTaken,
        problems::NotJson,
        problems::InvalidFields,
        problems::KratosUnavailable,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn orgs_create(
    State(state): State<AppState>,
    caller: Caller,
    origin: RequestOrigin,
    AppJson(body): AppJson<CreateOrgRequest>,
) -> ApiResult<(StatusCode, AppJson<OrgResponse>)> {
    let (store, clock, auth) = (&state.store, &state.clock, &state.auth);
    authorize(&caller, Action::CreateOrg, None)?;
    let visibility = visibility(&caller);
    visibility.may_set_private_metadata(body.private_metadata.is_some())?;
    // The cap is a plan limit, set by the app's backend rather than by org admins.
    if body.created_by.is_some() || body.max_allowed_memberships.is_some() {
        authorize(&caller, Action::AdminOnly, None)?;
    }
    let mut errors = FieldErrors::new();
    errors.check("name", validate_name(&body.name));
    let slug = parse_slug(&mut errors, body.slug.as_deref());
    check_common(
        &mut errors,
        body.image_url.as_deref(),
        body.public_metadata.as_ref(),
        body.private_metadata.as_ref(),
        body.max_allowed_memberships,
    );
    errors.into_result().map_err(ApiError::validation)?;
    // The creator's profile snapshot is taken before the write, for its event; an
    // identity named by an admin key is read from Kratos once, to check it and for that.
    let creator = match (caller.identity_id(), body.created_by) {
        (Some(me), _) => {
            snapshot_before_write(&state, me).await;
            Some(me)
        }
        (None, Some(named)) => {
            let found = auth.identity(named).await?.ok_or_else(|| {
                ApiError::new(
                    ErrorCode::IdentityNotFound,
                    "Kratos has no identity with the created_by id",
                )
            })?;
            remember_profile(&state, found).await;
            Some(named)
        }
        (None, None) => None,
    };
    let generated = slug.is_none();
    let mut new = NewOrg {
        slug: slug.unwrap_or_else(|| Slug::from_name(&body.name)),
        name: body.name.trim().to_owned(),
        image_url: body.image_url,
        public_metadata: body
            .public_metadata
            .unwrap_or_else(|| Value::Object(Default::default())),
        private_metadata: body
            .private_metadata
            .unwrap_or_else(|| Value::Object(Default::default())),
        max_allowed_memberships: body.max_allowed_memberships.unwrap_or(0),
        created_by: creator,
        creator: creator.map(|id| (id, state.settings.creator_role.clone())),
    };
    // A slug the caller chose is theirs to fix; a generated one gets a suffix.
    let base = new.slug.clone();
    let mut attempts = 0;
    let org = loop {
        match store
            .create_org(
                new.clone(),
                Change::new(&caller, clock.now()).from_request(&origin),
            )
            .await
        {
            Err(StoreError::SlugTaken) if generated && attempts < 5 => {
                attempts += 1;
                let suffix = Alphanumeric
                    .sample_string(&mut rand::thread_rng(), 6)
                    .to_lowercase();
                new.slug = base.with_suffix(&suffix);
            }
            other => break other?,
        }
    };
    tracing::info!(org = %org.id, caller = %caller.log_label(), "organization created");
    Ok((
        StatusCode::CREATED,
        AppJson(OrgResponse::new(org, visibility)),
    ))
}

/// List organizations: an identity sees those it belongs to; an API key sees all.
#[utoipa::path(
    get, path = "/orgs", tag = "orgs", operation_id = "listOrgs",
    params(ListOrgsParams),
    responses(
        (status = 200, description = "A page of organizations", body = Page<OrgResponse>),
        problems::InvalidParameters,
        problems::KratosUnavailable,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn orgs_list(
    State(store): State<Arc<dyn Store>>,
    caller: Caller,
    AppQuery(params): AppQuery<ListOrgsParams>,
) -> ApiResult<AppJson<Page<OrgResponse>>> {
    let filter = OrgFilter {
        member: caller.identity_id(),
        query: params.query.filter(|q| !q.trim().is_empty()),
    };
    let action = if filter.member.is_some() {
        Action::ListOwnOrgs
    } else {
        Action::ListAllOrgs
    };
    authorize(&caller, action, None)?;
    let visibility = visibility(&caller);
    let page = PageParams {
        page_size: params.page_size,
        page_token: params.page_token,
    }
    .to_request()?;
    let rows = store.list_orgs(&filter, page).await?;
    Ok(AppJson(Page::from_rows(
        rows,
        page,
        |o| o.id,
        |o| OrgResponse::new(o, visibility),
    )))
}

/// Read one organization by UUID, slug or Clerk id.
#[utoipa::path(
    get, path = "/orgs/{org}", tag = "orgs", operation_id = "getOrg",
    params(("org" = String, Path, description = "The org's UUID, slug or Clerk id (org_…)")),
    responses(
        (status = 200, description = "The organization", body = OrgResponse),
        (status = 404, description = "No such organization, or not visible to the caller", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        problems::KratosUnavailable,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn orgs_get(
    State(store): State<Arc<dyn Store>>,
    caller: Caller,
    AppPath(org): AppPath<String>,
) -> ApiResult<AppJson<OrgResponse>> {
    let access = org_read(store.as_ref(), &caller, &org, Action::ReadOrg).await?;
    Ok(AppJson(OrgResponse::new(access.org, visibility(&caller))))
}

/// Update an organization's profile. Needs `org:sys_profile:manage`.
#[utoipa::path(
    patch, path = "/orgs/{org}", tag = "orgs", operation_id = "updateOrg",
    params(("org" = String, Path, description = "The org's UUID, slug or Clerk id (org_…)")),
    request_body = UpdateOrgRequest,
    responses(
        (status = 200, description = "The updated organization", body = OrgResponse),
        problems::MalformedJson,
        problems::MissingPermission,
        problems::OrgNotFound,
        problems::SlugTaken,
        problems::NotJson,
        problems::InvalidFields,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn orgs_update(
    State(store): State<Arc<dyn Store>>,
    State(clock): State<Arc<dyn Clock>>,
    caller: Caller,
    origin: RequestOrigin,
    AppPath(org): AppPath<String>,
    AppJson(body): AppJson<UpdateOrgRequest>,
) -> ApiResult<AppJson<OrgResponse>> {
    let access = org_access(store.as_ref(), &caller, &org, Action::UpdateOrg).await?;
    let visibility = visibility(&caller);
    visibility.may_set_private_metadata(body.private_metadata.is_some())?;
    if body.max_allowed_memberships.is_some() {
        authorize(&caller, Action::AdminOnly, None)?;
    }
    let mut errors = FieldErrors::new();
    if let Some(name) = &body.name {
        errors.check("name", validate_name(name));
    }
    let slug = parse_slug(&mut errors, body.slug.as_deref());
    check_common(
        &mut errors,
        body.image_url.as_ref().and_then(Option::as_deref),
        body.public_metadata.as_ref(),
        body.private_metadata.as_ref(),
        body.max_allowed_memberships,
    );
    errors.into_result().map_err(ApiError::validation)?;
    let patch = OrgPatch {
        name: body.name.map(|n| n.trim().to_owned()),
        slug,
        image_url: body.image_url,
        public_metadata: body.public_metadata,
        private_metadata: body.private_metadata,
        max_allowed_memberships: body.max_allowed_memberships,
    };
    let org = store
        .update_org(
            access.org.id,
            patch,
            Change::new(&caller, clock.now()).from_request(&origin),
        )
        .await?;
    Ok(AppJson(OrgResponse::new(org, visibility)))
}

/// Delete an organization and all its memberships. Needs `org:sys_profile:delete`.
#[utoipa::path(
    delete, path = "/orgs/{org}", tag = "orgs", operation_id = "deleteOrg",
    params(("org" = String, Path, description = "The org's UUID, slug or Clerk id (org_…)")),
    responses(
        (status = 204, description = "Deleted"),
        problems::MissingPermission,
        problems::OrgNotFound,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn orgs_delete(
    State(store): State<Arc<dyn Store>>,
    State(clock): State<Arc<dyn Clock>>,
    caller: Caller,
    origin: RequestOrigin,
    AppPath(org): AppPath<String>,
) -> ApiResult<StatusCode> {
    let access = org_access(store.as_ref(), &caller, &org, Action::DeleteOrg).await?;
    store
        .delete_org(
            access.org.id,
            Change::new(&caller, clock.now()).from_request(&origin),
        )
        .await?;
    tracing::info!(org = %access.org.id, caller = %caller.log_label(), "organization deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Deep-merge the organization's metadata; `null` removes a key, each field at most
/// 8 KB after merging. Needs `org:sys_profile:manage`; private metadata admin keys only.
#[utoipa::path(
    patch, path = "/orgs/{org}/metadata", tag = "orgs", operation_id = "updateOrgMetadata",
    params(("org" = String, Path, description = "The org's UUID, slug or Clerk id (org_…)")),
    request_body = MetadataRequest,
    responses(
        (status = 200, description = "The updated organization", body = OrgResponse),
        problems::MissingPermission,
        problems::OrgNotFound,
        problems::InvalidMetadata,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn orgs_metadata_update(
    State(store): State<Arc<dyn Store>>,
    State(clock): State<Arc<dyn Clock>>,
    caller: Caller,
    origin: RequestOrigin,
    AppPath(org): AppPath<String>,
    AppJson(body): AppJson<MetadataRequest>,
) -> ApiResult<AppJson<OrgResponse>> {
    let access = org_access(store.as_ref(), &caller, &org, Action::UpdateOrg).await?;
    let visibility = visibility(&caller);
    let patch = body.into_patch(visibility)?;
    let org = store
        .merge_org_metadata(
            access.org.id,
            patch,
            Change::new(&caller, clock.now()).from_request(&origin),
        )
        .await?;
    Ok(AppJson(OrgResponse::new(org, visibility)))
}
