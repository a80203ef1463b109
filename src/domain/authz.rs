//! The one place that decides who may do what. Every route calls [`authorize`].

use uuid::Uuid;

use super::caller::{ApiKeyScope, Caller};
use super::role::{
    has_permission, DOMAINS_MANAGE, DOMAINS_READ, MEMBERSHIPS_MANAGE, MEMBERSHIPS_READ,
    PROFILE_DELETE, PROFILE_MANAGE,
};

/// Something a caller wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Create an organization (any identity; admin keys).
    CreateOrg,
    /// List every organization, not just one's own (API keys).
    ListAllOrgs,
    /// List the organizations one belongs to (identities).
    ListOwnOrgs,
    /// Read an organization's profile.
    ReadOrg,
    UpdateOrg,
    DeleteOrg,
    ListMembers,
    /// Read one membership; members may always read their own.
    ReadMembership {
        identity_id: Uuid,
    },
    AddMember,
    ChangeRole,
    /// Remove a member; a member may always remove themselves (leave).
    RemoveMember {
        identity_id: Uuid,
    },
    /// List and read an org's invitations.
    ReadInvitations,
    /// Invite by e-mail, or revoke an invitation.
    ManageInvitations,
    /// List an org's requests to join (from accepted domain suggestions).
    ReadMembershipRequests,
    /// Accept or reject a request to join.
    ManageMembershipRequests,
    /// Read the role catalog.
    ReadRoles,
    /// Create, change or delete roles.
    ManageRoles,
    /// List and read an org's domains (`org:sys_domains:read`, or `…:manage`).
    ReadDomains,
    /// Add, change, verify and delete an org's domains (`org:sys_domains:manage`).
    ManageDomains,
    /// Read or write private metadata, or act on behalf of another identity.
    AdminOnly,
    /// See one's own memberships and invitations: only identities have any.
    OwnAccount,
    /// Get a signed token of one's own org claims (`POST /me/token`): identities only.
    IssueOrgToken,
    /// Read or change the active org, which belongs to a Kratos session: identities
    /// signed in with one, not access tokens.
    ActiveOrg,
    /// Ask what role and permissions `identity_id` has (`POST /authz/check`): identities
    /// about themselves, read and admin API keys about anyone.
    CheckPermissions {
        identity_id: Uuid,
    },
    /// Read an org's audit log: who changed what in it.
    ReadAuditLog,
    /// Read the whole instance's audit log: API keys only.
    ReadInstanceAuditLog,
    /// Create, read, change, test and replay webhook endpoints and their deliveries:
    /// admin API keys only, since endpoints receive private metadata.
    ManageWebhooks,
}

impl Action {
    /// Actions an org-less caller may attempt; all others concern one organization.
    fn is_instance_wide(self) -> bool {
        matches!(
            self,
            Action::CreateOrg
                | Action::ListAllOrgs
                | Action::ListOwnOrgs
                | Action::ReadRoles
                | Action::ManageRoles
                | Action::AdminOnly
                | Action::OwnAccount
                | Action::IssueOrgToken
                | Action::ActiveOrg
                | Action::CheckPermissions { .. }
                | Action::ReadInstanceAuditLog
                | Action::ManageWebhooks
        )
    }

