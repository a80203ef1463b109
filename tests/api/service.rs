//! Health, version, unknown routes, the docs page, and the OpenAPI document: committed,
//! well-formed, and true to what the server sends.

mod claims;
mod conformance;
mod domains;
mod webhooks;

use std::collections::{BTreeSet, HashSet};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use self::conformance::{is_nullable, Observed, Spec, PROBLEM, PROBLEM_REF};
use crate::harness::{Auth, Backend, TestApp, User};
use crate::on_both_backends;

async fn health_and_version(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alive = app.get("/health/alive", Auth::None).await;
    assert_eq!(alive.status, StatusCode::OK);
    assert_eq!(alive.body["status"], "ok");
    let ready = app.get("/health/ready", Auth::None).await;
    assert_eq!(ready.status, StatusCode::OK);
    let version = app.get("/version", Auth::None).await;
    assert_eq!(version.body["version"], env!("CARGO_PKG_VERSION"));

    app.get("/no/such/route", Auth::None)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "route_not_found");
    app.call(reqwest::Method::PUT, "/orgs", Auth::None, None)
        .await
        .assert_problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    let spec = app.get("/openapi.json", Auth::None).await;
    assert_eq!(spec.status, StatusCode::OK);
    assert_eq!(spec.body["info"]["title"], "Polis");
}

on_both_backends!(health_and_version);

#[tokio::test]
async fn not_ready_when_the_database_is_down() {
    // A PostgreSQL URL where nothing listens.
    let store = polis::store::SqlStore::connect_postgres_lazy("postgres://polis@127.0.0.1:9/none")
        .expect("lazy pool");
    let state = polis::AppState::new(
        std::sync::Arc::new(store),
        polis::config::Settings::from_env(),
    )
    .expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(polis::serve(listener, state, std::future::pending()));
    let ready = reqwest::get(format!("{base}/health/ready")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let alive = reqwest::get(format!("{base}/health/alive")).await.unwrap();
    assert_eq!(alive.status(), StatusCode::OK);
}

/// The committed spec must be what the code generates. To refresh it after an API
/// change: `cargo run -q -- openapi > openapi/openapi.json`.
#[test]
fn committed_openapi_is_up_to_date() {
    let generated = polis::http::openapi_json();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed.trim_end() == generated.trim_end(),
        "openapi/openapi.json is stale; run `cargo run -q -- openapi > openapi/openapi.json` \
         (and `npm run generate` in clients/typescript)"
    );
}

#[test]
fn openapi_has_every_route() {
    let spec: serde_json::Value = serde_json::from_str(&polis::http::openapi_json()).unwrap();
    let paths = spec["paths"].as_object().unwrap();
    for path in [
        "/orgs",
        "/orgs/{org}",
        "/orgs/{org}/members",
        "/orgs/{org}/members/{identity_id}",
        "/me/memberships",
        "/roles",
        "/roles/{key}",
        "/health/alive",
        "/health/ready",
        "/version",
    ] {
        assert!(paths.contains_key(path), "{path} missing from the spec");
    }
    let schemes = spec["components"]["securitySchemes"].as_object().unwrap();
    for scheme in ["session_cookie", "session_token", "bearer", "api_key"] {
        assert!(schemes.contains_key(scheme), "{scheme} missing");
    }
}

/// Swagger UI at `/docs`, from files compiled into the binary: nothing is fetched from
/// elsewhere, so the page works where the instance has no internet access.
#[tokio::test]
async fn docs_page_is_served_from_the_binary() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let text = |path: &'static str| {
        let request = app.request(Method::GET, path, Auth::None);
        async move {
            let response = request.send().await.expect("request");
            let status = response.status();
            let kind = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            (status, kind, response.text().await.expect("body"))
        }
    };
    let (status, kind, page) = text("/docs").await;
    assert_eq!(status, StatusCode::OK, "/docs redirects to the page");
    assert!(kind.starts_with("text/html"), "{kind}");
    assert!(page.contains("swagger-ui"), "{page}");
    for attribute in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
        assert!(
            !page.contains(attribute),
            "the page loads {attribute}…: {page}"
        );
    }
    let (status, _, initializer) = text("/docs/swagger-initializer.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(initializer.contains("\"/openapi.json\""), "{initializer}");
    assert!(
        initializer.contains("\"validatorUrl\": \"none\""),
        "{initializer}"
    );
    for asset in ["/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css"] {
        let (status, _, body) = text(asset).await;
        assert_eq!(status, StatusCode::OK, "{asset}");
        assert!(body.len() > 10_000, "{asset} is {} bytes", body.len());
    }
}

