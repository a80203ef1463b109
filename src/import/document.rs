//! Streams a Clerk export document (`{"organizations": [...], "memberships": [...],
//! "invitations": [...], "domains": [...], "membership_requests": [...], "roles": [...],
//! "user_map": {...}}`) one element at a time,
//! so a million memberships never sit in memory together: each array element is
//! parsed, checked and handed to a callback before the next is read.

use std::fmt;
use std::io::Read;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use uuid::Uuid;

use crate::domain::org::Slug;

use super::clerk::{
    self, ClerkDomain, ClerkInvitation, ClerkMembership, ClerkMembershipRequest, ClerkOrg,
    ClerkRole, ShapeError,
};

#[derive(Debug, Clone, PartialEq)]
pub enum Element {
    Org(ClerkOrg),
    Membership(ClerkMembership),
    Invitation(ClerkInvitation),
    Domain(ClerkDomain),
    MembershipRequest(ClerkMembershipRequest),
    Role(ClerkRole),
    /// A Clerk user id and the Kratos identity it is known to be.
    UserMapping(String, Uuid),
    /// A Clerk org id and the slug the admin chose for it (`slug_overrides`), already
    /// checked against the slug rules.
    SlugOverride(String, String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// Not JSON (or cut short); `path` is where reading was.
    #[error("not valid JSON at {path}: {message}")]
    Syntax { path: String, message: String },
    #[error(transparent)]
    Shape(#[from] ShapeError),
    /// The consumer stopped the read (its own error says why).
    #[error("import aborted")]
    Aborted,
}

/// Top-level keys the document had that the import does not read.
#[derive(Debug, Default, Clone)]
pub struct DocumentInfo {
    pub ignored_keys: Vec<String>,
}

/// What the callback may answer for one element.
pub type SinkResult = Result<(), SinkError>;

#[derive(Debug)]
pub enum SinkError {
    Shape(ShapeError),
    Abort,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Organizations,
    Memberships,
    Invitations,
    Domains,
    MembershipRequests,
    Roles,
    UserMap,
    SlugOverrides,
}

impl Section {
    fn of(key: &str) -> Option<Section> {
        Some(match key {
            "organizations" => Section::Organizations,
            "memberships" => Section::Memberships,
            "invitations" => Section::Invitations,
            "domains" => Section::Domains,
            "membership_requests" | "membershipRequests" => Section::MembershipRequests,
            "roles" => Section::Roles,
            "user_map" | "userMap" => Section::UserMap,
            "slug_overrides" | "slugOverrides" => Section::SlugOverrides,
            _ => return None,
        })
    }
}

struct Ctx<'s> {
    sink: &'s mut dyn FnMut(Element, &str) -> SinkResult,
    location: String,
    failure: Option<DocumentError>,
    seen: Vec<(Section, String)>,
    info: DocumentInfo,
}

impl Ctx<'_> {
    fn fail<E: de::Error>(&mut self, error: DocumentError) -> E {
        self.failure = Some(error);
        E::custom("import document rejected")
    }

    fn handle<E: de::Error>(&mut self, section: Section, value: &Value) -> Result<(), E> {
        let path = self.location.clone();
        let parsed = match section {
            Section::Organizations => clerk::parse_org(value, &path).map(Element::Org),
            Section::Memberships => clerk::parse_membership(value, &path).map(Element::Membership),
            Section::Invitations => clerk::parse_invitation(value, &path).map(Element::Invitation),
            Section::Domains => clerk::parse_domain(value, &path).map(Element::Domain),
            Section::MembershipRequests => {
                clerk::parse_membership_request(value, &path).map(Element::MembershipRequest)
            }
            Section::Roles => clerk::parse_role(value, &path).map(Element::Role),
            Section::UserMap | Section::SlugOverrides => {
                unreachable!("map entries are not array elements")
            }
        };
        let element = parsed.map_err(|e| self.fail(e.into()))?;
        self.deliver(element, &path)
    }

    fn deliver<E: de::Error>(&mut self, element: Element, path: &str) -> Result<(), E> {
        match (self.sink)(element, path) {
            Ok(()) => Ok(()),
            Err(SinkError::Shape(e)) => Err(self.fail(e.into())),
            Err(SinkError::Abort) => Err(self.fail(DocumentError::Aborted)),
        }
    }
}

/// Reads the whole document from `reader`, calling `sink` with each element and its
/// path. Stops at the first error, whether the document's or the sink's.
pub fn read_document<R: Read>(
    reader: R,
    sink: &mut dyn FnMut(Element, &str) -> SinkResult,
) -> Result<DocumentInfo, DocumentError> {
    let mut ctx = Ctx {
        sink,
        location: "$".to_owned(),
        failure: None,
        seen: Vec::new(),
        info: DocumentInfo::default(),
    };
    let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(
        256 * 1024,
        reader,
    ));
    let result = de::Deserializer::deserialize_map(&mut de, TopVisitor { ctx: &mut ctx })
        .and_then(|()| de.end());
    if let Some(failure) = ctx.failure.take() {
        return Err(failure);
    }
    if let Err(err) = result {
        return Err(classify(err, &ctx.location));
    }
    if !ctx.seen.iter().any(|(s, _)| *s == Section::Organizations) {
        return Err(ShapeError::new("organizations", "is required").into());
    }
    Ok(ctx.info)
}

