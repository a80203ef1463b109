use super::*;
use crate::domain::caller::{
    AccessTokenGrant, ApiKeyCaller, IdentityCaller, IdentityCredential, SessionRef,
};

fn identity(id: Uuid) -> Caller {
    Caller::Identity(IdentityCaller {
        id,
        verified_emails: vec![],
        via_cookie: false,
        credential: IdentityCredential::Session(SessionRef {
            id: Uuid::now_v7(),
            expires_at: None,
        }),
    })
}

fn key(scope: ApiKeyScope) -> Caller {
    Caller::ApiKey(ApiKeyCaller {
        id: Uuid::nil(),
        name: "k".into(),
        scope,
    })
}

fn perms(list: &[&str]) -> Vec<String> {
    list.iter().map(|p| (*p).to_owned()).collect()
}

#[test]
fn non_members_do_not_learn_the_org_exists() {
    let me = identity(Uuid::now_v7());
    assert_eq!(authorize(&me, Action::ReadOrg, None), Err(Denied::Hidden));
    assert_eq!(authorize(&me, Action::DeleteOrg, None), Err(Denied::Hidden));
}

#[test]
fn members_need_the_permission() {
    let me = identity(Uuid::now_v7());
    let member = perms(&[MEMBERSHIPS_READ]);
    assert_eq!(authorize(&me, Action::ReadOrg, Some(&member)), Ok(()));
    assert_eq!(authorize(&me, Action::ListMembers, Some(&member)), Ok(()));
    assert_eq!(
        authorize(&me, Action::AddMember, Some(&member)),
        Err(Denied::Forbidden)
    );
    assert_eq!(
        authorize(&me, Action::UpdateOrg, Some(&member)),
        Err(Denied::Forbidden)
    );
    let admin = perms(&[MEMBERSHIPS_MANAGE, PROFILE_MANAGE, PROFILE_DELETE]);
    assert_eq!(authorize(&me, Action::DeleteOrg, Some(&admin)), Ok(()));
    assert_eq!(authorize(&me, Action::ChangeRole, Some(&admin)), Ok(()));
    assert_eq!(
        authorize(&me, Action::ManageInvitations, Some(&admin)),
        Ok(())
    );
    assert_eq!(
        authorize(&me, Action::ReadInvitations, Some(&member)),
        Err(Denied::Forbidden),
        "invitations reveal addresses: managers only"
    );
}

#[test]
fn membership_requests_are_for_managers() {
    let me = identity(Uuid::now_v7());
    let member = perms(&[MEMBERSHIPS_READ]);
    let manager = perms(&[MEMBERSHIPS_MANAGE]);
    for action in [
        Action::ReadMembershipRequests,
        Action::ManageMembershipRequests,
    ] {
        assert_eq!(authorize(&me, action, Some(&manager)), Ok(()));
        assert_eq!(
            authorize(&me, action, Some(&member)),
            Err(Denied::Forbidden)
        );
        assert_eq!(authorize(&me, action, None), Err(Denied::Hidden));
    }
}

#[test]
fn members_may_leave_and_read_themselves() {
    let id = Uuid::now_v7();
    let me = identity(id);
    let none: Vec<String> = vec![];
    let leave = Action::RemoveMember { identity_id: id };
    assert_eq!(authorize(&me, leave, Some(&none)), Ok(()));
    let other = Action::RemoveMember {
        identity_id: Uuid::now_v7(),
    };
    assert_eq!(authorize(&me, other, Some(&none)), Err(Denied::Forbidden));
    let read_self = Action::ReadMembership { identity_id: id };
    assert_eq!(authorize(&me, read_self, Some(&none)), Ok(()));
}

#[test]
fn identities_cannot_do_admin_things() {
    let me = identity(Uuid::now_v7());
    assert_eq!(authorize(&me, Action::CreateOrg, None), Ok(()));
    assert_eq!(authorize(&me, Action::ReadRoles, None), Ok(()));
    assert_eq!(
        authorize(&me, Action::ManageRoles, None),
        Err(Denied::Forbidden)
    );
    assert_eq!(
        authorize(&me, Action::ListAllOrgs, None),
        Err(Denied::Forbidden)
    );
    assert_eq!(
        authorize(&me, Action::AdminOnly, None),
        Err(Denied::Forbidden)
    );
}