#[test]
fn every_operation_has_an_id_and_one_declared_tag() {
    let spec = Spec::generated();
    let declared: Vec<&str> = spec.doc["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(|tag| tag["name"].as_str())
        .collect();
    let mut ids = HashSet::new();
    for operation in spec.operations() {
        let at = format!("{} {}", operation.method, operation.path);
        let id = operation.body["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{at} has no operationId"));
        // Generators turn ids into method names: `listOrgs`, `addMember`.
        let camel = id.starts_with(|c: char| c.is_ascii_lowercase())
            && id.chars().all(|c| c.is_ascii_alphanumeric());
        assert!(camel, "{at}: operationId {id:?} is not lowerCamelCase");
        assert!(ids.insert(id), "{at}: operationId {id:?} is used twice");
        let tags: Vec<&str> = operation.body["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(tags.len(), 1, "{at} needs exactly one tag, has {tags:?}");
        assert!(
            declared.contains(&tags[0]),
            "{at}: tag {} is not declared",
            tags[0]
        );
    }
}

/// Error responses whose body is not a problem, on purpose.
const NOT_PROBLEMS: &[(&str, &str, &str)] = &[
    // Readiness answers 503 with the `HealthStatus` body of its 200 (`"unavailable"`),
    // as Ory's health endpoints do; probes read only the status.
    ("get", "/health/ready", "503"),
];

#[test]
fn every_error_response_is_a_problem() {
    let spec = Spec::generated();
    for operation in spec.operations() {
        let responses = operation.body["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|status| status.starts_with('2')),
            "{} {} documents no success",
            operation.method,
            operation.path
        );
        for (status, response) in responses {
            let at = format!("{} {} {status}", operation.method, operation.path);
            let exempt =
                NOT_PROBLEMS.contains(&(operation.method, operation.path, status.as_str()));
            if status.starts_with('2') || exempt {
                continue;
            }
            let content = spec.resolve(response)["content"]
                .as_object()
                .unwrap_or_else(|| panic!("{at} has no body"));
            let media: Vec<&String> = content.keys().collect();
            assert_eq!(media, [PROBLEM], "{at}");
            assert_eq!(content[PROBLEM]["schema"]["$ref"], PROBLEM_REF, "{at}");
        }
    }
    let problem = &spec.doc["components"]["schemas"]["Problem"];
    let code = spec.resolve(&problem["properties"]["code"]);
    assert!(
        code["enum"]
            .as_array()
            .is_some_and(|codes| codes.len() > 10),
        "{code}"
    );
    for field in ["type", "title", "status", "detail", "code"] {
        assert!(
            problem["required"]
                .as_array()
                .unwrap()
                .contains(&json!(field)),
            "{field}"
        );
    }
}

/// Response fields that may be absent and may also be `null`, on purpose.
const ABSENT_OR_NULL: &[(&str, &str)] = &[
    // Absent where profiles are not looked up (`/me/memberships`); `null` when Kratos
    // no longer has the identity.
    ("MembershipResponse", "identity"),
];

/// Response fields the document still calls optional and nullable, awaiting a fix in
/// their schemas: `#[schema(required = true)]` on fields always sent (`null` when
/// empty), `#[schema(nullable = false)]` on fields skipped when `None`. Remove an entry
/// once it is fixed; the test fails on any new one.
const PENDING: &[(&str, &str)] = &[];

/// Every `Option` field of a response is either skipped when `None` (optional and not
/// nullable) or always sent (required and nullable), so a generated client's types say
/// exactly what arrives. `responses_match_the_document` checks the other half: that a
/// required, non-nullable field is never missing or `null`.
#[test]
fn option_fields_are_skipped_or_required_and_nullable() {
    let spec = Spec::generated();
    let mut optional_nullable = BTreeSet::new();
    for (name, object) in spec.response_objects() {
        let required: Vec<&str> = object["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for (field, schema) in object["properties"].as_object().expect("properties") {
            assert_ne!(schema["type"], "null", "{name}.{field} can only be null");
            if is_nullable(&spec, schema) && !required.contains(&field.as_str()) {
                optional_nullable.insert((name.clone(), field.clone()));
            }
        }
    }
    let listed = |entries: &[(&str, &str)]| -> BTreeSet<(String, String)> {
        entries
            .iter()
            .map(|(name, field)| ((*name).to_owned(), (*field).to_owned()))
            .collect()
    };
    let expected: BTreeSet<_> = listed(PENDING)
        .union(&listed(ABSENT_OR_NULL))
        .cloned()
        .collect();
    let new: Vec<_> = optional_nullable.difference(&expected).collect();
    assert!(
        new.is_empty(),
        "optional and nullable response fields: mark them #[schema(required = true)] if \
         they are always sent, or #[schema(nullable = false)] if skipped when None: {new:?}"
    );
    let fixed: Vec<_> = expected.difference(&optional_nullable).collect();
    assert!(fixed.is_empty(), "fixed, remove from PENDING: {fixed:?}");
}

/// Calls every operation, the successes and the problems it documents, and checks each
/// answer against the document: status documented, content type, and body schema.
struct Probe<'a> {
    app: &'a TestApp,
    spec: Spec,
    mismatches: Vec<String>,
    called: BTreeSet<(String, String)>,
}

