//! What the OpenAPI document says beyond the handlers' own annotations: the security
//! schemes, the problem responses every route shares, and the interactive `/docs` page.

use axum::Router;
use serde_json::{json, Value};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Object, Ref, RefOr, Response, ResponseBuilder, Type};
use utoipa::Modify;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::state::AppState;

/// The content type of every error body.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// The four ways to call Polis. Handlers name the ones they accept in `security(...)`.
pub struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "ory_kratos_session",
                "The browser's Kratos session cookie (its name is `POLIS_KRATOS_SESSION_COOKIE`, \
                 `ory_kratos_session` by default). Writes must come from an allowed `Origin`.",
            ))),
        );
        components.add_security_scheme(
            "session_token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Session-Token",
                "A Kratos session token (native apps).",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A Kratos session token sent as `Authorization: Bearer <token>`, or a \
                         Hydra OAuth2 access token (`ory_at_…`) acting for its identity within \
                         its scopes (with `HYDRA_ADMIN_URL` set).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("polis_<key id>_<secret>")
                    .description(Some(
                        "A Polis API key for service and admin callers, sent as \
                         `Authorization: Bearer polis_…` (create one with `polis api-keys create`).",
                    ))
                    .build(),
            ),
        );
    }
}

/// A problem response every route of some shape can give, whatever its handler does:
/// the extractors and middleware produce these before or around the handler.
struct Shared {
    /// The component every route refers to; `None` writes the response into each route
    /// instead (for a short text no route needs to say more precisely).
    name: Option<&'static str>,
    status: &'static str,
    description: &'static str,
    applies: fn(&Operation) -> bool,
}

fn always(_: &Operation) -> bool {
    true
}

fn authenticated(operation: &Operation) -> bool {
    operation.security.as_ref().is_some_and(|s| !s.is_empty())
}

fn has_body(operation: &Operation) -> bool {
    operation.request_body.is_some()
}

/// Every operation but the health probes, which are never rate limited.
fn limited(operation: &Operation) -> bool {
    !matches!(
        operation.operation_id.as_deref(),
        Some("isAlive" | "isReady")
    )
}

fn has_parameters(operation: &Operation) -> bool {
    operation.parameters.as_ref().is_some_and(|p| !p.is_empty())
}

const SHARED: &[Shared] = &[
    Shared {
        name: Some("InvalidJson"),
        status: "400",
        description: "`invalid_json`: the body is not valid JSON.",
        applies: has_body,
    },
    Shared {
        name: None,
        status: "401",
        description: "Not authenticated",
        applies: authenticated,
    },
    Shared {
        name: Some("Forbidden"),
        status: "403",
        description: "`forbidden`: the caller lacks the permission; `origin_not_allowed`: a \
            cookie-authenticated write from an Origin not in `POLIS_CORS_ALLOWED_ORIGINS`; \
            `aal_required`: the session must step up to a second factor (see \
            `redirect_browser_to`).",
        applies: authenticated,
    },
    Shared {
        name: Some("PayloadTooLarge"),
        status: "413",
        description: "`payload_too_large`: the body exceeds `POLIS_MAX_BODY_BYTES`.",
        applies: has_body,
    },
    Shared {
        name: Some("UnsupportedMediaType"),
        status: "415",
        description: "`unsupported_media_type`: the body was not sent as `application/json`.",
        applies: has_body,
    },
    Shared {
        name: Some("ValidationFailed"),
        status: "422",
        description: "`validation_failed`: a field, parameter or path segment is invalid; \
            `errors` names each one.",
        applies: |operation| has_body(operation) || has_parameters(operation),
    },
    Shared {
        name: Some("RateLimited"),
        status: "429",
        description: "`rate_limited`: too many requests from this credential (or, without \
            one, from this client IP); retry after `Retry-After` seconds.",
        applies: limited,
    },
    Shared {
        name: Some("InternalError"),
        status: "500",
        description: "`internal_error`: a bug; the body never carries its cause.",
        applies: always,
    },
    Shared {
        name: Some("Unavailable"),
        status: "503",
        description: "`identity_provider_unavailable`: Kratos did not answer in time; \
            `database_unavailable`: the database did not answer. Safe to retry.",
        applies: authenticated,
    },
];

