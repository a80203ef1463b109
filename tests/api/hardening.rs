//! The security review's findings (issue 9): each test fails on the code before its fix.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Auth, Backend, TestApp};
use crate::on_both_backends;

/// Numbers at the edges of what JSON carries come back exactly as they were sent, on
/// every metadata field, although PostgreSQL's jsonb prints them in its own notation.
async fn metadata_numbers_round_trip(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let numbers = json!({
        "max": 1.797_693_134_862_315_7e308,
        "min_subnormal": 5e-324,
        "tiny": -1.5e-300,
        "huge": 1e300,
        "u64_max": u64::MAX,
        "i64_min": i64::MIN,
        "integral_float": 100.0,
        "third": 0.333_333_333_333_333_3,
        "nested": [1.797_693_134_862_315_7e308, {"x": -2.225_073_858_507_201_4e-308}]
    });
    let created = app
        .post(
            "/orgs",
            Auth::Bearer(&app.admin_key),
            json!({"name": "Numbers", "public_metadata": numbers, "private_metadata": numbers}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["public_metadata"], numbers);
    assert_eq!(created.body["private_metadata"], numbers);
    let id = created.str("id");
    let read = app
        .get(&format!("/orgs/{id}"), Auth::Bearer(&app.admin_key))
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body["public_metadata"], numbers);

    let org = app.create_org(&alice, "Members").await;
    let org_id = org["id"].as_str().unwrap();
    let merged = app
        .patch(
            &format!("/orgs/{org_id}/members/{}/metadata", alice.id),
            Auth::Bearer(&alice.token),
            json!({"public_metadata": {"n": numbers}}),
        )
        .await;
    assert_eq!(merged.status, StatusCode::OK, "{}", merged.body);
    assert_eq!(merged.body["public_metadata"], json!({"n": numbers}));
    let invited = app
        .post(
            &format!("/orgs/{org_id}/invitations"),
            Auth::Bearer(&alice.token),
            json!({"email_address": "n@example.com", "public_metadata": numbers}),
        )
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
    assert_eq!(invited.body["public_metadata"], numbers);
}

/// Only the NUL character itself is refused, with a message that names it, in whole
/// documents and in merge patches alike; the six characters `\u0000` are ordinary text.
async fn metadata_refuses_exactly_the_nul_character(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let escaped = json!({"k": "a\\u0000b", "k\\u0000": "key"});
    let created = app
        .post(
            "/orgs",
            Auth::Bearer(&alice.token),
            json!({"name": "Escapes", "public_metadata": escaped}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["public_metadata"], escaped);
    let id = created.str("id");

    let refused = app
        .post(
            "/orgs",
            Auth::Bearer(&alice.token),
            json!({"name": "Nul", "public_metadata": {"k": "a\u{0}b"}}),
        )
        .await;
    refused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(refused.body["errors"][0]["field"], "public_metadata");
    assert!(
        refused.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("U+0000"),
        "{}",
        refused.body
    );
    for path in [
        format!("/orgs/{id}/metadata"),
        format!("/orgs/{id}/members/{}/metadata", alice.id),
    ] {
        let patch = app
            .patch(
                &path,
                Auth::Bearer(&alice.token),
                json!({"public_metadata": {"deep": {"k": "\u{0}"}}}),
            )
            .await;
        patch.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let message = patch.body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("U+0000"), "{path}: {}", patch.body);
        assert!(!message.contains("bytes"), "{path}: {}", patch.body);
    }
}

