//! Problem responses that several routes document in the same words, named once so a
//! handler's `#[utoipa::path(responses(...))]` lists them by name. The statuses every
//! route of a kind shares (bad JSON, 401, 403, 413, 415, 422, 500, 503) come from
//! [`super::openapi::SharedResponses`]; a route names one of these only where it says
//! more than the shared text. One-off descriptions stay tuples with
//! `body = Problem, content_type = PROBLEM_CONTENT_TYPE`.

use std::collections::BTreeMap;

use utoipa::openapi::{RefOr, Response};

use super::openapi::problem_response;

/// Declares a unit type per response; its `IntoResponses` is the inline problem response
/// a tuple `(status = …, description = …, body = Problem, content_type = …)` would give.
macro_rules! problem_responses {
    ($($name:ident = ($status:literal, $description:literal);)*) => {$(
        #[doc = concat!("`", $status, "`: ", $description, ".")]
        pub struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                let response = RefOr::T(problem_response($description));
                BTreeMap::from([($status.to_string(), response)])
            }
        }
    )*};
}

problem_responses! {
    MalformedJson = (400, "Malformed JSON");
    MissingPermission = (403, "Missing permission");
    NotAdminKey = (403, "Not an admin key");
    OrgNotFound = (404, "No such organization");
    MemberNotFound = (404, "No such organization or member");
    InvitationNotFound = (404, "No such organization or invitation");
    MyInvitationNotFound = (404, "No such invitation for the caller");
    RoleNotFound = (404, "No such role");
    SlugTaken = (409, "Slug taken");
    LastAdmin = (409, "Would leave no admin");
    NotPending = (409, "Not pending");
    NotJson = (415, "Not JSON");
    InvalidParameters = (422, "Invalid parameters");
    InvalidFields = (422, "Invalid fields");
    InvalidMetadata = (422, "Not objects, or too large after merging");
    KratosUnavailable = (503, "Kratos unavailable");
    WebhookNotFound = (404, "No such webhook endpoint");
    SuggestionNotFound = (404, "No such suggestion for the caller");
    RequestNotFound = (404, "No such organization or membership request");
    DomainNotFound = (404, "No such organization or domain");
}
