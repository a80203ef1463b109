//! `POST /me/token` and `/.well-known/jwks.json`: signed org claims that verify with the
//! published keys, key rotation, and keys shared by replicas.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::time::Duration;

use polis::auth::signing_keys::KeyRing;
use polis::config::Settings;
use polis::store::Rotation;
use polis::AppState;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{Auth, Backend, Reply, TestApp, User};
use crate::on_both_backends;

pub const ISSUER: &str = "http://127.0.0.1:8080";

/// Verifies `token` against the key set `jwks` as a backend would: signature by the key its
/// `kid` names, ES256 only, issuer, `exp` and `nbf`.
pub fn verify(token: &str, jwks: &Value) -> Result<Value, String> {
    verify_with(token, jwks, true)
}

/// [`verify`] without the time checks, for tokens issued by a server whose clock a test
/// moved forward.
fn verify_signature(token: &str, jwks: &Value) -> Result<Value, String> {
    verify_with(token, jwks, false)
}

fn verify_with(token: &str, jwks: &Value, check_times: bool) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    let kid = header.kid.ok_or("no kid")?;
    let jwk = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == kid.as_str()))
        .ok_or_else(|| format!("no published key {kid}"))?;
    let (x, y) = (jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap());
    let key = DecodingKey::from_ec_components(x, y).map_err(|e| e.to_string())?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "iss", "sub", "nbf"]);
    validation.validate_nbf = check_times;
    validation.validate_exp = check_times;
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| e.to_string())
}

pub async fn jwks(base: &str) -> Value {
    let response = reqwest::get(format!("{base}/.well-known/jwks.json"))
        .await
        .expect("jwks");
    let reply = Reply::from(response).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

pub async fn token(app: &TestApp, auth: Auth<'_>, body: Value) -> Reply {
    app.post("/me/token", auth, body).await
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

async fn claims_match_membership(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, bob) = (app.user("alice"), app.user("bob"));
    let org = app.create_org(&alice, "Claims Co").await;
    let (id, slug) = (org["id"].as_str().unwrap(), org["slug"].as_str().unwrap());
    app.add_member(&alice, id, &bob, "org:member").await;
    let session = app.kratos.create_session(bob.id);

    let issued = token(&app, Auth::Bearer(&session.token), json!({"org": slug})).await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.body);
    let jwt = issued.str("token");
    let claims = verify(&jwt, &jwks(&app.base).await).expect("verifies");
    assert_eq!(claims["sub"], bob.id.to_string());
    assert_eq!(claims["sid"], session.session_id.to_string());
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["org_id"], id);
    assert_eq!(claims["org_slug"], slug);
    assert_eq!(claims["org_role"], "org:member");
    assert_eq!(
        claims["org_permissions"],
        json!(["org:sys_memberships:read"])
    );
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(claims["exp"].as_i64().unwrap() - iat, 60, "POLIS_TOKEN_TTL");
    assert_eq!(claims["nbf"].as_i64(), Some(iat));
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    let expires_at = chrono::DateTime::parse_from_rfc3339(&issued.str("expires_at")).unwrap();
    assert_eq!(expires_at.timestamp(), claims["exp"].as_i64().unwrap());
    new_tokens_show_new_roles(&app, &alice, &bob, id, &jwt).await;
}

/// Claims are a snapshot: a new role shows in the next token.
async fn new_tokens_show_new_roles(app: &TestApp, alice: &User, bob: &User, id: &str, jwt: &str) {
    let path = format!("/orgs/{id}/members/{}", bob.id);
    let promoted = app
        .patch(
            &path,
            Auth::Bearer(&alice.token),
            json!({"role": "org:admin"}),
        )
        .await;
    assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.body);
    let again = token(app, Auth::Bearer(&bob.token), json!({"org": id})).await;
    let claims = verify(&again.str("token"), &jwks(&app.base).await).unwrap();
    assert_eq!(claims["org_role"], "org:admin");
    assert!(claims["org_permissions"]
        .as_array()
        .unwrap()
        .contains(&json!("org:sys_memberships:manage")));
    assert_ne!(
        claims["jti"],
        verify(jwt, &jwks(&app.base).await).unwrap()["jti"]
    );
}

