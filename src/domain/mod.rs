//! Pure rules: who may do what, what a valid org, slug, role or permission is.
//! Nothing in here performs I/O, so every rule is unit-tested on its own.

pub mod authz;
pub mod caller;
pub mod claims;
pub mod domains;
pub mod email;
pub mod enrollment;
pub mod invitation;
pub mod metadata;
pub mod org;
pub mod role;
pub mod validation;
pub mod webhook;
pub mod webhook_signing;

pub use authz::{
    authorize, authorize_grant, may_add_directly, visibility, Action, Denied, DirectAdd,
    DirectAddDisabled, Stakes, Visibility,
};
pub use caller::{ApiKeyScope, Caller};
