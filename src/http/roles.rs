//! `/roles`: the instance-wide role catalog. Everyone may read it; admin keys manage it.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::PROBLEM_CONTENT_TYPE;
use super::problems;
use super::{double_option, AppJson, AppPath};
use crate::clock::Clock;
use crate::config::Settings;
use crate::domain::role::{validate_permission_key, validate_role_key};
use crate::domain::validation::FieldErrors;
use crate::domain::{authorize, Action, Caller};
use crate::error::{ApiError, ApiResult, ErrorCode, Problem};
use crate::state::AppState;
use crate::store::{Change, RequestOrigin, Role, RolePatch, Store};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(roles_list, roles_create))
        .routes(routes!(roles_get, roles_update, roles_delete))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleResponse {
    /// `org:<name>`, e.g. `org:admin`.
    pub key: String,
    pub name: String,
    #[schema(required = true)]
    pub description: Option<String>,
    /// Permission keys, `org:<feature>:<action>`.
    pub permissions: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Role> for RoleResponse {
    fn from(role: Role) -> Self {
        RoleResponse {
            key: role.key,
            name: role.name,
            description: role.description,
            permissions: role.permissions,
            created_at: role.created_at,
            updated_at: role.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleList {
    pub data: Vec<RoleResponse>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRoleRequest {
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    #[serde(default)]
    pub permissions: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRoleRequest {
    pub name: Option<String>,
    /// `null` removes the description.
    #[serde(default, deserialize_with = "double_option")]
    pub description: Option<Option<String>>,
    /// Replaces the role's permissions.
    pub permissions: Option<Vec<String>>,
}

fn check_permissions(errors: &mut FieldErrors, permissions: &[String]) {
    for (i, permission) in permissions.iter().enumerate() {
        errors.check(
            &format!("permissions[{i}]"),
            validate_permission_key(permission),
        );
    }
}

fn check_role_name(errors: &mut FieldErrors, name: &str) {
    if name.trim().is_empty() || name.chars().count() > 128 {
        errors.add("name", "must be 1 to 128 characters");
    }
}

/// Sorted and without repeats, so the stored set is what was meant.
fn normalized(mut permissions: Vec<String>) -> Vec<String> {
    permissions.sort();
    permissions.dedup();
    permissions
}

/// The role catalog, with each role's permissions.
#[utoipa::path(
    get, path = "/roles", tag = "roles", operation_id = "listRoles",
    responses(
        (status = 200, description = "Every role", body = RoleList),
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn roles_list(
    State(store): State<Arc<dyn Store>>,
    caller: Caller,
) -> ApiResult<AppJson<RoleList>> {
    authorize(&caller, Action::ReadRoles, None)?;
    let roles = store.list_roles().await?;
    Ok(AppJson(RoleList {
        data: roles.into_iter().map(RoleResponse::from).collect(),
    }))
}

/// Read one role.
#[utoipa::path(
    get, path = "/roles/{key}", tag = "roles", operation_id = "getRole",
    params(("key" = String, Path, description = "Role key, e.g. org:admin")),
    responses(
        (status = 200, description = "The role", body = RoleResponse),
        problems::RoleNotFound,
    ),
    security(("session_cookie" = []), ("session_token" = []), ("bearer" = []), ("api_key" = []))
)]
async fn roles_get(
    State(store): State<Arc<dyn Store>>,
    caller: Caller,
    AppPath(key): AppPath<String>,
) -> ApiResult<AppJson<RoleResponse>> {
    authorize(&caller, Action::ReadRoles, None)?;
    let role = store
        .find_role(&key)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::RoleNotFound, "no such role"))?;
    Ok(AppJson(role.into()))
}

/// Create a role. Admin API keys only.
#[utoipa::path(
    post, path = "/roles", tag = "roles", operation_id = "createRole",
    request_body = CreateRoleRequest,
    responses(
        (status = 201, description = "Created", body = RoleResponse),
        problems::NotAdminKey,
        (status = 409, description = "The key exists", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        problems::InvalidFields,
    ),
    security(("api_key" = []))
)]
async fn roles_create(
    State(store): State<Arc<dyn Store>>,
    State(clock): State<Arc<dyn Clock>>,
    caller: Caller,
    origin: RequestOrigin,
    AppJson(body): AppJson<CreateRoleRequest>,
) -> ApiResult<(StatusCode, AppJson<RoleResponse>)> {
    authorize(&caller, Action::ManageRoles, None)?;
    let mut errors = FieldErrors::new();
    errors.check("key", validate_role_key(&body.key));
    check_role_name(&mut errors, &body.name);
    check_permissions(&mut errors, &body.permissions);
    errors.into_result().map_err(ApiError::validation)?;
    let now = clock.now();
    let role = store
        .create_role(
            Role {
                key: body.key,
                name: body.name.trim().to_owned(),
                description: body.description,
                permissions: normalized(body.permissions),
                created_at: now,
                updated_at: now,
            },
            Change::new(&caller, now).from_request(&origin),
        )
        .await?;
    Ok((StatusCode::CREATED, AppJson(role.into())))
}

/// Change a role's name, description or permissions. Admin API keys only. Taking
/// `org:sys_memberships:manage` away is refused when an org would be left without
/// a member holding it.
#[utoipa::path(
    patch, path = "/roles/{key}", tag = "roles", operation_id = "updateRole",
    params(("key" = String, Path, description = "Role key, e.g. org:admin")),
    request_body = UpdateRoleRequest,
    responses(
        (status = 200, description = "The updated role", body = RoleResponse),
        problems::NotAdminKey,
        problems::RoleNotFound,
        (status = 409, description = "Would leave an org without an admin", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        problems::InvalidFields,
    ),
    security(("api_key" = []))
)]
async fn roles_update(
    State(store): State<Arc<dyn Store>>,
    State(clock): State<Arc<dyn Clock>>,
    caller: Caller,
    origin: RequestOrigin,
    AppPath(key): AppPath<String>,
    AppJson(body): AppJson<UpdateRoleRequest>,
) -> ApiResult<AppJson<RoleResponse>> {
    authorize(&caller, Action::ManageRoles, None)?;
    let mut errors = FieldErrors::new();
    if let Some(name) = &body.name {
        check_role_name(&mut errors, name);
    }
    if let Some(permissions) = &body.permissions {
        check_permissions(&mut errors, permissions);
    }
    errors.into_result().map_err(ApiError::validation)?;
    let patch = RolePatch {
        name: body.name.map(|n| n.trim().to_owned()),
        description: body.description,
        permissions: body.permissions.map(normalized),
    };
    Ok(AppJson(
        store
            .update_role(
                &key,
                patch,
                Change::new(&caller, clock.now()).from_request(&origin),
            )
            .await?
            .into(),
    ))
}

/// Delete a role. Admin API keys only. Refused while members hold it or while it
/// is the configured creator or default role.
#[utoipa::path(
    delete, path = "/roles/{key}", tag = "roles", operation_id = "deleteRole",
    params(("key" = String, Path, description = "Role key, e.g. org:admin")),
    responses(
        (status = 204, description = "Deleted"),
        problems::NotAdminKey,
        problems::RoleNotFound,
        (status = 409, description = "The role is in use", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
    ),
    security(("api_key" = []))
)]
async fn roles_delete(
    State(store): State<Arc<dyn Store>>,
    State(settings): State<Arc<Settings>>,
    State(clock): State<Arc<dyn Clock>>,
    caller: Caller,
    origin: RequestOrigin,
    AppPath(key): AppPath<String>,
) -> ApiResult<StatusCode> {
    authorize(&caller, Action::ManageRoles, None)?;
    if key == settings.creator_role || key == settings.default_role {
        return Err(ApiError::new(
            ErrorCode::RoleInUse,
            "the role is configured as the creator or default role",
        ));
    }
    let change = Change::new(&caller, clock.now()).from_request(&origin);
    store.delete_role(&key, change).await?;
    Ok(StatusCode::NO_CONTENT)
}
