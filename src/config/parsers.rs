//! The `value_parser`s of [`super::Settings`]: each refuses a bad value with a message
//! clap prints before exiting with status 2.

use std::net::SocketAddr;

use super::OptionalAddr;

pub(super) fn parse_database_url(raw: &str) -> Result<String, String> {
    let known = ["postgres://", "postgresql://", "sqlite:"];
    if known.iter().any(|scheme| raw.starts_with(scheme)) {
        Ok(raw.to_owned())
    } else {
        Err("must start with postgres://, postgresql:// or sqlite://".into())
    }
}

/// An address, or nothing for an empty value (clap passes an empty variable through).
pub(super) fn parse_optional_addr(raw: &str) -> Result<OptionalAddr, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(OptionalAddr(None));
    }
    raw.parse::<SocketAddr>()
        .map(|addr| OptionalAddr(Some(addr)))
        .map_err(|_| "must be host:port with an IP address (e.g. 127.0.0.1:8081), or empty".into())
}

pub(super) fn parse_http_url(raw: &str) -> Result<url::Url, String> {
    match url::Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(url),
        _ => Err("must be an absolute http:// or https:// URL".into()),
    }
}

/// A browser origin as browsers send it: `scheme://host[:port]`, nothing after.
pub(super) fn parse_origin(raw: &str) -> Result<String, String> {
    let origin = raw.trim().trim_end_matches('/');
    if origin == "*" || origin == "null" {
        return Err(format!(
            "{origin:?} is not allowed: list each origin, since cookies are sent with these requests"
        ));
    }
    let url = url::Url::parse(origin).map_err(|_| format!("{origin:?} is not an origin"))?;
    let bare = matches!(url.scheme(), "http" | "https")
        && url.has_host()
        && url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none()
        && !origin.ends_with('#')
        && !origin.ends_with('?');
    if bare && axum::http::HeaderValue::from_str(origin).is_ok() {
        Ok(origin.to_owned())
    } else {
        Err(format!(
            "{origin:?} is not an origin: use http(s)://host[:port] with nothing after it"
        ))
    }
}

/// RFC 6265 cookie names are HTTP tokens.
pub(super) fn parse_cookie_name(raw: &str) -> Result<String, String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if !raw.is_empty() && raw.chars().all(token) {
        Ok(raw.to_owned())
    } else {
        Err("must be a cookie name (letters, digits and !#$%&'*+-.^_`|~)".into())
    }
}

pub(super) fn parse_body_limit(raw: &str) -> Result<usize, String> {
    match raw.parse::<usize>() {
        Ok(bytes) if bytes >= 1024 => Ok(bytes),
        _ => Err("must be a number of bytes, at least 1024".into()),
    }
}

pub(super) fn parse_direct_add(raw: &str) -> Result<crate::domain::DirectAdd, String> {
    match raw {
        "api_keys" => Ok(crate::domain::DirectAdd::ApiKeys),
        "managers" => Ok(crate::domain::DirectAdd::Managers),
        _ => Err("must be api_keys or managers".into()),
    }
}

pub(super) fn parse_role_key(raw: &str) -> Result<String, String> {
    crate::domain::role::validate_role_key(raw)?;
    Ok(raw.to_owned())
}

pub(super) fn parse_trait_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(name.to_owned())
    } else {
        Err(format!(
            "{name:?} is not a trait name (letters, digits and _)"
        ))
    }
}

/// `org_123=acme-2`, the slug checked by the same rules as any org's.
pub(super) fn parse_slug_override(raw: &str) -> Result<(String, String), String> {
    let (org, slug) = raw.split_once('=').ok_or("expected CLERK_ORG_ID=SLUG")?;
    if org.is_empty() {
        return Err("the Clerk org id is empty".into());
    }
    let slug = crate::domain::org::Slug::parse(slug).map_err(|e| format!("slug {slug:?} {e}"))?;
    Ok((org.to_owned(), slug.as_str().to_owned()))
}