#[test]
fn api_key_scopes() {
    let admin = key(ApiKeyScope::Admin);
    let read = key(ApiKeyScope::Read);
    assert_eq!(authorize(&admin, Action::DeleteOrg, None), Ok(()));
    assert_eq!(authorize(&admin, Action::AdminOnly, None), Ok(()));
    assert_eq!(authorize(&read, Action::ListMembers, None), Ok(()));
    assert_eq!(authorize(&read, Action::ListAllOrgs, None), Ok(()));
    assert_eq!(
        authorize(&read, Action::AddMember, None),
        Err(Denied::Forbidden)
    );
    assert_eq!(
        authorize(&read, Action::ManageRoles, None),
        Err(Denied::Forbidden)
    );
    assert_eq!(
        authorize(&read, Action::AdminOnly, None),
        Err(Denied::Forbidden)
    );
    assert_eq!(
        authorize(&admin, Action::OwnAccount, None),
        Err(Denied::Forbidden)
    );
}

#[test]
fn private_metadata_is_for_admin_keys_only() {
    let admin = visibility(&key(ApiKeyScope::Admin));
    assert_eq!(admin, Visibility::WithPrivateMetadata);
    assert_eq!(admin.private_metadata("secret"), Some("secret"));
    assert_eq!(admin.may_set_private_metadata(true), Ok(()));
    for caller in [key(ApiKeyScope::Read), identity(Uuid::now_v7())] {
        let visibility = visibility(&caller);
        assert_eq!(visibility, Visibility::Public, "{caller:?}");
        assert_eq!(visibility.private_metadata("secret"), None);
        assert_eq!(
            visibility.may_set_private_metadata(true),
            Err(Denied::Forbidden)
        );
        assert_eq!(visibility.may_set_private_metadata(false), Ok(()));
    }
}

#[test]
fn identities_grant_only_what_they_hold() {
    let me = identity(Uuid::now_v7());
    let manager = perms(&[MEMBERSHIPS_READ, MEMBERSHIPS_MANAGE]);
    let admin: Vec<String> = crate::domain::role::SYSTEM_PERMISSIONS
        .iter()
        .map(|p| (*p).to_owned())
        .collect();
    let billing = perms(&[MEMBERSHIPS_READ, "org:invoices:create"]);
    let member = perms(&[MEMBERSHIPS_READ]);
    fn grant<'a>(granted: &'a [String], target: Option<&'a [String]>) -> Stakes<'a> {
        Stakes {
            granted: Some(granted),
            target,
        }
    }
    // A member-manager may hand out what it holds, not more.
    assert_eq!(
        authorize_grant(&me, Action::AddMember, Some(&manager), grant(&member, None)),
        Ok(())
    );
    assert_eq!(
        authorize_grant(&me, Action::AddMember, Some(&manager), grant(&admin, None)),
        Err(Denied::NotGrantable)
    );
    assert_eq!(
        authorize_grant(
            &me,
            Action::ChangeRole,
            Some(&manager),
            grant(&admin, Some(&member))
        ),
        Err(Denied::NotGrantable),
        "no promoting anyone, itself included, above itself"
    );
    // Nor act on a member who holds more.
    let remove_admin = Stakes {
        granted: None,
        target: Some(&admin),
    };
    let other = Action::RemoveMember {
        identity_id: Uuid::now_v7(),
    };
    assert_eq!(
        authorize_grant(&me, other, Some(&manager), remove_admin),
        Err(Denied::NotGrantable)
    );
    // Admins hold every system permission: nothing changes for them.
    assert_eq!(
        authorize_grant(&me, other, Some(&admin), remove_admin),
        Ok(())
    );
    assert_eq!(
        authorize_grant(&me, Action::AddMember, Some(&admin), grant(&admin, None)),
        Ok(())
    );
    // ...including the app's own feature roles; a partial manager may not.
    assert_eq!(
        authorize_grant(&me, Action::AddMember, Some(&admin), grant(&billing, None)),
        Ok(())
    );
    assert_eq!(
        authorize_grant(
            &me,
            Action::AddMember,
            Some(&manager),
            grant(&billing, None)
        ),
        Err(Denied::NotGrantable)
    );
    // The permission itself is still needed first.
    assert_eq!(
        authorize_grant(&me, Action::AddMember, Some(&member), grant(&member, None)),
        Err(Denied::Forbidden)
    );
    // Admin API keys are exempt.
    assert_eq!(
        authorize_grant(
            &key(ApiKeyScope::Admin),
            Action::AddMember,
            None,
            grant(&admin, None)
        ),
        Ok(())
    );
}