/// An admin key lowers the cap below the seats invitations promised: acceptances stop
/// at the cap (409 `membership_quota_exceeded`, as Clerk does) instead of overshooting.
async fn accepting_respects_a_lowered_cap(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let org = app.create_capped_org(&alice, "Capped", 3).await;
    let (bob, carol) = (app.user("bob"), app.user("carol"));
    let mut tokens = Vec::new();
    for invitee in [&bob, &carol] {
        let invited = app
            .post(
                &format!("/orgs/{org}/invitations"),
                Auth::Bearer(&alice.token),
                json!({"email_address": invitee.email}),
            )
            .await;
        assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
        tokens.push(invited.str("token"));
    }
    let lowered = app
        .patch(
            &format!("/orgs/{org}"),
            Auth::Bearer(&app.admin_key),
            json!({"max_allowed_memberships": 2}),
        )
        .await;
    assert_eq!(lowered.status, StatusCode::OK, "{}", lowered.body);
    let first = app
        .post(
            "/invitations/accept",
            Auth::Bearer(&bob.token),
            json!({"token": tokens[0]}),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    app.post(
        "/invitations/accept",
        Auth::Bearer(&carol.token),
        json!({"token": tokens[1]}),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "membership_quota_exceeded");
    let org_now = app
        .get(&format!("/orgs/{org}"), Auth::Bearer(&app.admin_key))
        .await;
    assert_eq!(org_now.body["members_count"], 2);
}

/// Polis compares addresses as Kratos stores them. An address typed with a Kelvin sign
/// is `kate@…` to Kratos (which verifies it through that mailbox), so it is to Polis;
/// a verified address that Kratos keeps unfolded (a `noformat` schema) is not.
async fn addresses_match_as_kratos_stores_them(backend: Backend) {
    use crate::support::kratos_double::{IdentitySeed, NOFORMAT_EMAIL_SCHEMA_ID};
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Acme").await;
    let org_id = org["id"].as_str().unwrap();
    let invited = app
        .post(
            &format!("/orgs/{org_id}/invitations"),
            Auth::Bearer(&alice.token),
            json!({"email_address": "\u{212A}ate@example.com"}),
        )
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
    assert_eq!(invited.body["email_address"], "kate@example.com");
    let invitation = invited.str("id");

    let unfolded = app.kratos.insert_identity(IdentitySeed {
        traits: json!({"email": "\u{212A}ate@example.com"}),
        schema_id: Some(NOFORMAT_EMAIL_SCHEMA_ID.to_owned()),
        ..IdentitySeed::default()
    });
    let impostor = app.kratos.create_session(unfolded);
    let mine = app
        .get("/me/invitations", Auth::Bearer(&impostor.token))
        .await;
    assert_eq!(mine.body["data"], json!([]), "{}", mine.body);
    app.post(
        &format!("/me/invitations/{invitation}/accept"),
        Auth::Bearer(&impostor.token),
        json!({}),
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "invitation_not_found");
    app.post(
        "/invitations/accept",
        Auth::Bearer(&impostor.token),
        json!({"token": invited.str("token")}),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "invitation_email_mismatch");

    let kate = app
        .kratos
        .add_identity(json!({"email": "\u{212A}ate@Example.com"}));
    let kate = app.kratos.create_session(kate);
    let accepted = app
        .post(
            &format!("/me/invitations/{invitation}/accept"),
            Auth::Bearer(&kate.token),
            json!({}),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.body);
}

/// A `redirect_url` that already names an `invitation_token` gets the real token in its
/// place: the e-mailed link carries exactly one, and it is the one that works.
async fn acceptance_urls_carry_one_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Acme").await;
    let invited = app
        .post(
            &format!("/orgs/{}/invitations", org["id"].as_str().unwrap()),
            Auth::Bearer(&alice.token),
            json!({
                "email_address": "dana@example.com",
                "redirect_url": "https://app.example.com/join?invitation_token=forged&lang=fr&invitation_token=again"
            }),
        )
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
    let url = url::Url::parse(&invited.str("url")).unwrap();
    let tokens: Vec<String> = url
        .query_pairs()
        .filter(|(k, _)| k == "invitation_token")
        .map(|(_, v)| v.into_owned())
        .collect();
    assert_eq!(tokens, [invited.str("token")], "{url}");
    assert!(url.query_pairs().any(|(k, v)| k == "lang" && v == "fr"));
    for scheme in ["javascript:alert(1)", "ftp://files.example.com/x"] {
        app.post(
            &format!("/orgs/{}/invitations", org["id"].as_str().unwrap()),
            Auth::Bearer(&alice.token),
            json!({"email_address": "eve@example.com", "redirect_url": scheme}),
        )
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    }
}