enum Body {
    Json(Value),
    Raw(&'static str, Vec<u8>),
}

impl Probe<'_> {
    /// Sends `request` ("METHOD /path?query") and asserts its status; returns the body.
    async fn expect(&mut self, status: u16, auth: &Auth<'_>, request: &str) -> Value {
        self.send(status, auth, request, None).await
    }

    async fn expect_json(
        &mut self,
        status: u16,
        auth: &Auth<'_>,
        request: &str,
        body: Value,
    ) -> Value {
        self.send(status, auth, request, Some(Body::Json(body)))
            .await
    }

    async fn send(
        &mut self,
        status: u16,
        auth: &Auth<'_>,
        request: &str,
        body: Option<Body>,
    ) -> Value {
        let (method, path) = request.split_once(' ').expect("METHOD /path");
        let method: Method = method.parse().expect("method");
        let mut builder = self.app.request(method.clone(), path, auth.clone());
        builder = match body {
            None => builder,
            Some(Body::Json(value)) => builder.json(&value),
            Some(Body::Raw(kind, bytes)) => builder.header("content-type", kind).body(bytes),
        };
        let reply = Observed::read(builder.send().await.expect("request")).await;
        assert_eq!(reply.status.as_u16(), status, "{request}: {}", reply.body);
        self.mismatches
            .extend(self.spec.check(method.as_str(), path, &reply));
        if let Some(template) = self.spec.template_for(path) {
            let operation = (method.as_str().to_ascii_lowercase(), template.to_owned());
            self.called.insert(operation);
        }
        reply.body
    }
}

async fn audit_log(probe: &mut Probe<'_>, org: &str, alice: &User) {
    let a = Auth::Bearer(&alice.token);
    let admin = Auth::Bearer(&probe.app.admin_key);
    let log = format!("GET /orgs/{org}/audit-log?page_size=2");
    probe.expect(200, &a, &log).await;
    probe.expect(200, &admin, &log).await;
    probe
        .expect(422, &a, &format!("GET /orgs/{org}/audit-log?page_size=0"))
        .await;
    probe
        .expect(200, &admin, "GET /admin/audit-log?page_size=3")
        .await;
    // `org_id` is the org's UUID (it may be deleted, so no slug resolves it).
    probe
        .expect(422, &admin, &format!("GET /admin/audit-log?org_id={org}"))
        .await;
    probe.expect(403, &a, "GET /admin/audit-log").await;
}

