//! `/admin`: the Clerk import and the Clerk-id → Polis-id table apps use to rewrite the
//! org ids they stored.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::io::{StreamReader, SyncIoBridge};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::import_report::streamed_report;
use super::openapi::PROBLEM_CONTENT_TYPE;
use super::pagination::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use super::problems;
use super::{AppJson, AppQuery, Page};
use crate::domain::{authorize, Action, Caller};
use crate::error::{ApiError, ApiResult, ErrorCode, Problem};
use crate::import::{self, DocumentError, ImportError, ImportOptions, ImportReport};
use crate::state::AppState;
use crate::store::Store;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import_clerk))
        .routes(routes!(list_clerk_org_ids))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// Report what would happen, and write nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// A Clerk export: each array holds objects exactly as Clerk's Backend API list
/// endpoints return them in `data` (snake_case; the camelCase of Clerk JS SDK dumps is
/// accepted too). Only `organizations` is required.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ClerkExport {
    #[schema(value_type = Vec<Object>)]
    organizations: Vec<Value>,
    /// `OrganizationMembership` objects (org from `organization.id`, user from
    /// `public_user_data.user_id`, e-mail from `public_user_data.identifier`).
    #[schema(value_type = Option<Vec<Object>>)]
    memberships: Option<Vec<Value>>,
    /// `OrganizationInvitation` objects; only pending ones are imported.
    #[schema(value_type = Option<Vec<Object>>)]
    invitations: Option<Vec<Value>>,
    /// `Role` objects with their `permissions`.
    #[schema(value_type = Option<Vec<Object>>)]
    roles: Option<Vec<Value>>,
    /// Clerk user id → Kratos identity id; consulted before any other mapping.
    #[schema(value_type = Option<Object>)]
    user_map: Option<Value>,
    /// Clerk organization id → the slug to import it under instead of Clerk's: how an
    /// org skipped for `slug_conflict` gets in (it is never renamed silently). Each slug
    /// follows the slug rules (else 422, `errors[0].field` = `slug_overrides.<org id>`);
    /// an id not among `organizations` is reported as `unknown_organization` and ignored.
    #[schema(value_type = Option<HashMap<String, String>>, example = json!({"org_2acme": "acme-2"}))]
    slug_overrides: Option<Value>,
}

/// Import organizations, memberships, pending invitations and roles from a Clerk
/// export. Idempotent; `dry_run=true` writes nothing and returns the same report.
/// Admin API keys only.
#[utoipa::path(
    post, path = "/admin/imports/clerk", tag = "admin", operation_id = "importClerk",
    params(ImportParams),
    request_body(content = ClerkExport, content_type = "application/json"),
    responses(
        (status = 200, description = "The import report, streamed as the orgs are written (`dry_run` and `orgs` first, the totals last; memory stays flat whatever the document's size). Problems with the document or Kratos are answered before it starts; a body cut short means the run failed internally after that (each batch of orgs is still whole or absent).", body = ImportReport),
        (status = 400, description = "Not JSON", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        problems::NotAdminKey,
        (status = 413, description = "Body too large", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        (status = 415, description = "Not application/json", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        (status = 422, description = "Wrong shape or duplicate ids; `errors[0].field` names the path", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        problems::KratosUnavailable,
    ),
    security(("api_key" = []))
)]
async fn import_clerk(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(params): AppQuery<ImportParams>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    authorize(&caller, Action::AdminOnly, None)?;
    require_json(&headers)?;
    let limit = state.settings.import_max_body_bytes;
    let (reader, over_limit) = streamed_body(body, limit);
    tracing::info!(caller = %caller.log_label(), dry_run = params.dry_run, "clerk import");
    let kratos = import::kratos_client(&state.settings).map_err(|e| ApiError::internal(&e))?;
    let options = ImportOptions {
        dry_run: params.dry_run,
        now: state.clock.now(),
        blocked_domains: state.settings.domains.block_list(),
    };
    let (mut sink, response, began) = streamed_report(params.dry_run);
    let store = state.store.clone();
    // The run goes on its own task: the answer streams while it runs.
    let run = tokio::spawn(async move {
        match import::run(reader, store, kratos, options, &mut sink, &|_| {}).await {
            Ok(summary) => {
                sink.finish(summary).await;
                Ok(())
            }
            Err(err) => {
                if sink.has_begun() {
                    tracing::error!(error = %err, "clerk import failed while its report streamed");
                    sink.fail().await;
                }
                Err(err)
            }
        }
    });
    if began.await.is_ok() {
        return Ok(response);
    }
    // The run ended before writing any org: the answer is its problem.
    let result = run
        .await
        .map_err(|e| ApiError::internal(&anyhow::anyhow!("import task failed: {e}")))?;
    Err(match result {
        Err(_) if over_limit.load(Ordering::Relaxed) => ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the import document exceeds {limit} bytes (POLIS_IMPORT_MAX_BODY_BYTES)"),
        ),
        Err(err) => import_error(err),
        Ok(()) => ApiError::internal(&"the import ended without a report"),
    })
}

/// The request body as the blocking reader the import streams from (the CLI reads a
/// file the same way), so a large document is never held in memory whole. Reading more
/// than `limit` bytes fails the read and raises the returned flag.
fn streamed_body(
    body: Body,
    limit: usize,
) -> (impl std::io::Read + Send + 'static, Arc<AtomicBool>) {
    let over_limit = Arc::new(AtomicBool::new(false));
    let flag = over_limit.clone();
    let mut read = 0usize;
    let chunks = body.into_data_stream().map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        read = read.saturating_add(chunk.len());
        if read > limit {
            flag.store(true, Ordering::Relaxed);
            return Err(std::io::Error::other("the body exceeds the import limit"));
        }
        Ok(chunk)
    });
    (SyncIoBridge::new(StreamReader::new(chunks)), over_limit)
}

