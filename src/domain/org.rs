//! Organization names, slugs and the ways a path may name an organization.

use uuid::Uuid;

pub const MAX_SLUG_LEN: usize = 64;
pub const MAX_NAME_LEN: usize = 256;

/// A validated organization slug: 1–64 of `[a-z0-9-]`, never shaped like a UUID
/// (so that `{org}` in a path is never ambiguous).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);

impl Slug {
    pub fn parse(raw: &str) -> Result<Slug, String> {
        if raw.is_empty() || raw.len() > MAX_SLUG_LEN {
            return Err(format!("must be 1 to {MAX_SLUG_LEN} characters"));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err("may contain only lowercase letters, digits and -".into());
        }
        if Uuid::parse_str(raw).is_ok() {
            return Err("must not look like a UUID".into());
        }
        Ok(Slug(raw.to_owned()))
    }

    /// Derives a slug from an organization name: lowercase ASCII letters and digits,
    /// every other run of characters becomes one `-`.
    pub fn from_name(name: &str) -> Slug {
        let mut slug = String::with_capacity(name.len().min(MAX_SLUG_LEN));
        for c in name.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                slug.push(c);
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
            if slug.len() >= MAX_SLUG_LEN {
                break;
            }
        }
        let trimmed = slug.trim_end_matches('-');
        Slug::parse(trimmed).unwrap_or_else(|_| Slug("org".to_owned()))
    }

    /// This slug with a random suffix, for when a generated slug is already taken.
    pub fn with_suffix(&self, suffix: &str) -> Slug {
        let room = MAX_SLUG_LEN - suffix.len() - 1;
        let base: String = self.0.chars().take(room).collect();
        Slug(format!("{}-{suffix}", base.trim_end_matches('-')))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub fn validate_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("must not be blank".into());
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(format!("must be at most {MAX_NAME_LEN} characters"));
    }
    Ok(())
}

/// How a request path names an organization: its UUID, its Clerk id (`org_…`, kept
/// so apps that stored Clerk ids keep working) or its slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgRef {
    Id(Uuid),
    ClerkId(String),
    Slug(String),
}

impl OrgRef {
    pub fn parse(raw: &str) -> OrgRef {
        if let Ok(id) = Uuid::parse_str(raw) {
            OrgRef::Id(id)
        } else if raw.starts_with("org_") {
            OrgRef::ClerkId(raw.to_owned())
        } else {
            OrgRef::Slug(raw.to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_checked() {
        assert!(Slug::parse("acme-corp").is_ok());
        assert!(Slug::parse("").is_err());
        assert!(Slug::parse("Acme").is_err());
        assert!(Slug::parse("acme_corp").is_err());
        assert!(Slug::parse(&"a".repeat(65)).is_err());
        assert!(Slug::parse("0190b7a2-7c1e-7d2b-9a57-0c2f5f0b8e11").is_err());
    }

    #[test]
    fn names() {
        assert!(validate_name("Acme Corp").is_ok());
        assert!(validate_name("  ").is_err());
        assert!(validate_name("a\u{0}b").is_err());
        assert!(validate_name(&"x".repeat(MAX_NAME_LEN + 1)).is_err());
    }

    #[test]
    fn slugs_from_names() {
        assert_eq!(Slug::from_name("Acme Corp!").as_str(), "acme-corp");
        assert_eq!(Slug::from_name("  Über  Team ").as_str(), "ber-team");
        assert_eq!(Slug::from_name("!!!").as_str(), "org");
        assert!(Slug::from_name(&"x".repeat(300)).as_str().len() <= MAX_SLUG_LEN);
        let long = Slug::from_name(&"y".repeat(64));
        assert_eq!(long.with_suffix("abcd").as_str().len(), MAX_SLUG_LEN);
    }

    #[test]
    fn org_refs() {
        let id = Uuid::now_v7();
        assert_eq!(OrgRef::parse(&id.to_string()), OrgRef::Id(id));
        assert_eq!(
            OrgRef::parse("org_2g7np"),
            OrgRef::ClerkId("org_2g7np".into())
        );
        assert_eq!(OrgRef::parse("acme"), OrgRef::Slug("acme".into()));
    }
}