async fn responses_match_the_document(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| settings.max_body_bytes = 4096).await;
    let mut probe = Probe {
        app: &app,
        spec: Spec::generated(),
        mismatches: Vec::new(),
        called: BTreeSet::new(),
    };
    health_and_credentials(&mut probe).await;
    let (alice, bob) = (app.user("alice"), app.user("bob"));
    let org = orgs_written(&mut probe, &alice, &bob).await;
    orgs_read(&mut probe, &org, &alice, &bob).await;
    members_added(&mut probe, &org, &alice, &bob).await;
    members_changed(&mut probe, &org, &alice, &bob).await;
    metadata(&mut probe, &org, &alice).await;
    invitations_sent(&mut probe, &org, &alice).await;
    domains::domains(&mut probe, &org, &alice).await;
    roles(&mut probe, &alice).await;
    audit_log(&mut probe, &org, &alice).await;
    clerk_import(&mut probe, &alice).await;
    claims::claims_and_checks(&mut probe, &org, &alice).await;
    webhooks::webhooks(&mut probe, &alice).await;
    let a = Auth::Bearer(&alice.token);
    probe.expect(204, &a, &format!("DELETE /orgs/{org}")).await;

    let every: BTreeSet<(String, String)> = probe
        .spec
        .operations()
        .iter()
        .map(|op| (op.method.to_owned(), op.path.to_owned()))
        .collect();
    let missed: Vec<_> = every.difference(&probe.called).collect();
    assert!(missed.is_empty(), "add calls of {missed:?} to this test");
    assert!(
        probe.mismatches.is_empty(),
        "responses that differ from openapi/openapi.json:\n{}",
        probe.mismatches.join("\n")
    );
}

on_both_backends!(responses_match_the_document);

async fn health_and_credentials(probe: &mut Probe<'_>) {
    for request in ["GET /health/alive", "GET /health/ready", "GET /version"] {
        probe.expect(200, &Auth::None, request).await;
    }
    probe.expect(401, &Auth::None, "GET /orgs").await;
    let kratos = &probe.app.kratos;
    let id = kratos.add_identity(json!({ "email": "step-up@example.com" }));
    let options = crate::support::kratos_double::SessionOptions {
        needs_aal2: true,
        ..Default::default()
    };
    let step_up = kratos.create_session_with(id, options).token;
    let problem = probe
        .expect(403, &Auth::Bearer(&step_up), "GET /orgs")
        .await;
    assert_eq!(problem["code"], "aal_required");
    let fresh = probe.app.user("unlucky");
    probe.app.kratos.fail_with_status(Some(500));
    let problem = probe
        .expect(503, &Auth::Bearer(&fresh.token), "GET /roles")
        .await;
    probe.app.kratos.fail_with_status(None);
    assert_eq!(problem["code"], "identity_provider_unavailable");
}

/// Creates alice's org (returns its slug) and bob's `probe-other`, and the ways to fail.
async fn orgs_written(probe: &mut Probe<'_>, alice: &User, bob: &User) -> String {
    let (a, b) = (Auth::Bearer(&alice.token), Auth::Bearer(&bob.token));
    let created = probe
        .expect_json(201, &a, "POST /orgs", json!({ "name": "Probe Org" }))
        .await;
    let other = json!({ "name": "Other", "slug": "probe-other" });
    probe.expect_json(201, &b, "POST /orgs", other).await;
    let too_large = format!("{{\"name\": \"{}\"}}", "x".repeat(8192)).into_bytes();
    let raw = [
        (400, "application/json", b"{".to_vec()),
        (415, "text/plain", b"{}".to_vec()),
        (413, "application/json", too_large),
    ];
    for (status, kind, bytes) in raw {
        probe
            .send(status, &a, "POST /orgs", Some(Body::Raw(kind, bytes)))
            .await;
    }
    let refused = [
        (422, json!({ "name": " " })),
        (422, json!({ "name": "Typo", "nmae": "x" })),
        (409, json!({ "name": "Taken", "slug": "probe-other" })),
        (403, json!({ "name": "Mine", "private_metadata": {} })),
    ];
    for (status, body) in refused {
        probe.expect_json(status, &a, "POST /orgs", body).await;
    }
    let path = format!("/orgs/{}", created["slug"].as_str().expect("slug"));
    let logo =
        json!({ "image_url": "https://example.com/logo.png", "public_metadata": { "tier": 2 } });
    probe
        .expect_json(200, &a, &format!("PATCH {path}"), logo)
        .await;
    let taken = json!({ "slug": "probe-other" });
    probe
        .expect_json(409, &a, &format!("PATCH {path}"), taken)
        .await;
    probe
        .expect_json(422, &a, &format!("PATCH {path}"), json!({ "bogus": 1 }))
        .await;
    probe.expect(404, &a, "DELETE /orgs/probe-other").await;
    // Not a member yet: the org does not exist for bob.
    probe.expect(404, &b, &format!("DELETE {path}")).await;
    created["slug"].as_str().expect("slug").to_owned()
}

