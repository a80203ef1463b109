//! The storage contract: every backend must pass these, case for case.

use polis::clock::{Clock, SystemClock};
use polis::domain::org::{OrgRef, Slug};
use polis::store::{
    Change, MemberFilter, NewOrg, OrgFilter, OrgPatch, PageRequest, Role, RolePatch, StoreError,
};
use serde_json::json;
use uuid::Uuid;

use crate::harness::{as_admin, Backend, TestDb};
use crate::on_both_backends;

fn now() -> chrono::DateTime<chrono::Utc> {
    SystemClock.now()
}

fn new_org(slug: &str, creator: Option<Uuid>) -> NewOrg {
    NewOrg {
        name: format!("Org {slug}"),
        slug: Slug::parse(slug).unwrap(),
        image_url: None,
        public_metadata: json!({"plan": "pro"}),
        private_metadata: json!({"crm": 7}),
        max_allowed_memberships: 0,
        created_by: creator,
        creator: creator.map(|id| (id, "org:admin".to_owned())),
    }
}

// One contract case is one scenario on one fresh database, read top to bottom: split,
// it would only hand its state from piece to piece. Hence over the clippy.toml limits.
#[allow(clippy::cognitive_complexity)]
async fn orgs_round_trip(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store.as_ref();
    let creator = Uuid::new_v4();
    let org = store
        .create_org(new_org("acme", Some(creator)), as_admin())
        .await
        .unwrap();
    assert_eq!(org.slug, "acme");
    assert_eq!(org.members_count, 1);
    assert_eq!(org.public_metadata, json!({"plan": "pro"}));
    assert_eq!(org.private_metadata, json!({"crm": 7}));
    assert_eq!(org.created_by, Some(creator));

    let by_id = store.find_org(&OrgRef::Id(org.id)).await.unwrap().unwrap();
    let by_slug = store
        .find_org(&OrgRef::Slug("acme".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_id, org);
    assert_eq!(by_slug, org);
    assert!(store
        .find_org(&OrgRef::Slug("nope".into()))
        .await
        .unwrap()
        .is_none());
    assert!(store
        .find_org(&OrgRef::ClerkId("org_x".into()))
        .await
        .unwrap()
        .is_none());

    let err = store
        .create_org(new_org("acme", None), as_admin())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::SlugTaken), "{err:?}");

    let patch = OrgPatch {
        name: Some("Renamed".into()),
        image_url: Some(Some("https://img.example.com/a.png".into())),
        ..OrgPatch::default()
    };
    let updated = store.update_org(org.id, patch, as_admin()).await.unwrap();
    assert_eq!(updated.name, "Renamed");
    assert_eq!(updated.slug, "acme");
    assert_eq!(
        updated.image_url.as_deref(),
        Some("https://img.example.com/a.png")
    );
    assert!(updated.updated_at >= org.updated_at);

    let other = store
        .create_org(new_org("other", None), as_admin())
        .await
        .unwrap();
    let clash = OrgPatch {
        slug: Some(Slug::parse("acme").unwrap()),
        ..OrgPatch::default()
    };
    assert!(matches!(
        store
            .update_org(other.id, clash, as_admin())
            .await
            .unwrap_err(),
        StoreError::SlugTaken
    ));

    store.delete_org(org.id, as_admin()).await.unwrap();
    assert!(store.find_org(&OrgRef::Id(org.id)).await.unwrap().is_none());
    assert!(store
        .find_membership(org.id, creator)
        .await
        .unwrap()
        .is_none());
    assert!(matches!(
        store.delete_org(org.id, as_admin()).await.unwrap_err(),
        StoreError::OrgNotFound
    ));
}

