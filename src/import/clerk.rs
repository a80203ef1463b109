//! Clerk's objects as the Backend API returns them (`clerk.md` §2), read from JSON
//! values one element at a time. Field names are snake_case as the API sends them;
//! the camelCase of Clerk JS SDK dumps is accepted too. Only the *shape* is checked
//! here (types, required ids): a wrong shape rejects the whole document. Whether the
//! values suit Polis (slug rules, metadata size…) is the planner's business and only
//! skips the item, with a reason in the report.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A document that is not what the import expects: the first offending path and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ShapeError {
    /// JSON-path-like: `memberships[3].public_user_data.user_id`.
    pub path: String,
    pub message: String,
}

impl ShapeError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClerkOrg {
    pub id: String,
    pub name: String,
    pub slug: Option<String>,
    pub image_url: Option<String>,
    pub public_metadata: Value,
    pub private_metadata: Value,
    pub max_allowed_memberships: i64,
    pub created_by: Option<String>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClerkMembership {
    pub id: String,
    pub org_id: String,
    pub user_id: String,
    /// The member's primary e-mail (or phone or username), as Clerk shows it.
    pub identifier: Option<String>,
    pub role: String,
    pub public_metadata: Value,
    pub private_metadata: Value,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClerkInvitation {
    pub id: String,
    pub org_id: String,
    pub email_address: String,
    pub role: String,
    pub status: String,
    pub inviter_id: Option<String>,
    pub public_metadata: Value,
    pub private_metadata: Value,
    pub expires_at: Option<i64>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}

/// An `organization_domain`. `verified` is read from `affiliation_verification.status`
/// (or its alias `verification.status`) being `verified`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClerkDomain {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub enrollment_mode: String,
    pub verified: bool,
    pub affiliation_email_address: Option<String>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}

/// An `organization_membership_request`: a user asking to join.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClerkMembershipRequest {
    pub id: String,
    pub org_id: String,
    pub user_id: String,
    pub identifier: Option<String>,
    pub status: String,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClerkRole {
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub permissions: Vec<String>,
}

/// An object being read, with the path that names it in errors.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Obj<'a> {
    fn of(value: &'a Value, path: &str) -> Result<Self, ShapeError> {
        match value {
            Value::Object(map) => Ok(Obj {
                map,
                path: path.to_owned(),
            }),
            other => Err(ShapeError::new(
                path,
                format!("must be an object, not {}", kind(other)),
            )),
        }
    }

    /// The field under its snake_case name or, failing that, its camelCase one;
    /// `null` reads as absent.
    fn get(&self, name: &str) -> Option<&'a Value> {
        let found = self
            .map
            .get(name)
            .or_else(|| self.map.get(&camel_case(name)));
        found.filter(|v| !v.is_null())
    }

    fn at(&self, name: &str) -> String {
        format!("{}.{name}", self.path)
    }

    fn string(&self, name: &str) -> Result<String, ShapeError> {
        self.opt_string(name)?
            .ok_or_else(|| ShapeError::new(self.at(name), "is required"))
    }

    fn opt_string(&self, name: &str) -> Result<Option<String>, ShapeError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(ShapeError::new(
                self.at(name),
                format!("must be a string, not {}", kind(other)),
            )),
        }
    }

    fn metadata(&self, name: &str) -> Result<Value, ShapeError> {
        match self.get(name) {
            None => Ok(Value::Object(Map::new())),
            Some(v @ Value::Object(_)) => Ok(v.clone()),
            Some(other) => Err(ShapeError::new(
                self.at(name),
                format!("must be an object, not {}", kind(other)),
            )),
        }
    }

    fn integer(&self, name: &str) -> Result<Option<i64>, ShapeError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| ShapeError::new(self.at(name), "must be an integer")),
            Some(other) => Err(ShapeError::new(
                self.at(name),
                format!("must be an integer, not {}", kind(other)),
            )),
        }
    }

    /// Unix milliseconds, as Clerk sends them; RFC 3339 strings are accepted too.
    fn timestamp(&self, name: &str) -> Result<Option<i64>, ShapeError> {
        match self.get(name) {
            Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
                .map(|t| Some(t.timestamp_millis()))
                .map_err(|_| ShapeError::new(self.at(name), "must be Unix milliseconds")),
            _ => self.integer(name),
        }
    }

    fn object(&self, name: &str) -> Result<Option<Obj<'a>>, ShapeError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Obj {
                map,
                path: self.at(name),
            })),
            Some(other) => Err(ShapeError::new(
                self.at(name),
                format!("must be an object, not {}", kind(other)),
            )),
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `public_user_data` → `publicUserData`.
fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