fn classify(err: serde_json::Error, location: &str) -> DocumentError {
    let message = err.to_string();
    match err.classify() {
        serde_json::error::Category::Data => ShapeError::new(location, message).into(),
        _ => DocumentError::Syntax {
            path: location.to_owned(),
            message,
        },
    }
}

struct TopVisitor<'c, 's> {
    ctx: &'c mut Ctx<'s>,
}

impl<'de> Visitor<'de> for TopVisitor<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            "an object with organizations, memberships, invitations, domains, \
             membership_requests, roles, user_map",
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            let Some(section) = Section::of(&key) else {
                map.next_value::<IgnoredAny>()?;
                self.ctx.info.ignored_keys.push(key);
                continue;
            };
            if self.ctx.seen.iter().any(|(s, _)| *s == section) {
                let error = ShapeError::new(key.as_str(), "appears twice");
                return Err(self.ctx.fail(error.into()));
            }
            self.ctx.seen.push((section, key.clone()));
            self.ctx.location.clone_from(&key);
            map.next_value_seed(SectionSeed {
                ctx: &mut *self.ctx,
                section,
                key,
            })?;
            self.ctx.location = "$".to_owned();
        }
        Ok(())
    }
}

impl Section {
    fn is_map(self) -> bool {
        matches!(self, Section::UserMap | Section::SlugOverrides)
    }
}

/// One entry of a map section, or why its value is refused.
fn map_entry(section: Section, key: String, value: &Value) -> Result<Element, String> {
    if section == Section::SlugOverrides {
        let slug = value.as_str().ok_or("must be a slug (a string)")?;
        let slug = Slug::parse(slug)?;
        return Ok(Element::SlugOverride(key, slug.as_str().to_owned()));
    }
    let identity = value
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or("must be a Kratos identity UUID")?;
    Ok(Element::UserMapping(key, identity))
}

struct SectionSeed<'c, 's> {
    ctx: &'c mut Ctx<'s>,
    section: Section,
    key: String,
}

impl<'de> DeserializeSeed<'de> for SectionSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if self.section.is_map() {
            deserializer.deserialize_map(self)
        } else {
            deserializer.deserialize_seq(self)
        }
    }
}

impl<'de> Visitor<'de> for SectionSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.section == Section::UserMap {
            f.write_str("an object of Clerk user id to Kratos identity id")
        } else if self.section == Section::SlugOverrides {
            f.write_str("an object of Clerk organization id to slug")
        } else {
            f.write_str("an array")
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        loop {
            self.ctx.location = format!("{}[{index}]", self.key);
            let Some(value) = seq.next_element::<Value>()? else {
                return Ok(());
            };
            self.ctx.handle(self.section, &value)?;
            index += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            let path = format!("{}.{key}", self.key);
            self.ctx.location.clone_from(&path);
            let value = map.next_value::<Value>()?;
            let element = map_entry(self.section, key, &value).map_err(|message| {
                self.ctx
                    .fail::<A::Error>(ShapeError::new(path.as_str(), message).into())
            })?;
            self.ctx.deliver(element, &path)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(doc: &str) -> Result<Vec<Element>, DocumentError> {
        let mut out = Vec::new();
        read_document(doc.as_bytes(), &mut |e, _| {
            out.push(e);
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn reads_every_section() {
        let doc = r#"{"roles": [{"key": "org:x", "permissions": [{"key": "org:a:b"}]}],
            "organizations": [{"id": "org_1", "name": "A", "slug": "a"}],
            "user_map": {"user_1": "6f9c3a52-1f0e-4d2b-9a57-0c2f5f0b8e11"}, "domains": [],
            "slug_overrides": {"org_1": "a-2"}}"#;
        let elements = read(doc).unwrap();
        assert_eq!(elements.len(), 4);
        assert_eq!(
            elements[3],
            Element::SlugOverride("org_1".into(), "a-2".into())
        );
    }

    #[test]
    fn errors_name_the_path() {
        let err = read(r#"{"organizations": [{"id": "org_1", "name": "A"}, {"id": 3}]}"#);
        assert!(matches!(err, Err(DocumentError::Shape(e)) if e.path == "organizations[1].id"));
        let err = read(r#"{"organizations": [{"id": "org_1", "name": "A"}, {"#);
        assert!(
            matches!(err, Err(DocumentError::Syntax { path, .. }) if path == "organizations[1]")
        );
        let err = read(r#"{"organizations": {}}"#);
        assert!(matches!(err, Err(DocumentError::Shape(e)) if e.path == "organizations"));
        let err = read(r#"{"memberships": []}"#);
        assert!(matches!(err, Err(DocumentError::Shape(e)) if e.path == "organizations"));
        let err = read(r#"{"organizations": [], "user_map": {"user_1": "nope"}}"#);
        assert!(matches!(err, Err(DocumentError::Shape(e)) if e.path == "user_map.user_1"));
        assert!(matches!(read("[1]"), Err(DocumentError::Shape(_))));
        assert!(matches!(read("nope"), Err(DocumentError::Syntax { .. })));
    }

    #[test]
    fn slug_overrides_follow_the_slug_rules() {
        for value in [r#""Not A Slug""#, "7", r#""""#] {
            let doc = format!(r#"{{"organizations": [], "slug_overrides": {{"org_1": {value}}}}}"#);
            let err = read(&doc);
            assert!(
                matches!(&err, Err(DocumentError::Shape(e)) if e.path == "slug_overrides.org_1"),
                "{value}: {err:?}"
            );
        }
    }
}