async fn orgs_read(probe: &mut Probe<'_>, org: &str, alice: &User, bob: &User) {
    let (a, b) = (Auth::Bearer(&alice.token), Auth::Bearer(&bob.token));
    let admin_key = probe.app.admin_key.clone();
    let admin = Auth::Bearer(&admin_key);
    probe.expect(200, &a, "GET /orgs?page_size=1").await;
    probe.expect(200, &admin, "GET /orgs?query=probe").await;
    probe.expect(422, &a, "GET /orgs?page_size=0").await;
    probe.expect(200, &a, &format!("GET /orgs/{org}")).await;
    let seen_by_admin = probe.expect(200, &admin, &format!("GET /orgs/{org}")).await;
    assert!(seen_by_admin["private_metadata"].is_object());
    probe.expect(404, &b, &format!("GET /orgs/{org}")).await;
}

async fn members_added(probe: &mut Probe<'_>, org: &str, alice: &User, bob: &User) {
    let (a, b) = (Auth::Bearer(&alice.token), Auth::Bearer(&bob.token));
    let add = format!("POST /orgs/{org}/members");
    let carol = probe.app.user("carol");
    let nobody = uuid::Uuid::new_v4();
    probe
        .expect_json(201, &a, &add, json!({ "identity_id": bob.id }))
        .await;
    let refused = [
        (409, json!({ "identity_id": bob.id })),
        (422, json!({ "identity_id": carol.id, "role": "org:nope" })),
        (422, json!({ "identity_id": nobody })),
        (422, json!({ "identity_id": "not-a-uuid" })),
    ];
    for (status, body) in refused {
        probe.expect_json(status, &a, &add, body).await;
    }
    probe
        .expect_json(403, &b, &add, json!({ "identity_id": carol.id }))
        .await;
    let list = format!("GET /orgs/{org}/members");
    let page = probe.expect(200, &a, &format!("{list}?page_size=1")).await;
    let token = page["next_page_token"].as_str().expect("a second page");
    probe
        .expect(200, &a, &format!("{list}?page_size=1&page_token={token}"))
        .await;
    probe
        .expect(422, &a, &format!("{list}?page_token=nope"))
        .await;
    let admin_key = probe.app.admin_key.clone();
    probe
        .expect(
            200,
            &Auth::Bearer(&admin_key),
            &format!("{list}?role=org:member"),
        )
        .await;
    probe
        .expect(200, &b, &format!("GET /orgs/{org}/members/{}", bob.id))
        .await;
    probe
        .expect(422, &a, &format!("GET /orgs/{org}/members/not-a-uuid"))
        .await;
    probe
        .expect(404, &a, &format!("GET /orgs/{org}/members/{nobody}"))
        .await;
    probe
        .expect(200, &b, "GET /me/memberships?page_size=10")
        .await;
    probe
        .expect(403, &Auth::Bearer(&admin_key), "GET /me/memberships")
        .await;
}

async fn members_changed(probe: &mut Probe<'_>, org: &str, alice: &User, bob: &User) {
    let (a, b) = (Auth::Bearer(&alice.token), Auth::Bearer(&bob.token));
    let alice_path = format!("/orgs/{org}/members/{}", alice.id);
    let bob_path = format!("/orgs/{org}/members/{}", bob.id);
    let role = |key: &str| json!({ "role": key });
    probe
        .expect_json(200, &a, &format!("PATCH {bob_path}"), role("org:admin"))
        .await;
    probe
        .expect_json(200, &b, &format!("PATCH {bob_path}"), role("org:member"))
        .await;
    probe
        .expect_json(422, &a, &format!("PATCH {bob_path}"), role("org:nope"))
        .await;
    let problem = probe
        .expect_json(409, &a, &format!("PATCH {alice_path}"), role("org:member"))
        .await;
    assert_eq!(problem["code"], "last_admin");
    probe.expect(409, &a, &format!("DELETE {alice_path}")).await;
    probe.expect(204, &b, &format!("DELETE {bob_path}")).await;
    probe.expect(404, &a, &format!("DELETE {bob_path}")).await;
}