fn access_token(id: Uuid) -> Caller {
    Caller::Identity(IdentityCaller {
        id,
        verified_emails: vec![],
        via_cookie: false,
        credential: IdentityCredential::AccessToken(AccessTokenGrant {
            client_id: "app".into(),
            scopes: vec!["orgs:read".into()],
        }),
    })
}

#[test]
fn permission_checks_are_about_oneself_unless_an_api_key_asks() {
    let id = Uuid::now_v7();
    let me = identity(id);
    let about = |identity_id| Action::CheckPermissions { identity_id };
    assert_eq!(authorize(&me, about(id), None), Ok(()));
    let other = about(Uuid::now_v7());
    assert_eq!(authorize(&me, other, None), Err(Denied::Forbidden));
    assert_eq!(authorize(&access_token(id), about(id), None), Ok(()));
    for scope in [ApiKeyScope::Read, ApiKeyScope::Admin] {
        assert_eq!(authorize(&key(scope), other, None), Ok(()), "{scope:?}");
    }
}

#[test]
fn tokens_and_active_orgs_belong_to_identities() {
    let id = Uuid::now_v7();
    assert_eq!(
        authorize(&identity(id), Action::IssueOrgToken, None),
        Ok(())
    );
    assert_eq!(authorize(&identity(id), Action::ActiveOrg, None), Ok(()));
    let token = access_token(id);
    assert_eq!(authorize(&token, Action::IssueOrgToken, None), Ok(()));
    assert_eq!(
        authorize(&token, Action::ActiveOrg, None),
        Err(Denied::Forbidden),
        "the active org is kept per Kratos session, which an access token has not"
    );
    for scope in [ApiKeyScope::Read, ApiKeyScope::Admin] {
        for action in [Action::IssueOrgToken, Action::ActiveOrg] {
            assert_eq!(
                authorize(&key(scope), action, None),
                Err(Denied::Forbidden),
                "{scope:?} {action:?}"
            );
        }
    }
}

#[test]
fn only_admin_keys_manage_webhooks() {
    assert_eq!(
        authorize(&key(ApiKeyScope::Admin), Action::ManageWebhooks, None),
        Ok(())
    );
    assert_eq!(
        authorize(&key(ApiKeyScope::Read), Action::ManageWebhooks, None),
        Err(Denied::Forbidden)
    );
    let admin = perms(&[MEMBERSHIPS_MANAGE, PROFILE_MANAGE, PROFILE_DELETE]);
    assert_eq!(
        authorize(
            &identity(Uuid::now_v7()),
            Action::ManageWebhooks,
            Some(&admin)
        ),
        Err(Denied::Forbidden)
    );
}

#[test]
fn domains_need_their_system_permissions() {
    let me = identity(Uuid::now_v7());
    let reader = perms(&["org:sys_domains:read"]);
    let manager = perms(&["org:sys_domains:manage"]);
    let member = perms(&["org:sys_memberships:read"]);
    assert_eq!(authorize(&me, Action::ReadDomains, Some(&reader)), Ok(()));
    assert_eq!(authorize(&me, Action::ReadDomains, Some(&manager)), Ok(()));
    assert_eq!(
        authorize(&me, Action::ReadDomains, Some(&member)),
        Err(Denied::Forbidden)
    );
    assert_eq!(
        authorize(&me, Action::ManageDomains, Some(&reader)),
        Err(Denied::Forbidden)
    );
    assert_eq!(
        authorize(&me, Action::ManageDomains, Some(&manager)),
        Ok(())
    );
    assert_eq!(
        authorize(&me, Action::ReadDomains, None),
        Err(Denied::Hidden)
    );
    let read_key = key(ApiKeyScope::Read);
    assert_eq!(authorize(&read_key, Action::ReadDomains, None), Ok(()));
    assert_eq!(
        authorize(&read_key, Action::ManageDomains, None),
        Err(Denied::Forbidden)
    );
    assert_eq!(
        authorize(&key(ApiKeyScope::Admin), Action::ManageDomains, None),
        Ok(())
    );
}