async fn who_gets_what(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, carol) = (app.user("alice"), app.user("carol"));
    let org = app.create_org(&alice, "Private Co").await;
    let id = org["id"].as_str().unwrap();

    // No org asked and no active org: identity claims only.
    let plain = token(&app, Auth::SessionToken(&alice.token), json!({})).await;
    assert_eq!(plain.status, StatusCode::OK, "{}", plain.body);
    let claims = verify(&plain.str("token"), &jwks(&app.base).await).unwrap();
    assert_eq!(claims["sub"], alice.id.to_string());
    assert!(claims.get("org_id").is_none(), "{claims}");

    // A non-member, an unknown org and an empty reference.
    token(&app, Auth::Bearer(&carol.token), json!({"org": id}))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "org_not_found");
    token(
        &app,
        Auth::Bearer(&alice.token),
        json!({"org": "no-such-org"}),
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "org_not_found");
    let empty = token(&app, Auth::Bearer(&alice.token), json!({"org": ""})).await;
    empty.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(empty.body["errors"][0]["field"], "org");
    token(
        &app,
        Auth::Bearer(&alice.token),
        json!({"org": id, "extra": 1}),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    // API keys have no org claims of their own.
    token(&app, Auth::Bearer(&app.admin_key), json!({}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    token(&app, Auth::None, json!({}))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
}

async fn jwks_is_public_cacheable_and_private_free(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = reqwest::get(format!("{}/.well-known/jwks.json", app.base))
        .await
        .unwrap();
    let reply = Reply::from(response).await;
    assert_eq!(reply.status, StatusCode::OK);
    let header = |name: &str| reply.headers.get(name).and_then(|v| v.to_str().ok());
    assert_eq!(header("cache-control"), Some("public, max-age=60"));
    assert_eq!(header("content-type"), Some("application/json"));
    let keys = reply.body["keys"].as_array().expect("keys");
    assert_eq!(
        keys.len(),
        1,
        "a fresh instance publishes the key it will sign with"
    );
    let key = keys[0].as_object().unwrap();
    let mut names: Vec<&str> = key.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["alg", "crv", "kid", "kty", "use", "x", "y"],
        "no `d`"
    );
    // The key a token names is that one.
    let alice = app.user("alice");
    let jwt = token(&app, Auth::Bearer(&alice.token), json!({}))
        .await
        .str("token");
    assert_eq!(kid(&jwt), key["kid"].as_str().unwrap());
}

/// Another Polis on the same database, as a second replica would be.
pub async fn replica(app: &TestApp, configure: impl FnOnce(&mut Settings)) -> Replica {
    let mut settings = Settings::from_env();
    settings.database_url = app.db.url.clone();
    settings.kratos_public_url = app.kratos.public_url().parse().unwrap();
    settings.kratos_admin_url = app.kratos.admin_url().parse().unwrap();
    configure(&mut settings);
    let state = AppState::new(app.db.store.clone(), settings)
        .unwrap()
        .with_clock(app.clock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(polis::serve(listener, state, async {
        let _ = stopped.await;
    }));
    Replica { base, _stop: stop }
}

pub struct Replica {
    pub base: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Replica {
    async fn token(&self, user: &User) -> String {
        let response = reqwest::Client::new()
            .post(format!("{}/me/token", self.base))
            .bearer_auth(&user.token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        Reply::from(response).await.str("token")
    }
}

fn kids(jwks: &Value) -> Vec<String> {
    let keys = jwks["keys"].as_array().unwrap();
    keys.iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[track_caller]
fn assert_rotated(rotation: &Rotation) {
    assert!(matches!(rotation, Rotation::Rotated { .. }), "{rotation:?}");
}

/// What `polis keys rotate` does, from another process.
async fn rotate(app: &TestApp, immediately: bool) -> (String, Rotation) {
    let ring = KeyRing::new(app.db.store.clone(), None, Duration::from_secs(60));
    let now = polis::clock::Clock::now(app.clock.as_ref());
    let (key, rotation) = ring.rotate(now, immediately).await.unwrap();
    (key.kid, rotation)
}

async fn rotation_keeps_old_tokens_until_they_expire(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let old = token(&app, Auth::Bearer(&alice.token), json!({}))
        .await
        .str("token");
    let old_kid = kid(&old);

    // The next key is published at once, and signs only once verifiers have had it.
    let (new_kid, rotation) = rotate(&app, false).await;
    assert_rotated(&rotation);
    assert_eq!(
        kids(&jwks(&app.base).await),
        [new_kid.clone(), old_kid.clone()]
    );
    let other = replica(&app, |_| {}).await;
    assert_eq!(kid(&other.token(&alice).await), old_kid, "not yet");
    assert!(matches!(
        rotate(&app, false).await.1,
        Rotation::Pending { .. }
    ));
    let activation = polis::auth::signing_keys::ACTIVATION_DELAY;
    app.clock
        .advance(chrono::Duration::from_std(activation).unwrap());
    // A replica that read the old key after the rotation knows when it stops signing.
    let new = other.token(&alice).await;
    assert_eq!(kid(&new), new_kid, "replicas switch at the activation time");
    let fresh = replica(&app, |_| {}).await;
    assert_eq!(kid(&fresh.token(&alice).await), new_kid);

    old_key_outlives_its_tokens(&app, &other, (&old, &old_kid), (&new, &new_kid)).await;
    rotate_at_once(&app, &alice, &new_kid).await;
}

/// The old key is published as long as tokens it signed may be valid, and no longer.
async fn old_key_outlives_its_tokens(
    app: &TestApp,
    other: &Replica,
    (old, old_kid): (&str, &str),
    (new, new_kid): (&str, &str),
) {
    let published = jwks(&app.base).await;
    assert_eq!(
        jwks(&other.base).await,
        published,
        "replicas publish the same keys"
    );
    assert!(verify(old, &published).is_ok(), "old tokens stay valid");
    assert!(verify_signature(new, &published).is_ok());
    let stored = app.store().list_signing_keys().await.unwrap();
    let retired = stored.iter().find(|k| k.kid == *old_kid).unwrap();
    assert!(
        retired.private_key.is_none(),
        "erased once it stops signing"
    );

    // Once every token the old key signed has expired, it is no longer published.
    app.clock
        .advance(chrono::Duration::seconds(60 + 5 + 60 + 1));
    let later = jwks(&app.base).await;
    assert_eq!(kids(&later), [new_kid]);
    assert!(verify(old, &later)
        .unwrap_err()
        .contains("no published key"));
}

/// `polis keys rotate` before any key exists makes the first key, signing at once.
async fn first_rotation_signs_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (kid_made, rotation) = rotate(&app, false).await;
    let now = polis::clock::Clock::now(app.clock.as_ref());
    assert_eq!(rotation, Rotation::Rotated { activates_at: now });
    let alice = app.user("alice");
    let jwt = token(&app, Auth::Bearer(&alice.token), json!({}))
        .await
        .str("token");
    assert_eq!(kid(&jwt), kid_made);
}

/// A compromised key: the new one signs at once (on a replica reading it afresh; the others
/// within their few seconds of key cache), and the old one stops signing.
async fn rotate_at_once(app: &TestApp, alice: &User, compromised: &str) {
    let (newest, rotation) = rotate(app, true).await;
    assert_rotated(&rotation);
    let fresh = replica(app, |_| {}).await;
    let jwt = fresh.token(alice).await;
    assert_eq!(kid(&jwt), newest);
    assert!(verify_signature(&jwt, &jwks(&fresh.base).await).is_ok());
    let stored = app.store().list_signing_keys().await.unwrap();
    let old = stored.iter().find(|k| k.kid == compromised).unwrap();
    assert!(old.retired_at.is_some() && old.private_key.is_none());
}

async fn replicas_agree_on_the_first_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let replicas = [replica(&app, |_| {}).await, replica(&app, |_| {}).await];
    // Both create "the" first key at once; the database lets one win.
    let (a, b) = tokio::join!(jwks(&replicas[0].base), jwks(&replicas[1].base));
    assert_eq!(a, b);
    assert_eq!(a["keys"].as_array().unwrap().len(), 1);
    let alice = app.user("alice");
    let jwt = replicas[1].token(&alice).await;
    assert!(verify(&jwt, &jwks(&app.base).await).is_ok());
}

async fn sealed_keys_need_their_secret(backend: Backend) {
    const SECRET: &str = "test-signing-key-secret-0123456789abcdef";
    let app = TestApp::spawn_with(backend, |s| {
        s.claims.signing_key_secret = Some(SECRET.into());
    })
    .await;
    let alice = app.user("alice");
    let jwt = token(&app, Auth::Bearer(&alice.token), json!({}))
        .await
        .str("token");
    assert!(verify(&jwt, &jwks(&app.base).await).is_ok());
    let stored = app.store().list_signing_keys().await.unwrap();
    let sealed = stored[0].private_key.as_deref().unwrap();
    assert!(sealed.starts_with("aes256gcm:"), "encrypted at rest");
    // A replica without the secret cannot sign, and says so as a 500 without details.
    let other = replica(&app, |_| {}).await;
    let response = reqwest::Client::new()
        .post(format!("{}/me/token", other.base))
        .bearer_auth(&alice.token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let reply = Reply::from(response).await;
    reply.assert_problem(StatusCode::INTERNAL_SERVER_ERROR, "internal_error");
    assert!(!reply.body.to_string().contains("SECRET"), "{}", reply.body);
}

on_both_backends!(
    claims_match_membership,
    who_gets_what,
    jwks_is_public_cacheable_and_private_free,
    rotation_keeps_old_tokens_until_they_expire,
    replicas_agree_on_the_first_key,
    first_rotation_signs_at_once,
    sealed_keys_need_their_secret,
);