async fn roles(probe: &mut Probe<'_>, alice: &User) {
    let a = Auth::Bearer(&alice.token);
    let admin_key = probe.app.admin_key.clone();
    let admin = Auth::Bearer(&admin_key);
    probe.expect(200, &a, "GET /roles").await;
    probe.expect(200, &a, "GET /roles/org:admin").await;
    probe.expect(404, &a, "GET /roles/org:nope").await;
    let role = json!({ "key": "org:probe", "name": "Probe", "permissions": ["org:probe:run"] });
    probe
        .expect_json(403, &a, "POST /roles", role.clone())
        .await;
    probe
        .expect_json(201, &admin, "POST /roles", role.clone())
        .await;
    probe.expect_json(409, &admin, "POST /roles", role).await;
    let invalid = json!({ "key": "nope", "name": "" });
    probe.expect_json(422, &admin, "POST /roles", invalid).await;
    let patch = json!({ "description": "Runs probes", "permissions": ["org:probe:stop"] });
    probe
        .expect_json(200, &admin, "PATCH /roles/org:probe", patch)
        .await;
    probe
        .expect_json(404, &admin, "PATCH /roles/org:nope", json!({ "name": "x" }))
        .await;
    probe.expect(409, &admin, "DELETE /roles/org:member").await;
    probe.expect(204, &admin, "DELETE /roles/org:probe").await;
    probe.expect(404, &admin, "DELETE /roles/org:probe").await;
}

async fn metadata(probe: &mut Probe<'_>, org: &str, alice: &User) {
    let a = Auth::Bearer(&alice.token);
    let admin_key = probe.app.admin_key.clone();
    let admin = Auth::Bearer(&admin_key);
    let org_path = format!("PATCH /orgs/{org}/metadata");
    let member_path = format!("PATCH /orgs/{org}/members/{}/metadata", alice.id);
    let public = json!({ "public_metadata": { "plan": "pro", "seats": 3 } });
    let private = json!({ "private_metadata": { "crm": "C-1" } });
    probe.expect_json(200, &a, &org_path, public.clone()).await;
    probe.expect_json(403, &a, &org_path, private.clone()).await;
    let updated = probe
        .expect_json(200, &admin, &org_path, private.clone())
        .await;
    assert_eq!(updated["private_metadata"]["crm"], "C-1");
    probe
        .expect_json(422, &a, &org_path, json!({ "public_metadata": "x" }))
        .await;
    probe.expect_json(200, &a, &member_path, public).await;
    probe.expect_json(200, &admin, &member_path, private).await;
    probe
        .expect_json(422, &a, &member_path, json!({ "public_metadata": [] }))
        .await;
}

/// Invites by e-mail, in bulk, and has the invitees accept and decline.
async fn invitations_sent(probe: &mut Probe<'_>, org: &str, alice: &User) {
    let a = Auth::Bearer(&alice.token);
    let create = format!("POST /orgs/{org}/invitations");
    let invite = |email: &str| json!({ "email_address": email, "redirect_url": "https://app.example.com/join" });
    let dana = probe
        .expect_json(201, &a, &create, invite("dana@probe.example"))
        .await;
    probe
        .expect_json(409, &a, &create, invite("dana@probe.example"))
        .await;
    probe
        .expect_json(422, &a, &create, invite("not an address"))
        .await;
    let bulk = json!([{ "email_address": "erin@probe.example", "role": "org:member" },
        { "email_address": "finn@probe.example", "expires_in_days": 3 },
        { "email_address": "gail@probe.example" }]);
    let created = probe
        .expect_json(201, &a, &format!("{create}/bulk"), bulk)
        .await;
    probe
        .expect_json(422, &a, &format!("{create}/bulk"), json!([]))
        .await;
    let id = |i: usize| created["data"][i]["id"].as_str().expect("id").to_owned();
    let list = format!("GET /orgs/{org}/invitations");
    probe
        .expect(200, &a, &format!("{list}?status=pending&page_size=2"))
        .await;
    probe.expect(200, &a, &format!("{list}/{}", id(0))).await;
    probe
        .expect(404, &a, &format!("{list}/{}", uuid::Uuid::new_v4()))
        .await;
    let revoke = format!("POST /orgs/{org}/invitations/{}/revoke", id(2));
    probe.expect(200, &a, &revoke).await;
    probe.expect(409, &a, &revoke).await;
    // This app sends no e-mail: 409 email_not_configured (a revoked one: not pending).
    let resend = |id: &str| format!("POST /orgs/{org}/invitations/{id}/resend");
    probe.expect(409, &a, &resend(&id(0))).await;
    probe.expect(409, &a, &resend(&id(2))).await;
    probe
        .expect(404, &a, &resend(&uuid::Uuid::new_v4().to_string()))
        .await;
    invitations_answered(probe, &dana, [id(0), id(1)]).await;
}

