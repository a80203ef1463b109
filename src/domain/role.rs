//! Role and permission keys, and the system permissions Polis itself enforces.

/// May edit the organization's profile (name, slug, image, metadata, cap).
pub const PROFILE_MANAGE: &str = "org:sys_profile:manage";
/// May delete the organization.
pub const PROFILE_DELETE: &str = "org:sys_profile:delete";
/// May list members and read their memberships.
pub const MEMBERSHIPS_READ: &str = "org:sys_memberships:read";
/// May add, remove and change the role of members. An org must always keep one holder.
pub const MEMBERSHIPS_MANAGE: &str = "org:sys_memberships:manage";
/// May list an organization's domains.
pub const DOMAINS_READ: &str = "org:sys_domains:read";
/// May add, verify, change and delete an organization's domains.
pub const DOMAINS_MANAGE: &str = "org:sys_domains:manage";

/// Every system permission Clerk defines, so imported roles keep theirs.
pub const SYSTEM_PERMISSIONS: &[&str] = &[
    PROFILE_MANAGE,
    PROFILE_DELETE,
    MEMBERSHIPS_READ,
    MEMBERSHIPS_MANAGE,
    DOMAINS_READ,
    DOMAINS_MANAGE,
    "org:sys_billing:read",
    "org:sys_billing:manage",
    "org:sys_entconns:manage",
];

pub const ADMIN_ROLE: &str = "org:admin";
pub const MEMBER_ROLE: &str = "org:member";

fn is_key_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Role keys look like Clerk's: `org:<name>`, name of `[a-z0-9_]`.
pub fn validate_role_key(key: &str) -> Result<(), String> {
    match key.strip_prefix("org:") {
        Some(name) if is_key_segment(name) => Ok(()),
        _ => Err("must look like org:<name> with lowercase letters, digits and _".into()),
    }
}

/// Permission keys are `org:<feature>:<action>`. `org:sys_*` ones are reserved:
/// only the known system permissions are accepted there.
pub fn validate_permission_key(key: &str) -> Result<(), String> {
    let mut parts = key.split(':');
    let well_formed = parts.next() == Some("org")
        && parts.next().is_some_and(is_key_segment)
        && parts.next().is_some_and(is_key_segment)
        && parts.next().is_none();
    if !well_formed {
        return Err(format!(
            "{key:?} must look like org:<feature>:<action> with lowercase letters, digits and _"
        ));
    }
    if key.starts_with("org:sys_") && !SYSTEM_PERMISSIONS.contains(&key) {
        return Err(format!(
            "{key:?} is not a system permission; org:sys_ is reserved"
        ));
    }
    Ok(())
}

pub fn has_permission(permissions: &[String], wanted: &str) -> bool {
    permissions.iter().any(|p| p == wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_keys() {
        assert!(validate_role_key("org:admin").is_ok());
        assert!(validate_role_key("org:content_manager2").is_ok());
        assert!(validate_role_key("admin").is_err());
        assert!(validate_role_key("org:").is_err());
        assert!(validate_role_key("org:Admin").is_err());
        assert!(validate_role_key("org:a:b").is_err());
    }

    #[test]
    fn permission_keys() {
        assert!(validate_permission_key("org:posts:read").is_ok());
        assert!(validate_permission_key(MEMBERSHIPS_MANAGE).is_ok());
        assert!(validate_permission_key("org:sys_posts:read").is_err());
        assert!(validate_permission_key("org:posts").is_err());
        assert!(validate_permission_key("org:posts:read:x").is_err());
        assert!(validate_permission_key("app:posts:read").is_err());
    }
}