/// Adds each [`SHARED`] problem response to every operation it applies to, unless the
/// handler already describes that status more precisely. Run on the merged document,
/// after every router has added its paths.
pub struct SharedResponses;

impl Modify for SharedResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut used = Vec::new();
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
                &mut item.head,
                &mut item.options,
                &mut item.trace,
            ];
            for operation in operations.into_iter().flatten() {
                let applicable: Vec<&Shared> = SHARED
                    .iter()
                    .filter(|shared| (shared.applies)(operation))
                    .collect();
                let responses = &mut operation.responses.responses;
                for shared in applicable {
                    if responses.contains_key(shared.status) {
                        continue;
                    }
                    let response = match shared.name {
                        Some(name) => {
                            used.push((name, shared.description));
                            RefOr::Ref(Ref::from_response_name(name))
                        }
                        None => RefOr::T(problem_response(shared.description)),
                    };
                    responses.insert(shared.status.to_owned(), response);
                }
            }
        }
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, description) in used {
            components
                .responses
                .entry(name.to_owned())
                .or_insert_with(|| RefOr::T(shared_response(name, description)));
        }
    }
}

/// utoipa copies a generic type's argument into it: `Page<OrgResponse>` holds a whole
/// copy of `OrgResponse` (juhaku/utoipa#1586). This points every such copy at the named
/// schema again, so the document and the clients generated from it have one type per type.
pub struct ShareNamedSchemas;

impl Modify for ShareNamedSchemas {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let named: Vec<(String, Value)> = components
            .schemas
            .iter()
            .filter_map(|(name, schema)| Some((name.clone(), serde_json::to_value(schema).ok()?)))
            .filter(|(_, schema)| is_composite(schema))
            .collect();
        for schema in components.schemas.values_mut() {
            let Ok(mut value) = serde_json::to_value(&*schema) else {
                continue;
            };
            if replace_copies(&mut value, &named, true) {
                if let Ok(shared) = serde_json::from_value(value) {
                    *schema = shared;
                }
            }
        }
    }
}

/// Only object-like schemas are worth a reference; a bare `{"type": "string"}` is not a copy.
fn is_composite(schema: &Value) -> bool {
    ["properties", "allOf", "oneOf", "anyOf"]
        .iter()
        .any(|key| schema.get(key).is_some())
}

/// Replaces every proper sub-schema of `value` that equals a named schema by a `$ref` to
/// it; `true` when anything changed.
fn replace_copies(value: &mut Value, named: &[(String, Value)], root: bool) -> bool {
    if !root {
        if let Some((name, _)) = named.iter().find(|(_, schema)| schema == value) {
            *value = json!({ "$ref": format!("#/components/schemas/{name}") });
            return true;
        }
    }
    let children: Vec<&mut Value> = match value {
        Value::Object(map) => map.values_mut().collect(),
        Value::Array(items) => items.iter_mut().collect(),
        _ => return false,
    };
    // Every child is visited: copies can sit in more than one of them.
    let mut changed = false;
    for child in children {
        changed |= replace_copies(child, named, false);
    }
    changed
}

/// A shared problem response; `RateLimited` also says when to come back.
fn shared_response(name: &str, description: &str) -> Response {
    let mut response = problem_response(description);
    if name == "RateLimited" {
        let seconds = HeaderBuilder::new()
            .schema(Object::with_type(Type::Integer))
            .description(Some("Seconds to wait before retrying"))
            .build();
        response.headers.insert("Retry-After".to_owned(), seconds);
    }
    response
}

/// A response whose body is a `Problem`.
pub fn problem_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_CONTENT_TYPE,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

/// `GET /docs`: Swagger UI over `/openapi.json`. Its files are compiled into the binary
/// (the `vendored` and `debug-embed` features), so the page works offline.
pub fn docs_router() -> Router<AppState> {
    let config = Config::new(["/openapi.json"])
        // "none" turns off the badge that would send the spec to validator.swagger.io.
        .validator_url("none")
        .display_operation_id(true)
        .persist_authorization(false);
    SwaggerUi::new("/docs").config(config).into()
}