    fn is_read_only(self) -> bool {
        matches!(
            self,
            Action::ListAllOrgs
                | Action::ReadOrg
                | Action::ListMembers
                | Action::ReadMembership { .. }
                | Action::ReadInvitations
                | Action::ReadMembershipRequests
                | Action::ReadDomains
                | Action::ReadRoles
                | Action::CheckPermissions { .. }
                | Action::ReadAuditLog
                | Action::ReadInstanceAuditLog
        )
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// The caller may not even learn the organization exists (answered as 404).
    Hidden,
    /// The caller can see the organization but lacks the permission (403).
    Forbidden,
    /// The caller may manage members, but not grant this role or act on this member:
    /// either holds a permission the caller lacks (403 `role_not_grantable`).
    NotGrantable,
}

/// What makes an identity an owner of the org for the grant rule.
const OWNER_PERMISSIONS: [&str; 3] = [MEMBERSHIPS_MANAGE, PROFILE_MANAGE, PROFILE_DELETE];

/// What a membership write hands out or acts on, for the grant rule: an identity may
/// grant only roles whose permissions it holds itself, and change or remove only
/// members whose permissions it holds itself. `None`: nothing of that kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stakes<'a> {
    /// The permissions of the role being granted (add, invite, change to).
    pub granted: Option<&'a [String]>,
    /// The permissions the member being changed or removed holds now.
    pub target: Option<&'a [String]>,
}

impl<'a> Stakes<'a> {
    /// A write that hands out a role with these permissions.
    pub fn granting(permissions: &'a [String]) -> Self {
        Stakes {
            granted: Some(permissions),
            target: None,
        }
    }

    /// A write on a member who holds these permissions.
    pub fn acting_on(permissions: &'a [String]) -> Self {
        Stakes {
            granted: None,
            target: Some(permissions),
        }
    }
}

/// Decides whether `caller` may perform `action`. `permissions` are the caller's
/// permissions in the organization concerned: `None` when the caller is not a member
/// (or the action concerns no organization). Membership writes whose stakes are known
/// (inside their transaction) go through [`authorize_grant`].
pub fn authorize(
    caller: &Caller,
    action: Action,
    permissions: Option<&[String]>,
) -> Result<(), Denied> {
    authorize_grant(caller, action, permissions, Stakes::default())
}

/// [`authorize`], plus the grant rule on what a membership write hands out or acts on:
/// an identity may grant only roles whose permissions it holds, and change or remove
/// only members whose permissions it holds. Exempt are admin API keys and the org's
/// owners: identities that may manage members, edit and delete the org (the seeded
/// `org:admin`). An owner can take the whole org anyway, so it may also hand out the
/// app's own feature roles without holding their permissions, as in Clerk.
pub fn authorize_grant(
    caller: &Caller,
    action: Action,
    permissions: Option<&[String]>,
    stakes: Stakes<'_>,
) -> Result<(), Denied> {
    authorize_action(caller, action, permissions)?;
    let (Caller::Identity(_), Some(own)) = (caller, permissions) else {
        return Ok(());
    };
    if OWNER_PERMISSIONS.iter().all(|p| has_permission(own, p)) {
        return Ok(());
    }
    let within = |wanted: Option<&[String]>| {
        wanted.is_none_or(|list| list.iter().all(|p| has_permission(own, p)))
    };
    if within(stakes.granted) && within(stakes.target) {
        Ok(())
    } else {
        Err(Denied::NotGrantable)
    }
}