/// The invitees of [`invitations_sent`] accept and decline: `dana` by her token, the
/// first two bulk invitations (`ids`) by id.
async fn invitations_answered(probe: &mut Probe<'_>, dana: &Value, ids: [String; 2]) {
    let [first, second] = ids;
    let kratos = &probe.app.kratos;
    let invitee = |email: &str| {
        let id = kratos.add_identity(json!({ "email": email }));
        kratos.create_session(id).token
    };
    let (dana_token, erin_token, finn_token) = (
        invitee("dana@probe.example"),
        invitee("erin@probe.example"),
        invitee("finn@probe.example"),
    );
    let (d, e, f) = (
        Auth::Bearer(&dana_token),
        Auth::Bearer(&erin_token),
        Auth::Bearer(&finn_token),
    );
    probe.expect(200, &d, "GET /me/invitations").await;
    let token = json!({ "token": dana["token"] });
    probe
        .expect_json(403, &e, "POST /invitations/accept", token.clone())
        .await;
    probe
        .expect_json(201, &d, "POST /invitations/accept", token.clone())
        .await;
    probe
        .expect_json(409, &d, "POST /invitations/accept", token)
        .await;
    probe
        .expect_json(
            404,
            &d,
            "POST /invitations/accept",
            json!({ "token": "nope" }),
        )
        .await;
    probe
        .expect(201, &e, &format!("POST /me/invitations/{first}/accept"))
        .await;
    probe
        .expect(404, &e, &format!("POST /me/invitations/{second}/accept"))
        .await;
    probe
        .expect(200, &f, &format!("POST /me/invitations/{second}/decline"))
        .await;
    probe
        .expect(409, &f, &format!("POST /me/invitations/{second}/decline"))
        .await;
}

async fn clerk_import(probe: &mut Probe<'_>, alice: &User) {
    let admin_key = probe.app.admin_key.clone();
    let admin = Auth::Bearer(&admin_key);
    let org = json!({ "object": "organization", "id": "org_probe", "name": "Imported",
        "slug": "imported", "public_metadata": {}, "private_metadata": {},
        "max_allowed_memberships": 0, "created_at": 1_716_883_200_000_i64,
        "updated_at": 1_716_883_200_000_i64 });
    let member = json!({ "object": "organization_membership", "id": "orgmem_1",
        "role": "org:member", "organization": { "id": "org_probe" },
        "public_user_data": { "user_id": "user_unknown", "identifier": "nobody@probe.example" } });
    let export = json!({ "organizations": [org], "memberships": [member] });
    let import = "POST /admin/imports/clerk";
    probe
        .expect_json(
            200,
            &admin,
            &format!("{import}?dry_run=true"),
            export.clone(),
        )
        .await;
    probe.expect_json(200, &admin, import, export).await;
    probe
        .expect_json(422, &admin, import, json!({ "organizations": "none" }))
        .await;
    let a = Auth::Bearer(&alice.token);
    probe
        .expect_json(403, &a, import, json!({ "organizations": [] }))
        .await;
    let ids = probe
        .expect(200, &admin, "GET /admin/imports/clerk/org-ids?page_size=1")
        .await;
    assert_eq!(ids["data"][0]["clerk_id"], "org_probe");
}
