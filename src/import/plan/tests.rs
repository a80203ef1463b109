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
        blocked: &crate::domain::domains::BlockList::default(),
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
        domains: vec![],
        requests: vec![],
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
        domains: vec![],
        requests: vec![],
    };
    let mut mapping = Mapping::new();
    mapping.insert("user_a".into(), Some((Uuid::now_v7(), MappedBy::Email)));
    let plan = plan(&bundle, &mapping);
    assert!(plan.import.is_none());
    assert_eq!(plan.report.status, RowStatus::Skipped);
    assert_eq!(plan.report.memberships[0].status, RowStatus::Skipped);
    assert_eq!(plan.report.problems[0].field.as_deref(), Some("slug"));
}

fn domain(id: &str, name: &str, mode: &str, verified: bool) -> crate::import::clerk::ClerkDomain {
    crate::import::clerk::ClerkDomain {
        id: id.into(),
        org_id: "org_1".into(),
        name: name.into(),
        enrollment_mode: mode.into(),
        verified,
        affiliation_email_address: None,
        created_at: None,
        updated_at: None,
    }
}

fn request(id: &str, user: &str, status: &str) -> crate::import::clerk::ClerkMembershipRequest {
    crate::import::clerk::ClerkMembershipRequest {
        id: id.into(),
        org_id: "org_1".into(),
        user_id: user.into(),
        identifier: None,
        status: status.into(),
        created_at: None,
        updated_at: None,
    }
}

#[test]
fn domains_and_requests_are_planned_and_skipped_with_reasons() {
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let mut domains = vec![
        domain("orgdmn_1", "Acme.com", "automatic_suggestion", true),
        domain("orgdmn_2", "acme.com", "manual_invitation", false),
        domain("orgdmn_3", "gmail.com", "manual_invitation", false),
        domain("orgdmn_4", "sso.acme.com", "enterprise_sso", false),
    ];
    domains.extend((0..10).map(|i| {
        domain(
            &format!("orgdmn_x{i}"),
            &format!("x{i}.com"),
            "manual_invitation",
            false,
        )
    }));
    let bundle = OrgBundle {
        org: org("org_1", "acme"),
        memberships: vec![membership("orgmem_1", "user_a", "org:admin")],
        invitations: vec![],
        domains,
        requests: vec![
            request("orgreq_1", "user_b", "pending"),
            request("orgreq_2", "user_a", "pending"),
            request("orgreq_3", "user_b", "rejected"),
            request("orgreq_4", "user_c", "pending"),
        ],
    };
    let mut mapping = Mapping::new();
    mapping.insert("user_a".into(), Some((alice, MappedBy::UserMap)));
    mapping.insert("user_b".into(), Some((bob, MappedBy::Email)));
    mapping.insert("user_c".into(), None);
    let plan = plan(&bundle, &mapping);
    let import = plan.import.as_ref().unwrap();
    let names: Vec<_> = import.domains.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(&names[..2], ["acme.com", "sso.acme.com"]);
    assert_eq!(names.len(), 10);
    assert!(import.domains[0].verified);
    assert_eq!(
        import.domains[1].enrollment_mode,
        crate::domain::domains::EnrollmentMode::ManualInvitation
    );
    assert_eq!(import.requests.len(), 1);
    assert_eq!(import.requests[0].identity_id, bob);
    let codes: Vec<_> = plan
        .report
        .problems
        .iter()
        .map(|p| (p.clerk_id.as_str(), p.code))
        .collect();
    for expected in [
        ("orgdmn_2", ProblemCode::DuplicateDomain),
        ("orgdmn_3", ProblemCode::InvalidField),
        ("orgdmn_4", ProblemCode::UnsupportedEnrollmentMode),
        ("orgdmn_x8", ProblemCode::DomainQuotaExceeded),
        ("orgreq_2", ProblemCode::DuplicateRequest),
        ("orgreq_3", ProblemCode::RequestNotPending),
        ("orgreq_4", ProblemCode::UnmappedUser),
    ] {
        assert!(codes.contains(&expected), "{expected:?} in {codes:?}");
    }
    assert_eq!(plan.report.domains.len(), 14);
    assert_eq!(plan.report.membership_requests.len(), 4);
}