fn authorize_action(
    caller: &Caller,
    action: Action,
    permissions: Option<&[String]>,
) -> Result<(), Denied> {
    let identity = match caller {
        Caller::ApiKey(_)
            if matches!(
                action,
                Action::OwnAccount
                    | Action::ListOwnOrgs
                    | Action::IssueOrgToken
                    | Action::ActiveOrg
            ) =>
        {
            return Err(Denied::Forbidden)
        }
        Caller::ApiKey(key) => {
            return match key.scope {
                ApiKeyScope::Admin => Ok(()),
                ApiKeyScope::Read if action.is_read_only() => Ok(()),
                ApiKeyScope::Read => Err(Denied::Forbidden),
            };
        }
        Caller::Identity(identity) => identity,
    };
    if action.is_instance_wide() {
        return match action {
            Action::CreateOrg
            | Action::ListOwnOrgs
            | Action::ReadRoles
            | Action::OwnAccount
            | Action::IssueOrgToken => Ok(()),
            Action::ActiveOrg if identity.session().is_some() => Ok(()),
            Action::CheckPermissions { identity_id } if identity_id == identity.id => Ok(()),
            _ => Err(Denied::Forbidden),
        };
    }
    let Some(permissions) = permissions else {
        return Err(Denied::Hidden);
    };
    let required = match action {
        Action::ReadOrg => return Ok(()),
        Action::ReadMembership { identity_id } | Action::RemoveMember { identity_id }
            if identity_id == identity.id =>
        {
            return Ok(())
        }
        // Who may manage domains may also read them.
        Action::ReadDomains if has_permission(permissions, DOMAINS_MANAGE) => return Ok(()),
        Action::ReadDomains => DOMAINS_READ,
        Action::ManageDomains => DOMAINS_MANAGE,
        Action::UpdateOrg => PROFILE_MANAGE,
        Action::DeleteOrg => PROFILE_DELETE,
        Action::ListMembers | Action::ReadMembership { .. } => MEMBERSHIPS_READ,
        Action::AddMember
        | Action::ChangeRole
        | Action::RemoveMember { .. }
        | Action::ReadInvitations
        | Action::ManageInvitations
        | Action::ReadMembershipRequests
        | Action::ManageMembershipRequests
        | Action::ReadAuditLog => MEMBERSHIPS_MANAGE,
        Action::CreateOrg
        | Action::ListAllOrgs
        | Action::ListOwnOrgs
        | Action::ReadRoles
        | Action::ManageRoles
        | Action::AdminOnly
        | Action::OwnAccount
        | Action::IssueOrgToken
        | Action::ActiveOrg
        | Action::CheckPermissions { .. }
        | Action::ReadInstanceAuditLog
        | Action::ManageWebhooks => return Err(Denied::Forbidden),
    };
    if has_permission(permissions, required) {
        Ok(())
    } else {
        Err(Denied::Forbidden)
    }
}

/// Who may add an identity to an org by its id, without the identity's consent
/// (`POLIS_DIRECT_ADD`). Invitations, which the invitee accepts, are always open to
/// managers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DirectAdd {
    /// Identities holding `org:sys_memberships:manage`, and API keys (Clerk's
    /// `organization.addMember`).
    Managers,
    /// API keys only: identities must invite.
    #[default]
    ApiKeys,
}

/// Refuses a direct add that `policy` does not allow this caller (403
/// `direct_add_disabled`); whether it may add members at all is [`authorize`]'s.
pub fn may_add_directly(caller: &Caller, policy: DirectAdd) -> Result<(), DirectAddDisabled> {
    match (caller, policy) {
        (Caller::Identity(_), DirectAdd::ApiKeys) => Err(DirectAddDisabled),
        _ => Ok(()),
    }
}

/// Direct adds are for API keys here: identities invite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectAddDisabled;

/// What of an organization, membership or invitation a caller may read and set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Everything but private metadata.
    Public,
    /// Private metadata too: admin API keys.
    WithPrivateMetadata,
}

/// Decides [`Visibility`] for `caller` by the rule [`authorize`] applies to
/// [`Action::AdminOnly`], so a caller sees private metadata exactly when it may set it.
pub fn visibility(caller: &Caller) -> Visibility {
    match authorize(caller, Action::AdminOnly, None) {
        Ok(()) => Visibility::WithPrivateMetadata,
        Err(_) => Visibility::Public,
    }
}

impl Visibility {
    /// `private_metadata` for a response: `None` unless the caller may see it.
    pub fn private_metadata<T>(self, private_metadata: T) -> Option<T> {
        (self == Visibility::WithPrivateMetadata).then_some(private_metadata)
    }

    /// Refuses a request that sets private metadata (`sets` is true) unless the caller
    /// may see it.
    pub fn may_set_private_metadata(self, sets: bool) -> Result<(), Denied> {
        if sets && self != Visibility::WithPrivateMetadata {
            Err(Denied::Forbidden)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests;