/// A bad setting ends `polis serve` at once with a configuration error and a non-zero
/// status, on either database, never a panic (`*` used to panic inside tower-http).
async fn bad_settings_stop_the_process_cleanly(backend: Backend) {
    let database_url = match backend {
        Backend::Sqlite => "sqlite::memory:".to_owned(),
        Backend::Postgres => crate::harness::postgres_url(),
    };
    for (name, value) in [
        ("POLIS_CORS_ALLOWED_ORIGINS", "*"),
        (
            "POLIS_CORS_ALLOWED_ORIGINS",
            "https://app.example.com/login",
        ),
        ("POLIS_KRATOS_TIMEOUT_MS", "0"),
        ("POLIS_DEFAULT_ROLE", "member"),
        ("KRATOS_PUBLIC_URL", "kratos:4433"),
    ] {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_polis"))
            .arg("serve")
            .env("DATABASE_URL", &database_url)
            .env("POLIS_LISTEN_ADDR", "127.0.0.1:0")
            .env(name, value)
            .kill_on_drop(true)
            .output()
            .await
            .expect("run polis");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}={value}: {stderr}");
        assert!(stderr.contains("invalid value"), "{name}={value}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}={value}: {stderr}");
    }
}

/// With e-mails hidden (`POLIS_IDENTITY_TRAITS=first_name,last_name`), member search
/// matches names only: a plain member cannot probe others' addresses through `?query=`.
async fn member_search_sees_only_shown_traits(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| {
        settings.identity_traits = vec!["first_name".into(), "last_name".into()];
    })
    .await;
    let alice = app.user("alice");
    let org = app.create_org(&alice, "Acme").await;
    let id = org["id"].as_str().unwrap();
    let bob = app.user("bob");
    app.add_member(&alice, id, &bob, "org:member").await;
    // Listing reads every member's profile from Kratos, which snapshots it for search.
    let listed = app
        .get(&format!("/orgs/{id}/members"), Auth::Bearer(&bob.token))
        .await;
    assert!(listed.body["data"][0]["identity"]["traits"]
        .get("email")
        .is_none());
    let app = &app;
    let search = |query: &str| {
        let path = format!("/orgs/{id}/members?query={query}");
        let token = bob.token.clone();
        async move { app.get(&path, Auth::Bearer(&token)).await }
    };
    let by_name = search("alic").await;
    assert_eq!(by_name.status, StatusCode::OK, "{}", by_name.body);
    assert_eq!(by_name.body["data"].as_array().unwrap().len(), 1);
    for hidden in ["example.com", &alice.email[..8]] {
        let probe = search(hidden).await;
        assert_eq!(probe.status, StatusCode::OK, "{}", probe.body);
        assert_eq!(probe.body["data"], json!([]), "{hidden}: {}", probe.body);
    }
}

/// The import streams its body: one over `POLIS_IMPORT_MAX_BODY_BYTES` is refused with
/// 413 once the limit is crossed, and nothing of it is written.
async fn streamed_imports_keep_their_limit(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| {
        settings.import_max_body_bytes = 4096;
    })
    .await;
    let orgs: Vec<_> = (0..100)
        .map(|i| json!({"id": format!("org_big{i}"), "name": format!("Big {i}"), "slug": format!("big-{i}")}))
        .collect();
    let document = json!({"organizations": orgs});
    assert!(document.to_string().len() > 4096);
    app.post(
        "/admin/imports/clerk",
        Auth::Bearer(&app.admin_key),
        document,
    )
    .await
    .assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let listed = app.get("/orgs", Auth::Bearer(&app.admin_key)).await;
    assert_eq!(listed.body["data"], json!([]), "{}", listed.body);
    let small = json!({"organizations": [{"id": "org_small", "name": "Small", "slug": "small"}]});
    let imported = app
        .post("/admin/imports/clerk", Auth::Bearer(&app.admin_key), small)
        .await;
    assert_eq!(imported.status, StatusCode::OK, "{}", imported.body);
    assert_eq!(
        imported.body["summary"]["orgs"]["created"], 1,
        "{}",
        imported.body
    );
}

on_both_backends!(
    acceptance_urls_carry_one_token,
    bad_settings_stop_the_process_cleanly,
    member_search_sees_only_shown_traits,
    streamed_imports_keep_their_limit,
    accepting_respects_a_lowered_cap,
    addresses_match_as_kratos_stores_them,
    metadata_numbers_round_trip,
    metadata_refuses_exactly_the_nul_character,
);