pub fn parse_org(value: &Value, path: &str) -> Result<ClerkOrg, ShapeError> {
    let o = Obj::of(value, path)?;
    Ok(ClerkOrg {
        id: o.string("id")?,
        name: o.string("name")?,
        slug: o.opt_string("slug")?,
        image_url: o.opt_string("image_url")?,
        public_metadata: o.metadata("public_metadata")?,
        private_metadata: o.metadata("private_metadata")?,
        max_allowed_memberships: o.integer("max_allowed_memberships")?.unwrap_or(0),
        created_by: o.opt_string("created_by")?,
        created_at: o.timestamp("created_at")?,
        updated_at: o.timestamp("updated_at")?,
    })
}

pub fn parse_membership(value: &Value, path: &str) -> Result<ClerkMembership, ShapeError> {
    let o = Obj::of(value, path)?;
    // The org is `organization.id` in the API's shape; flat dumps may carry `organization_id`.
    let org_id = match o.opt_string("organization_id")? {
        Some(id) => id,
        None => match o.object("organization")? {
            Some(org) => org.string("id")?,
            None => return Err(ShapeError::new(o.at("organization"), "is required")),
        },
    };
    let user = o
        .object("public_user_data")?
        .ok_or_else(|| ShapeError::new(o.at("public_user_data"), "is required"))?;
    Ok(ClerkMembership {
        id: o.string("id")?,
        org_id,
        user_id: user.string("user_id")?,
        identifier: user.opt_string("identifier")?,
        role: o.string("role")?,
        public_metadata: o.metadata("public_metadata")?,
        private_metadata: o.metadata("private_metadata")?,
        created_at: o.timestamp("created_at")?,
        updated_at: o.timestamp("updated_at")?,
    })
}

pub fn parse_invitation(value: &Value, path: &str) -> Result<ClerkInvitation, ShapeError> {
    let o = Obj::of(value, path)?;
    let org_id = match o.opt_string("organization_id")? {
        Some(id) => id,
        None => match o.object("public_organization_data")? {
            Some(org) => org.string("id")?,
            None => return Err(ShapeError::new(o.at("organization_id"), "is required")),
        },
    };
    Ok(ClerkInvitation {
        id: o.string("id")?,
        org_id,
        email_address: o.string("email_address")?,
        role: o.string("role")?,
        status: o.opt_string("status")?.unwrap_or_else(|| "pending".into()),
        inviter_id: o.opt_string("inviter_id")?,
        public_metadata: o.metadata("public_metadata")?,
        private_metadata: o.metadata("private_metadata")?,
        expires_at: o.timestamp("expires_at")?,
        created_at: o.timestamp("created_at")?,
        updated_at: o.timestamp("updated_at")?,
    })
}

/// The org an item names: `organization_id`, or `public_organization_data.id`.
fn item_org_id(o: &Obj<'_>) -> Result<String, ShapeError> {
    match o.opt_string("organization_id")? {
        Some(id) => Ok(id),
        None => match o.object("public_organization_data")? {
            Some(org) => org.string("id"),
            None => Err(ShapeError::new(o.at("organization_id"), "is required")),
        },
    }
}