fn require_json(headers: &HeaderMap) -> ApiResult<()> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if json {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "the import document must be sent as Content-Type: application/json",
        ))
    }
}

/// Maps a failed run to its problem: the document's first offending path, Kratos, or
/// an internal error whose details stay in the log.
pub(crate) fn import_error(err: ImportError) -> ApiError {
    match err {
        ImportError::Document(DocumentError::Syntax { path, message }) => ApiError::new(
            ErrorCode::InvalidJson,
            format!("the import document is not valid JSON (at {path}): {message}"),
        ),
        ImportError::Document(DocumentError::Shape(shape)) => {
            ApiError::field(&shape.path, shape.message)
        }
        ImportError::Document(DocumentError::Aborted) => ApiError::internal(&"import aborted"),
        ImportError::IdentityProvider(e) => {
            tracing::warn!(error = %e, "Kratos unavailable during import");
            ApiError::new(
                ErrorCode::IdentityProviderUnavailable,
                "Kratos did not answer while mapping Clerk users; nothing was imported",
            )
        }
        ImportError::Store(e) => e.into(),
        ImportError::Internal(e) => ApiError::internal(&e),
    }
}

/// One imported organization's Clerk id and Polis id.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClerkOrgId {
    pub clerk_id: String,
    pub id: Uuid,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrgIdParams {
    /// Items per page, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub page_size: Option<u32>,
    /// The `next_page_token` of the previous page.
    pub page_token: Option<String>,
}

/// Page through `{clerk_id, id}` of every imported organization, ordered by Clerk id,
/// so apps can rewrite the Clerk org ids they stored. API keys only.
#[utoipa::path(
    get, path = "/admin/imports/clerk/org-ids", tag = "admin", operation_id = "listClerkOrgIds",
    params(OrgIdParams),
    responses(
        (status = 200, description = "One page of id pairs", body = Page<ClerkOrgId>),
        (status = 403, description = "Not an API key", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
        (status = 422, description = "Invalid page size or token", body = Problem, content_type = PROBLEM_CONTENT_TYPE),
    ),
    security(("api_key" = []))
)]
async fn list_clerk_org_ids(
    State(store): State<Arc<dyn Store>>,
    caller: Caller,
    AppQuery(params): AppQuery<OrgIdParams>,
) -> ApiResult<AppJson<Page<ClerkOrgId>>> {
    authorize(&caller, Action::ListAllOrgs, None)?;
    let size = params.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(ApiError::field(
            "page_size",
            format!("must be between 1 and {MAX_PAGE_SIZE}"),
        ));
    }
    let after = params.page_token.as_deref().map(decode_token).transpose()?;
    let mut rows = store.list_clerk_org_ids(after.as_deref(), size + 1).await?;
    let next_page_token = if rows.len() > size as usize {
        rows.truncate(size as usize);
        rows.last()
            .map(|(clerk_id, _)| URL_SAFE_NO_PAD.encode(clerk_id))
    } else {
        None
    };
    let data = rows
        .into_iter()
        .map(|(clerk_id, id)| ClerkOrgId { clerk_id, id })
        .collect();
    Ok(AppJson(Page {
        data,
        next_page_token,
    }))
}

fn decode_token(token: &str) -> ApiResult<String> {
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| ApiError::field("page_token", "is not a token this API issued"))
}
