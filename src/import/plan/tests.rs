use super::*;
use serde_json::json;

fn org(id: &str, slug: &str) -> ClerkOrg {
    ClerkOrg {
        id: id.into(),
        name: "Acme".into(),
        slug: Some(slug.into()),
        image_url: None,
        public_metadata: json!({}),
        private_metadata: json!({}),
        max_allowed_memberships: 0,
        created_by: None,
        created_at: Some(1_716_883_200_000),
        updated_at: Some(1_716_883_500_000),
    }
}

fn membership(id: &str, user: &str, role: &str) -> ClerkMembership {
    ClerkMembership {
        id: id.into(),
        org_id: "org_1".into(),
        user_id: user.into(),
        identifier: None,
        role: role.into(),
        public_metadata: json!({}),
        private_metadata: json!({}),
        created_at: Some(1_716_883_200_000),
        updated_at: None,
    }
}

fn roles() -> HashSet<String> {
    ["org:admin", "org:member"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// Plans against the seeded roles at a fixed moment.
fn plan(bundle: &OrgBundle, mapping: &Mapping) -> OrgPlan {
    let known_roles = roles();
    let context = PlanContext {
        mapping,
        known_roles: &known_roles,
        now: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
    };
    plan_org(bundle, &context)
}

#[test]
fn skips_unmapped_and_unknown_roles_and_maps_legacy_keys() {
    let alice = Uuid::now_v7();
    let bundle = OrgBundle {
        org: org("org_1", "acme"),
        memberships: vec![
            membership("orgmem_1", "user_a", "admin"),
            membership("orgmem_2", "user_b", "org:member"),
            membership("orgmem_3", "user_a", "org:nope"),
        ],
        invitations: vec![],
    };
    let mut mapping = Mapping::new();
    mapping.insert("user_a".into(), Some((alice, MappedBy::UserMap)));
    mapping.insert("user_b".into(), None);
    let plan = plan(&bundle, &mapping);
    let import = plan.import.as_ref().unwrap();
    assert_eq!(import.members.len(), 1);
    assert_eq!(import.members[0].role, "org:admin");
    let codes: Vec<_> = plan.report.problems.iter().map(|p| p.code).collect();
    assert_eq!(codes, [ProblemCode::UnmappedUser, ProblemCode::UnknownRole]);
}

#[test]
fn an_invalid_org_is_skipped_whole() {
    let bundle = OrgBundle {
        org: org("org_1", "Not A Slug"),
        memberships: vec![membership("orgmem_1", "user_a", "org:admin")],
        invitations: vec![],
    };
    let mut mapping = Mapping::new();
    mapping.insert("user_a".into(), Some((Uuid::now_v7(), MappedBy::Email)));
    let plan = plan(&bundle, &mapping);
    assert!(plan.import.is_none());
    assert_eq!(plan.report.status, RowStatus::Skipped);
    assert_eq!(plan.report.memberships[0].status, RowStatus::Skipped);
    assert_eq!(plan.report.problems[0].field.as_deref(), Some("slug"));
}
