//! Fidelity tests of the Kratos test double (`tests/support/kratos_double.rs`) against the wire
//! contract of `docs/kratos.md` (§1.2, §1.3, §3, §8).

#[path = "support/kratos_double.rs"]
mod kratos_double;

use std::time::{Duration, Instant};

use kratos_double::{IdentitySeed, KratosDouble, SessionOptions};
use reqwest::header::HeaderMap;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

const NO_SESSION_BODY: &str = r#"{"error":{"code":401,"status":"Unauthorized","reason":"No valid session credentials found in the request.","message":"The request could not be authorized"}}"#;

fn client() -> Client {
    Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn alice() -> Value {
    json!({"email": "Alice@Example.com", "first_name": "Alice", "last_name": "Ng"})
}

async fn body_json(response: reqwest::Response) -> (StatusCode, HeaderMap, Value) {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, json)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn assert_rfc3339_micros(value: &Value) {
    let s = value.as_str().expect("timestamp string");
    assert!(s.ends_with('Z') && s.contains('.'), "timestamp {s}");
    chrono::DateTime::parse_from_rfc3339(s).expect("RFC 3339");
}

async fn whoami(
    double: &KratosDouble,
    build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> reqwest::Response {
    let request = client().get(format!("{}/sessions/whoami", double.public_url()));
    build(request).send().await.expect("whoami")
}

fn assert_public_identity(identity: &Value, id: Uuid, public_url: &str) {
    assert_eq!(identity["id"], json!(id));
    assert_eq!(identity["schema_id"], json!("default"));
    assert_eq!(
        identity["schema_url"],
        json!(format!("{public_url}/schemas/ZGVmYXVsdA"))
    );
    assert_eq!(identity["state"], json!("active"));
    assert_eq!(identity["traits"], alice());
    assert_eq!(identity["metadata_public"], Value::Null);
    assert_eq!(identity["organization_id"], Value::Null);
    assert!(identity.get("metadata_admin").is_none());
    assert!(identity.get("credentials").is_none());
    let address = &identity["verifiable_addresses"][0];
    assert_eq!(address["value"], json!("alice@example.com"));
    assert_eq!(address["verified"], json!(true));
    assert_eq!(address["status"], json!("completed"));
    assert_eq!(
        identity["recovery_addresses"][0]["value"],
        json!("alice@example.com")
    );
}

#[tokio::test]
async fn whoami_200_has_kratos_headers_and_session_shape() {
    let double = KratosDouble::start().await;
    let id = double.insert_identity(IdentitySeed {
        traits: alice(),
        metadata_admin: Some(json!({"legacy_clerk_id": "user_1"})),
        ..IdentitySeed::default()
    });
    let session = double.create_session(id);
    assert_eq!(session.token.len(), 32);
    assert!(session.token.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_ne!(session.cookie, session.token);

    let by_token = whoami(&double, |r| r.header("X-Session-Token", &session.token)).await;
    let (status, headers, body) = body_json(by_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(
        header(&headers, "x-kratos-authenticated-identity-id"),
        Some(id.to_string().as_str())
    );
    assert!(headers.get("ory-session-cache-for").is_none());
    assert_eq!(body["id"], json!(session.session_id));
    assert_eq!(body["active"], json!(true));
    assert_eq!(body["authenticator_assurance_level"], json!("aal1"));
    assert_eq!(
        body["authentication_methods"][0]["method"],
        json!("password")
    );
    assert_eq!(body["devices"], json!([]));
    for key in ["expires_at", "authenticated_at", "issued_at"] {
        assert_rfc3339_micros(&body[key]);
    }
    assert_public_identity(&body["identity"], id, &double.public_url());
}

#[tokio::test]
async fn whoami_accepts_cookie_bearer_and_any_method() {
    let double = KratosDouble::start().await;
    let id = double.add_identity(alice());
    let session = double.create_session(id);

    let cookie = format!("theme=dark; {}; other=1", session.cookie_header());
    let by_cookie = whoami(&double, |r| r.header("Cookie", cookie)).await;
    assert_eq!(by_cookie.status(), StatusCode::OK);

    let bearer = format!("bEaReR {}", session.token);
    let by_bearer = whoami(&double, |r| r.header("Authorization", bearer)).await;
    assert_eq!(by_bearer.status(), StatusCode::OK);

    let posted = client()
        .post(format!("{}/sessions/whoami", double.public_url()))
        .header("X-Session-Token", &session.token)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::OK);
}

#[tokio::test]
async fn whoami_credential_precedence_and_bearer_shape() {
    let double = KratosDouble::start().await;
    let id = double.add_identity(alice());
    let session = double.create_session(id);

    // X-Session-Token wins even if it is wrong.
    let response = whoami(&double, |r| {
        r.header("X-Session-Token", "wrong")
            .header("Cookie", session.cookie_header())
    })
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // A cookie that does not decode falls through to the bearer token.
    let response = whoami(&double, |r| {
        r.header("Cookie", "ory_kratos_session=garbage")
            .header("Authorization", format!("Bearer {}", session.token))
    })
    .await;
    assert_eq!(response.status(), StatusCode::OK);

    // Exactly two space-separated parts.
    for value in [
        format!("Bearer  {}", session.token),
        format!("Bearer {} x", session.token),
        session.token.clone(),
    ] {
        let response = whoami(&double, |r| r.header("Authorization", value)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn whoami_401_for_missing_unknown_revoked_expired_inactive_and_deleted() {
    let double = KratosDouble::start().await;

    let (status, headers, body) = body_json(whoami(&double, |r| r).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    assert_eq!(
        body,
        serde_json::from_str::<Value>(NO_SESSION_BODY).unwrap()
    );

    let (_, _, body) =
        body_json(whoami(&double, |r| r.header("X-Request-ID", "req-42")).await).await;
    assert_eq!(body["error"]["request"], json!("req-42"));

    let unknown = whoami(&double, |r| r.header("X-Session-Token", "nope")).await;
    let (status, _, body) = body_json(unknown).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        serde_json::from_str::<Value>(NO_SESSION_BODY).unwrap()
    );

    let id = double.add_identity(alice());
    let revoked = double.create_session(id);
    double.revoke_session(&revoked.token);
    let expired = double.create_session_with(
        id,
        SessionOptions {
            expires_in: chrono::Duration::seconds(-1),
            ..SessionOptions::default()
        },
    );
    let inactive_flag = double.create_session_with(
        id,
        SessionOptions {
            active: false,
            ..SessionOptions::default()
        },
    );
    for token in [&revoked.token, &expired.token, &inactive_flag.token] {
        let response = whoami(&double, |r| r.header("X-Session-Token", token)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "token {token}");
    }

    let session = double.create_session(id);
    double.set_identity_state(id, "inactive");
    let response = whoami(&double, |r| r.header("X-Session-Token", &session.token)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    double.set_identity_state(id, "active");
    let response = whoami(&double, |r| r.header("X-Session-Token", &session.token)).await;
    assert_eq!(response.status(), StatusCode::OK);

    double.delete_identity(id);
    let response = whoami(&double, |r| r.header("Cookie", session.cookie_header())).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn whoami_403_when_aal2_is_required() {
    let double = KratosDouble::start().await;
    let id = double.add_identity(alice());
    let session = double.create_session_with(
        id,
        SessionOptions {
            needs_aal2: true,
            ..SessionOptions::default()
        },
    );
    let (status, headers, body) =
        body_json(whoami(&double, |r| r.header("X-Session-Token", &session.token)).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        header(&headers, "ory-error-id"),
        Some("session_aal2_required")
    );
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    let redirect = format!(
        "{}/self-service/login/browser?aal=aal2",
        double.public_url()
    );
    assert_eq!(
        body,
        json!({
            "error": {
                "id": "session_aal2_required",
                "code": 403,
                "status": "Forbidden",
                "reason": "An active session was found but it does not fulfill the requested Authenticator Assurance Level. Please verify yourself with a second factor to resolve this issue.",
                "details": {"redirect_browser_to": redirect},
                "message": "Session does not fulfill the requested Authenticator Assurance Level"
            },
            "redirect_browser_to": redirect
        })
    );
}

#[tokio::test]
async fn whoami_tokenize_as_is_400_after_authentication() {
    let double = KratosDouble::start().await;
    let id = double.add_identity(alice());
    let session = double.create_session(id);
    let url = format!(
        "{}/sessions/whoami?tokenize_as=membership_jwt",
        double.public_url()
    );

    let response = client()
        .get(&url)
        .header("X-Session-Token", &session.token)
        .send()
        .await
        .unwrap();
    let (status, _, body) = body_json(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": {"code": 400, "status": "Bad Request",
            "reason": "Unable to find tokenizer template \"membership_jwt\".",
            "message": "The request was malformed or contained invalid parameters"}})
    );

    let response = client().get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cache_header_follows_kratos_rules() {
    let double = KratosDouble::start().await;
    let id = double.add_identity(alice());
    let session = double.create_session_with(
        id,
        SessionOptions {
            expires_in: chrono::Duration::seconds(600),
            ..SessionOptions::default()
        },
    );
    double.set_cache_header(true);

    let response = whoami(&double, |r| r.header("X-Session-Token", &session.token)).await;
    let seconds: i64 = header(response.headers(), "ory-session-cache-for")
        .unwrap()
        .parse()
        .unwrap();
    assert!((598..=600).contains(&seconds), "{seconds}");

    let response = whoami(&double, |r| r).await;
    assert_eq!(
        header(response.headers(), "ory-session-cache-for"),
        Some("60")
    );

    let response = whoami(&double, |r| r.header("X-Session-Token", "unknown")).await;
    assert!(response.headers().get("ory-session-cache-for").is_none());

    let tokenized = client()
        .get(format!(
            "{}/sessions/whoami?tokenize_as=x",
            double.public_url()
        ))
        .header("X-Session-Token", &session.token)
        .send()
        .await
        .unwrap();
    assert!(tokenized.headers().get("ory-session-cache-for").is_none());
}

#[tokio::test]
async fn health_and_version_on_both_listeners() {
    let double = KratosDouble::start().await;
    for base in [
        double.public_url(),
        double.admin_url(),
        format!("{}/admin", double.admin_url()),
    ] {
        for (path, expected) in [
            ("/health/alive", json!({"status": "ok"})),
            ("/health/ready", json!({"status": "ok"})),
            ("/version", json!({"version": "v26.2.0"})),
        ] {
            let (status, _, body) =
                body_json(client().get(format!("{base}{path}")).send().await.unwrap()).await;
            assert_eq!(status, StatusCode::OK, "{base}{path}");
            assert_eq!(body, expected);
        }
    }
    double.set_ready(false);
    let response = client()
        .get(format!("{}/health/ready", double.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        double.admin_calls(),
        0,
        "health and version are not admin API calls"
    );
}

async fn get_json(url: String) -> (StatusCode, HeaderMap, Value) {
    body_json(client().get(url).send().await.expect("GET")).await
}

fn sorted_ids(body: &Value) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = body
        .as_array()
        .expect("array body")
        .iter()
        .map(|i| i["id"].as_str().unwrap().parse().unwrap())
        .collect();
    ids.sort();
    ids
}

fn add_users(double: &KratosDouble, count: usize) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = (0..count)
        .map(|n| double.add_identity(json!({"email": format!("user{n}@example.com")})))
        .collect();
    ids.sort();
    ids
}

const FIRST_TOKEN: &str = "page_token=00000000-0000-0000-0000-000000000000";

#[tokio::test]
async fn admin_list_is_a_bare_array_sorted_by_id_with_a_first_link() {
    let double = KratosDouble::start().await;
    let ids = add_users(&double, 5);
    let (status, headers, body) =
        get_json(format!("{}/admin/identities", double.admin_url())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(
        header(&headers, "link"),
        Some(format!(r#"</admin/identities?page_size=250&{FIRST_TOKEN}>; rel="first""#).as_str())
    );
    let listed: Vec<Uuid> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(listed, ids, "ascending id order");
    let identifiers = body[0]["credentials"]["password"]["identifiers"]
        .as_array()
        .unwrap();
    assert_eq!(identifiers.len(), 1);
    assert!(identifiers[0].as_str().unwrap().ends_with("@example.com"));
    assert!(body[0].get("metadata_admin").is_some());
}

#[tokio::test]
async fn admin_list_follows_next_links_to_the_last_page() {
    let double = KratosDouble::start().await;
    let ids = add_users(&double, 5);
    let base = double.admin_url();
    let mut seen = Vec::new();
    let mut next = Some(format!("{base}/admin/identities?page_size=2"));
    let mut pages = 0;
    while let Some(url) = next.take() {
        pages += 1;
        let (status, headers, body) = get_json(url).await;
        assert_eq!(status, StatusCode::OK);
        seen.extend(sorted_ids(&body));
        let link = header(&headers, "link").unwrap().to_owned();
        let first = format!(r#"</admin/identities?page_size=2&{FIRST_TOKEN}>; rel="first""#);
        assert!(link.starts_with(&first), "{link}");
        next = link
            .split(',')
            .find(|part| part.ends_with(r#"rel="next""#))
            .map(|part| format!("{base}{}", part[1..].split('>').next().unwrap()));
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids);

    let url = format!("{base}/admin/identities?page_size=2&page_token={}", ids[1]);
    let (_, headers, body) = get_json(url).await;
    assert_eq!(sorted_ids(&body), ids[2..4].to_vec());
    assert_eq!(
        header(&headers, "link").unwrap(),
        format!(
            r#"</admin/identities?page_size=2&{FIRST_TOKEN}>; rel="first",</admin/identities?page_size=2&page_token={}>; rel="next""#,
            ids[3]
        )
    );
}

#[tokio::test]
async fn admin_list_page_size_is_clamped_or_rejected() {
    let double = KratosDouble::start().await;
    add_users(&double, 1);
    let base = double.admin_url();
    for (size, effective) in [("9999", "500"), ("0", "250"), ("-3", "250")] {
        let (status, headers, _) = get_json(format!("{base}/identities?page_size={size}")).await;
        assert_eq!(status, StatusCode::OK);
        let link = header(&headers, "link").unwrap();
        assert!(link.contains(&format!("page_size={effective}&")), "{link}");
    }
    let (status, _, body) = get_json(format!("{base}/identities?page_size=abc")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"]["reason"],
        json!("strconv.Atoi: parsing \"abc\": invalid syntax")
    );
}

#[tokio::test]
async fn admin_list_ids_filter() {
    let double = KratosDouble::start().await;
    let ids = add_users(&double, 3);
    let base = format!("{}/admin/identities", double.admin_url());

    let url = format!(
        "{base}?ids={}&ids={}&ids={}",
        ids[0],
        ids[2],
        Uuid::new_v4()
    );
    let (status, _, body) = get_json(url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        sorted_ids(&body),
        vec![ids[0], ids[2]],
        "unknown ids are ignored"
    );

    let (status, _, body) = get_json(format!("{base}?ids={}&ids=not-a-uuid", ids[0])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"]["reason"],
        json!("Invalid UUID value `not-a-uuid` for parameter `ids`.")
    );

    let too_many: Vec<String> = (0..501)
        .map(|_| format!("ids={}", Uuid::new_v4()))
        .collect();
    let (status, _, body) = get_json(format!("{base}?{}", too_many.join("&"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"]["reason"],
        json!("The number of ids to filter must not exceed 500.")
    );
}

#[tokio::test]
async fn admin_list_identifier_and_organization_filters() {
    let double = KratosDouble::start().await;
    let org = Uuid::new_v4();
    let a = double.add_identity(alice());
    let b = double.insert_identity(IdentitySeed {
        traits: json!({"email": "bob@example.com"}),
        organization_id: Some(org),
        ..IdentitySeed::default()
    });
    let base = format!("{}/admin/identities", double.admin_url());

    let (_, headers, body) =
        get_json(format!("{base}?credentials_identifier=ALICE%40example.COM")).await;
    assert_eq!(sorted_ids(&body), vec![a], "case-insensitive exact match");
    assert_eq!(
        header(&headers, "link"),
        Some(format!(r#"</admin/identities?credentials_identifier=ALICE%40example.COM&page_size=250&{FIRST_TOKEN}>; rel="first""#).as_str())
    );
    let (_, _, body) = get_json(format!("{base}?credentials_identifier=alice@example.co")).await;
    assert_eq!(body, json!([]));

    let (_, _, body) = get_json(format!("{base}?organization_id={org}")).await;
    assert_eq!(sorted_ids(&body), vec![b]);
    let (status, _, body) = get_json(format!("{base}?organization_id=x")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"]["reason"],
        json!("Invalid UUID value `x` for parameter `organization_id`.")
    );

    let url = format!("{base}?ids={a}&credentials_identifier=alice@example.com");
    let (status, headers, body) = get_json(url).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    assert_eq!(
        body,
        json!({"error": {"code": 400, "status": "Bad Request",
            "reason": "You cannot combine multiple filters in this API",
            "message": "The request was malformed or contained invalid parameters"}})
    );
}

#[tokio::test]
async fn admin_get_identity() {
    let double = KratosDouble::start().await;
    let id = double.insert_identity(IdentitySeed {
        traits: alice(),
        metadata_public: Some(json!({"plan": "pro"})),
        metadata_admin: Some(json!({"legacy_clerk_id": "user_2abc"})),
        verified: false,
        ..IdentitySeed::default()
    });
    for url in [
        format!("{}/admin/identities/{id}", double.admin_url()),
        format!("{}/identities/{id}", double.admin_url()),
    ] {
        let (status, headers, body) = body_json(client().get(url).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            header(&headers, "content-type"),
            Some("application/json; charset=utf-8")
        );
        assert_eq!(body["id"], json!(id));
        assert_eq!(
            body["metadata_admin"],
            json!({"legacy_clerk_id": "user_2abc"})
        );
        assert_eq!(body["metadata_public"], json!({"plan": "pro"}));
        assert_eq!(body["organization_id"], Value::Null);
        let password = &body["credentials"]["password"];
        assert_eq!(password["type"], json!("password"));
        assert_eq!(password["identifiers"], json!(["alice@example.com"]));
        assert!(password.get("config").is_none());
        assert_eq!(body["verifiable_addresses"][0]["verified"], json!(false));
        assert_eq!(body["verifiable_addresses"][0]["status"], json!("pending"));
        for key in ["created_at", "updated_at", "state_changed_at"] {
            assert_rfc3339_micros(&body[key]);
        }
    }
    let expected_404 = json!({"error": {"code": 404, "status": "Not Found", "message": "Unable to locate the resource"}});
    for raw in [Uuid::new_v4().to_string(), "not-a-uuid".to_owned()] {
        let (status, headers, body) = body_json(
            client()
                .get(format!("{}/admin/identities/{raw}", double.admin_url()))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(header(&headers, "content-type"), Some("application/json"));
        assert_eq!(body, expected_404);
    }
    assert_eq!(double.admin_calls(), 4);

    // The public port redirects admin routes to the admin port, like Kratos.
    let redirected = client()
        .get(format!("{}/admin/identities/{id}", double.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(redirected.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        header(redirected.headers(), "location"),
        Some(format!("{}/admin/identities/{id}", double.admin_url()).as_str())
    );
}

async fn send_patch(double: &KratosDouble, id: Uuid, ops: Value) -> (StatusCode, HeaderMap, Value) {
    let url = format!("{}/admin/identities/{id}", double.admin_url());
    body_json(client().patch(url).json(&ops).send().await.expect("PATCH")).await
}

#[tokio::test]
async fn admin_patch_updates_traits_and_metadata() {
    let double = KratosDouble::start().await;
    let id = double.add_identity(alice());
    let session = double.create_session(id);
    let (status, _, body) = send_patch(
        &double,
        id,
        json!([
            {"op": "replace", "path": "/traits/first_name", "value": "Al"},
            {"op": "replace", "path": "/metadata_admin", "value": {"orgs": ["o1"]}},
            {"op": "add", "path": "/metadata_public", "value": {"plan": "pro"}}
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["traits"]["first_name"], json!("Al"));
    assert_eq!(body["metadata_admin"], json!({"orgs": ["o1"]}));
    assert_eq!(body["metadata_public"], json!({"plan": "pro"}));
    assert_eq!(
        double.identity(id).unwrap()["metadata_admin"],
        json!({"orgs": ["o1"]})
    );

    let (_, _, me) =
        body_json(whoami(&double, |r| r.header("X-Session-Token", &session.token)).await).await;
    assert_eq!(me["identity"]["metadata_public"], json!({"plan": "pro"}));
    assert!(me["identity"].get("metadata_admin").is_none());

    let (status, _, body) = send_patch(
        &double,
        id,
        json!([{"op": "remove", "path": "/metadata_admin/orgs"}]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["metadata_admin"], json!({}));

    let unknown = send_patch(&double, Uuid::new_v4(), json!([])).await;
    assert_eq!(unknown.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn admin_patch_rejections() {
    let double = KratosDouble::start().await;
    let id = double.add_identity(alice());

    // Adding under a null parent fails, as in Kratos: replace the whole object instead.
    let add = json!([{"op": "add", "path": "/metadata_admin/orgs", "value": []}]);
    let (status, headers, body) = send_patch(&double, id, add).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    assert_eq!(
        body["error"]["reason"],
        json!("An error occured when applying the JSON patch")
    );

    for path in [
        "/id",
        "/credentials",
        "/credentials/password/identifiers",
        "/stateChangedAt",
    ] {
        let ops = json!([{"op": "replace", "path": path, "value": "x"}]);
        assert_eq!(
            send_patch(&double, id, ops).await.0,
            StatusCode::BAD_REQUEST,
            "{path}"
        );
    }
    let (status, _, _) = send_patch(&double, id, json!({"not": "a patch"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let ops = json!([{"op": "replace", "path": "/state", "value": "deleted"}]);
    let (status, _, body) = send_patch(&double, id, ops).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"]["reason"],
        json!("The supplied state ('deleted') was not valid. Valid states are ('active', 'inactive').")
    );
}

#[tokio::test]
async fn admin_patch_state_and_email() {
    let double = KratosDouble::start().await;
    let id = double.add_identity(alice());
    double.add_identity(json!({"email": "bob@example.com"}));
    let session = double.create_session(id);

    let ops = json!([{"op": "replace", "path": "/state", "value": "inactive"}]);
    let (status, _, body) = send_patch(&double, id, ops).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["state"], json!("inactive"));
    let response = whoami(&double, |r| r.header("X-Session-Token", &session.token)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // Changing the email re-derives the identifier; the new address starts unverified.
    let ops = json!([{"op": "replace", "path": "/traits/email", "value": "Al@Example.com"}]);
    let (status, _, body) = send_patch(&double, id, ops).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["credentials"]["password"]["identifiers"],
        json!(["al@example.com"])
    );
    assert_eq!(body["verifiable_addresses"][0]["verified"], json!(false));

    let ops = json!([{"op": "replace", "path": "/traits/email", "value": "bob@example.com"}]);
    assert_eq!(send_patch(&double, id, ops).await.0, StatusCode::CONFLICT);
}

#[tokio::test]
async fn admin_delete_identity_and_sessions() {
    let double = KratosDouble::start().await;
    let id = double.add_identity(alice());
    let first = double.create_session(id);
    let second = double.create_session(id);
    let admin = double.admin_url();

    let response = client()
        .delete(format!("{admin}/admin/identities/{id}/sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    for session in [&first, &second] {
        let response = whoami(&double, |r| r.header("X-Session-Token", &session.token)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // Kratos answers 404 when there was no session left to delete.
    let response = client()
        .delete(format!("{admin}/admin/identities/{id}/sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = client()
        .delete(format!("{admin}/admin/identities/abc/sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let third = double.create_session(id);
    let response = client()
        .delete(format!("{admin}/admin/identities/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = client()
        .delete(format!("{admin}/identities/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = client()
        .get(format!("{admin}/admin/identities/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = whoami(&double, |r| r.header("X-Session-Token", &third.token)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        double.admin_requests(),
        vec![
            format!("DELETE /admin/identities/{id}/sessions"),
            format!("DELETE /admin/identities/{id}/sessions"),
            "DELETE /admin/identities/abc/sessions".to_owned(),
            format!("DELETE /admin/identities/{id}"),
            format!("DELETE /admin/identities/{id}"),
            format!("GET /admin/identities/{id}"),
        ]
    );
}

#[tokio::test]
async fn admin_create_identity() {
    let double = KratosDouble::start().await;
    let response = client()
        .post(format!("{}/admin/identities", double.admin_url()))
        .json(
            &json!({"schema_id": "default", "traits": {"email": "new@example.com"},
            "metadata_admin": {"invited_by": "x"}}),
        )
        .send()
        .await
        .unwrap();
    let (status, headers, body) = body_json(response).await;
    assert_eq!(status, StatusCode::CREATED);
    let id: Uuid = body["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        header(&headers, "location"),
        Some(format!("{}/identities/{id}", double.admin_url()).as_str())
    );
    assert_eq!(body["verifiable_addresses"][0]["verified"], json!(false));
    assert_eq!(
        double.identity(id).unwrap()["metadata_admin"],
        json!({"invited_by": "x"})
    );

    let duplicate = client()
        .post(format!("{}/admin/identities", double.admin_url()))
        .json(&json!({"schema_id": "default", "traits": {"email": "NEW@example.com"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(duplicate.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn latency_delays_both_listeners_and_counters_count() {
    let double = KratosDouble::start().await;
    let id = double.add_identity(alice());
    let session = double.create_session(id);

    double.set_latency(Duration::from_millis(300));
    let started = Instant::now();
    let response = whoami(&double, |r| r.header("X-Session-Token", &session.token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let started = Instant::now();
    get_json(format!("{}/admin/identities", double.admin_url())).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    double.set_latency(Duration::ZERO);

    whoami(&double, |r| r).await;
    assert_eq!((double.whoami_calls(), double.admin_calls()), (2, 1));
    assert_eq!(
        double.admin_requests(),
        vec!["GET /admin/identities".to_owned()]
    );
    double.reset_counters();
    assert_eq!((double.whoami_calls(), double.admin_calls()), (0, 0));
}

#[tokio::test]
async fn fail_with_status_answers_every_route_with_a_herodot_error() {
    let double = KratosDouble::start().await;
    let id = double.add_identity(alice());
    let session = double.create_session(id);
    for status in [500_u16, 502, 503] {
        double.fail_with_status(Some(status));
        for url in [
            format!("{}/sessions/whoami", double.public_url()),
            format!("{}/health/ready", double.public_url()),
            format!("{}/admin/identities/{id}", double.admin_url()),
        ] {
            let request = client().get(&url).header("X-Session-Token", &session.token);
            let response = request.header("X-Request-ID", "r1").send().await.unwrap();
            let (got, headers, body) = body_json(response).await;
            assert_eq!(got.as_u16(), status, "{url}");
            assert_eq!(header(&headers, "content-type"), Some("application/json"));
            assert_eq!(body["error"]["code"], json!(status));
            assert_eq!(
                body["error"]["status"],
                json!(got.canonical_reason().unwrap())
            );
            assert_eq!(body["error"]["request"], json!("r1"));
            assert!(body["error"]["message"].is_string());
        }
    }
    double.fail_with_status(Some(500));
    let (_, _, body) = get_json(format!("{}/version", double.public_url())).await;
    assert_eq!(
        body,
        json!({"error": {"code": 500, "status": "Internal Server Error",
            "message": "An internal server error occurred, please contact the system administrator"}})
    );
    double.fail_with_status(None);
    let response = whoami(&double, |r| r.header("X-Session-Token", &session.token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        double.whoami_calls(),
        3 + 1,
        "failed whoami calls are counted too"
    );
}

#[tokio::test]
async fn refuse_connections_then_recover_on_the_same_ports() {
    let double = KratosDouble::start().await;
    let id = double.add_identity(alice());
    let session = double.create_session(id);
    let pooled = client();
    let whoami_url = format!("{}/sessions/whoami", double.public_url());
    let ok = pooled
        .get(&whoami_url)
        .header("X-Session-Token", &session.token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);

    double.refuse_connections(true);
    for url in [
        whoami_url.clone(),
        format!("{}/admin/identities", double.admin_url()),
    ] {
        let error = client()
            .get(&url)
            .send()
            .await
            .expect_err("connection must be refused");
        assert!(error.is_connect(), "{error:?}");
    }
    // A pooled keep-alive connection is gone too.
    assert!(pooled
        .get(&whoami_url)
        .header("X-Session-Token", &session.token)
        .send()
        .await
        .is_err());

    double.refuse_connections(false);
    let response = client()
        .get(&whoami_url)
        .header("X-Session-Token", &session.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = client()
        .get(format!("{}/admin/identities/{id}", double.admin_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    double.shutdown().await;
    assert!(client()
        .get(&whoami_url)
        .send()
        .await
        .unwrap_err()
        .is_connect());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_file_and_known_tokens() {
    let double = KratosDouble::start().await;
    let seeded = double
        .seed_from_json(
            r#"{"identities": [
                {"id": "6f9c3a52-1f0e-4d2b-9a57-0c2f5f0b8e11",
                 "traits": {"email": "alice@example.com", "first_name": "Alice", "last_name": "Ng"},
                 "metadata_admin": {"legacy_clerk_id": "user_2abc"}, "verified": true,
                 "sessions": ["alice-session-token"], "cookies": ["alice-cookie"]},
                {"traits": {"email": "bob@example.com"}, "state": "inactive", "sessions": ["bob-token"]}
            ]}"#,
        )
        .unwrap();
    assert_eq!(seeded.len(), 2);
    assert_eq!(
        seeded[0].id,
        "6f9c3a52-1f0e-4d2b-9a57-0c2f5f0b8e11"
            .parse::<Uuid>()
            .unwrap()
    );
    assert_eq!(seeded[0].email.as_deref(), Some("alice@example.com"));
    assert_eq!(
        seeded[0].session_tokens,
        vec!["alice-session-token".to_owned()]
    );

    let response = whoami(&double, |r| {
        r.header("X-Session-Token", "alice-session-token")
    })
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(seeded[0].session_cookies, vec!["alice-cookie".to_owned()]);
    let response = whoami(&double, |r| {
        r.header("Cookie", "theme=dark; ory_kratos_session=alice-cookie")
    })
    .await;
    let (status, _, body) = body_json(response).await;
    assert_eq!(status, StatusCode::OK, "a seeded cookie signs in");
    assert_eq!(body["identity"]["id"], json!(seeded[0].id));
    let response = whoami(&double, |r| {
        r.header("Cookie", "ory_kratos_session=alice-session-token")
    })
    .await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "a token is not a cookie"
    );
    let response = whoami(&double, |r| r.header("Authorization", "Bearer bob-token")).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "inactive identity"
    );
    assert!(double.seed_from_json("{}").is_err());

    // Concurrent callers are served concurrently.
    double.set_latency(Duration::from_millis(200));
    let started = Instant::now();
    let calls = (0..20).map(|_| {
        whoami(&double, |r| {
            r.header("X-Session-Token", "alice-session-token")
        })
    });
    for response in futures::future::join_all(calls).await {
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert!(started.elapsed() < Duration::from_millis(2000));
}
