//! Integration tests: the real router over real SQLite and PostgreSQL, with a Kratos
//! test double. One binary, so the suite links once.

#[path = "../support/mod.rs"]
mod support;

mod harness;

mod hydra_tokens;
mod import;

mod active_org;
mod audit_log;
mod auth;
mod authz_check;
mod concurrency;
mod domains;
mod email;
mod email_delivery;
mod email_links;
mod email_tls;
mod enrollment;
mod events;
mod fuzz_findings;
mod grants;
mod hardening;
mod invitations;
mod logging;
mod members;
mod migrations;
mod operability;
mod org_tokens;
mod orgs;
mod profiles_and_metadata;
mod reconcile;
mod replicas;
mod roles_and_me;
mod service;
mod shutdown;
mod store_contract;
mod webhooks;