// One contract case is one scenario on one fresh database, read top to bottom: split,
// it would only hand its state from piece to piece. Hence over the clippy.toml limits.
#[allow(clippy::too_many_lines)]
async fn org_listing_pages_and_filters(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store.as_ref();
    let member = Uuid::new_v4();
    let mut mine = Vec::new();
    for i in 0..5 {
        let creator = (i % 2 == 0).then_some(member);
        let org = store
            .create_org(new_org(&format!("team-{i}"), creator), as_admin())
            .await
            .unwrap();
        if creator.is_some() {
            mine.push(org.id);
        }
    }
    let all = store
        .list_orgs(
            &OrgFilter::default(),
            PageRequest {
                limit: 100,
                after: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 5);
    let first = store
        .list_orgs(
            &OrgFilter::default(),
            PageRequest {
                limit: 2,
                after: None,
            },
        )
        .await
        .unwrap();
    let rest = store
        .list_orgs(
            &OrgFilter::default(),
            PageRequest {
                limit: 100,
                after: Some(first[1].id),
            },
        )
        .await
        .unwrap();
    assert_eq!(first.len() + rest.len(), 5);
    assert!(rest.iter().all(|o| o.id > first[1].id));

    let filter = OrgFilter {
        member: Some(member),
        query: None,
    };
    let listed: Vec<Uuid> = store
        .list_orgs(
            &filter,
            PageRequest {
                limit: 100,
                after: None,
            },
        )
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(listed, mine);

    let search = OrgFilter {
        member: None,
        query: Some("TEAM-3".into()),
    };
    let found = store
        .list_orgs(
            &search,
            PageRequest {
                limit: 100,
                after: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].slug, "team-3");
    // LIKE wildcards in a search match literally.
    let wildcard = OrgFilter {
        member: None,
        query: Some("%".into()),
    };
    let none = store
        .list_orgs(
            &wildcard,
            PageRequest {
                limit: 100,
                after: None,
            },
        )
        .await
        .unwrap();
    assert!(none.is_empty());
}

async fn memberships_and_invariants(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store.as_ref();
    let admin = Uuid::new_v4();
    let mut org = new_org("capped", Some(admin));
    org.max_allowed_memberships = 2;
    let org = store.create_org(org, as_admin()).await.unwrap();

    let bob = Uuid::new_v4();
    let added = store
        .add_member(org.id, bob, "org:member", as_admin())
        .await
        .unwrap();
    assert_eq!(added.role, "org:member");
    assert_eq!(
        added.permissions,
        vec!["org:sys_memberships:read".to_owned()]
    );
    assert!(matches!(
        store
            .add_member(org.id, bob, "org:member", as_admin())
            .await
            .unwrap_err(),
        StoreError::AlreadyMember
    ));
    assert!(matches!(
        store
            .add_member(org.id, Uuid::new_v4(), "org:member", as_admin())
            .await
            .unwrap_err(),
        StoreError::QuotaExceeded
    ));
    store
        .update_org(
            org.id,
            OrgPatch {
                max_allowed_memberships: Some(0),
                ..OrgPatch::default()
            },
            as_admin(),
        )
        .await
        .unwrap();
    assert!(matches!(
        store
            .add_member(org.id, Uuid::new_v4(), "org:nope", as_admin())
            .await
            .unwrap_err(),
        StoreError::UnknownRole(_)
    ));
}

// One contract case is one scenario on one fresh database, read top to bottom: split,
// it would only hand its state from piece to piece. Hence over the clippy.toml limits.
#[allow(clippy::cognitive_complexity, clippy::too_many_lines)]
async fn last_admin_and_listings(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store.as_ref();
    let admin = Uuid::new_v4();
    let org = store
        .create_org(new_org("capped", Some(admin)), as_admin())
        .await
        .unwrap();
    let bob = Uuid::new_v4();
    store
        .add_member(org.id, bob, "org:member", as_admin())
        .await
        .unwrap();

    // The last admin can neither be demoted nor removed.
    assert!(matches!(
        store
            .change_role(org.id, admin, "org:member", as_admin())
            .await
            .unwrap_err(),
        StoreError::LastAdmin
    ));
    assert!(matches!(
        store
            .remove_member(org.id, admin, as_admin())
            .await
            .unwrap_err(),
        StoreError::LastAdmin
    ));
    // With a second admin, the first may step down.
    store
        .change_role(org.id, bob, "org:admin", as_admin())
        .await
        .unwrap();
    let demoted = store
        .change_role(org.id, admin, "org:member", as_admin())
        .await
        .unwrap();
    assert_eq!(demoted.role, "org:member");
    store
        .remove_member(org.id, admin, as_admin())
        .await
        .unwrap();
    assert!(matches!(
        store
            .remove_member(org.id, admin, as_admin())
            .await
            .unwrap_err(),
        StoreError::MemberNotFound
    ));

    let members = store
        .list_members(
            org.id,
            &MemberFilter::default(),
            PageRequest {
                limit: 10,
                after: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].identity_id, bob);
    let admins = store
        .list_members(
            org.id,
            &MemberFilter {
                role: Some("org:member".into()),
                ..MemberFilter::default()
            },
            PageRequest {
                limit: 10,
                after: None,
            },
        )
        .await
        .unwrap();
    assert!(admins.is_empty());

    let mine = store
        .list_memberships_of(
            bob,
            PageRequest {
                limit: 10,
                after: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].1.slug, "capped");
    assert_eq!(mine[0].0.role, "org:admin");
}

// One contract case is one scenario on one fresh database, read top to bottom: split,
// it would only hand its state from piece to piece. Hence over the clippy.toml limits.
#[allow(clippy::cognitive_complexity)]
async fn roles_catalog(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store.as_ref();
    let roles = store.list_roles().await.unwrap();
    let keys: Vec<&str> = roles.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["org:admin", "org:member"]);
    assert!(roles[0]
        .permissions
        .contains(&"org:sys_memberships:manage".to_owned()));

    let now = chrono::Utc::now();
    let editor = Role {
        key: "org:editor".into(),
        name: "Editor".into(),
        description: None,
        permissions: vec![
            "org:posts:write".into(),
            "org:sys_memberships:manage".into(),
        ],
        created_at: now,
        updated_at: now,
    };
    store.create_role(editor.clone(), as_admin()).await.unwrap();
    assert!(matches!(
        store.create_role(editor, as_admin()).await.unwrap_err(),
        StoreError::RoleExists
    ));

    // An org managed only through org:editor.
    let boss = Uuid::new_v4();
    let mut org = new_org("edited", Some(boss));
    org.creator = Some((boss, "org:editor".into()));
    let org = store
        .create_org(org, Change::new(as_admin().by, now))
        .await
        .unwrap();
    let strip = RolePatch {
        permissions: Some(vec!["org:posts:write".into()]),
        ..RolePatch::default()
    };
    assert!(matches!(
        store
            .update_role("org:editor", strip.clone(), as_admin())
            .await
            .unwrap_err(),
        StoreError::LastAdmin
    ));
    assert!(matches!(
        store
            .delete_role("org:editor", as_admin())
            .await
            .unwrap_err(),
        StoreError::RoleInUse
    ));
    store.delete_org(org.id, as_admin()).await.unwrap();
    let stripped = store
        .update_role("org:editor", strip, as_admin())
        .await
        .unwrap();
    assert_eq!(stripped.permissions, vec!["org:posts:write".to_owned()]);
    store.delete_role("org:editor", as_admin()).await.unwrap();
    assert!(store.find_role("org:editor").await.unwrap().is_none());
    assert!(matches!(
        store
            .delete_role("org:editor", as_admin())
            .await
            .unwrap_err(),
        StoreError::RoleNotFound
    ));
}

async fn api_keys(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store.as_ref();
    let key = polis::auth::api_keys::generate();
    let record = polis::store::ApiKeyRecord {
        id: key.id,
        name: "ci".into(),
        scope: polis::domain::ApiKeyScope::Read,
        secret_hash: key.secret_hash.clone(),
        created_at: now(),
        revoked_at: None,
    };
    store.create_api_key(record.clone()).await.unwrap();
    assert_eq!(store.find_api_key(key.id).await.unwrap(), Some(record));
    assert_eq!(store.list_api_keys().await.unwrap().len(), 1);
    assert!(store.revoke_api_key(key.id, now()).await.unwrap());
    assert!(!store.revoke_api_key(key.id, now()).await.unwrap());
    assert!(store
        .find_api_key(key.id)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
}

on_both_backends!(
    orgs_round_trip,
    org_listing_pages_and_filters,
    memberships_and_invariants,
    last_admin_and_listings,
    roles_catalog,
    api_keys,
);