pub fn parse_domain(value: &Value, path: &str) -> Result<ClerkDomain, ShapeError> {
    let o = Obj::of(value, path)?;
    let mut verified = false;
    for name in ["affiliation_verification", "verification"] {
        if let Some(verification) = o.object(name)? {
            verified |= verification.opt_string("status")?.as_deref() == Some("verified");
        }
    }
    Ok(ClerkDomain {
        id: o.string("id")?,
        org_id: item_org_id(&o)?,
        name: o.string("name")?,
        enrollment_mode: o
            .opt_string("enrollment_mode")?
            .unwrap_or_else(|| "manual_invitation".into()),
        verified,
        affiliation_email_address: o.opt_string("affiliation_email_address")?,
        created_at: o.timestamp("created_at")?,
        updated_at: o.timestamp("updated_at")?,
    })
}

pub fn parse_membership_request(
    value: &Value,
    path: &str,
) -> Result<ClerkMembershipRequest, ShapeError> {
    let o = Obj::of(value, path)?;
    let user = o
        .object("public_user_data")?
        .ok_or_else(|| ShapeError::new(o.at("public_user_data"), "is required"))?;
    Ok(ClerkMembershipRequest {
        id: o.string("id")?,
        org_id: item_org_id(&o)?,
        user_id: user.string("user_id")?,
        identifier: user.opt_string("identifier")?,
        status: o.opt_string("status")?.unwrap_or_else(|| "pending".into()),
        created_at: o.timestamp("created_at")?,
        updated_at: o.timestamp("updated_at")?,
    })
}

pub fn parse_role(value: &Value, path: &str) -> Result<ClerkRole, ShapeError> {
    let o = Obj::of(value, path)?;
    let permissions = match o.get("permissions") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| permission_key(item, &format!("{}.permissions[{i}]", o.path)))
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(ShapeError::new(
                o.at("permissions"),
                format!("must be an array, not {}", kind(other)),
            ))
        }
    };
    Ok(ClerkRole {
        key: o.string("key")?,
        name: o.opt_string("name")?.unwrap_or_default(),
        description: o.opt_string("description")?,
        permissions,
    })
}

/// A role's permission: a Permission object (`{key, …}`) or just its key.
fn permission_key(item: &Value, path: &str) -> Result<String, ShapeError> {
    match item {
        Value::String(key) => Ok(key.clone()),
        other => Obj::of(other, path)?.string("key"),
    }
}

/// Clerk's legacy role keys, from before roles were namespaced.
pub fn normalize_role_key(key: &str) -> &str {
    match key {
        "admin" => "org:admin",
        "basic_member" => "org:member",
        other => other,
    }
}

/// Unix milliseconds as a timestamp; `None` when out of range.
pub fn from_millis(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_api_shape_and_camel_case() {
        let api = json!({"id": "orgmem_1", "role": "org:admin",
            "organization": {"id": "org_1"},
            "public_user_data": {"user_id": "user_1", "identifier": "a@x.io"},
            "created_at": 1716883200000_i64});
        let m = parse_membership(&api, "memberships[0]").unwrap();
        assert_eq!((m.org_id.as_str(), m.user_id.as_str()), ("org_1", "user_1"));
        let camel = json!({"id": "orgmem_1", "role": "org:admin",
            "organization": {"id": "org_1"},
            "publicUserData": {"userId": "user_1"}, "createdAt": 1716883200000_i64});
        let c = parse_membership(&camel, "memberships[0]").unwrap();
        assert_eq!(c.user_id, "user_1");
        assert_eq!(c.created_at, m.created_at);
    }

    #[test]
    fn names_the_offending_path() {
        let bad = json!({"id": "orgmem_1", "role": "org:admin", "organization": {"id": "org_1"},
            "public_user_data": {"user_id": 7}});
        let err = parse_membership(&bad, "memberships[4]").unwrap_err();
        assert_eq!(err.path, "memberships[4].public_user_data.user_id");
        let err = parse_org(&json!({"id": "org_1"}), "organizations[0]").unwrap_err();
        assert_eq!(err.path, "organizations[0].name");
        let err = parse_org(&json!([]), "organizations[2]").unwrap_err();
        assert_eq!(err.path, "organizations[2]");
    }

    #[test]
    fn legacy_role_keys() {
        assert_eq!(normalize_role_key("admin"), "org:admin");
        assert_eq!(normalize_role_key("basic_member"), "org:member");
        assert_eq!(normalize_role_key("org:billing"), "org:billing");
    }
}
