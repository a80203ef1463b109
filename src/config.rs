//! Command line and environment configuration. Every flag has an environment variable.
//! Every value is checked as it is parsed (the `value_parser`s in `config/parsers.rs`),
//! so a bad setting stops the process with clap's message and exit status 2 before
//! anything starts, never with a panic later.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod claims;
mod domains;
mod email;
mod parsers;
mod webhooks;

pub use claims::ClaimsSettings;
pub use domains::DomainSettings;
pub use email::{parse_smtp_url, EmailSettings, SmtpSecurity, SmtpUrl};
use parsers::*;
pub use webhooks::WebhookSettings;

#[derive(Debug, Parser)]
#[command(
    name = "polis",
    version,
    about = "Organizations and memberships for Ory Kratos identities"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub settings: Settings,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply migrations, then serve the API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create, list and revoke API keys.
    #[command(subcommand)]
    ApiKeys(ApiKeyCommand),
    /// Print the OpenAPI document.
    Openapi,
    /// Import organizations, members, invitations and roles.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Save what an import would read, without importing it.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Manage the keys that sign org-claims tokens.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Bring Polis in line with Kratos.
    #[command(subcommand)]
    Reconcile(ReconcileCommand),
}

#[derive(Debug, Subcommand)]
pub enum ReconcileCommand {
    /// Remove the memberships of identities Kratos no longer has (as the `system` actor,
    /// with their events); an org whose last admin is such an identity is reported, not
    /// emptied. Prints the report as JSON.
    Identities,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Publish a new key now and sign with it from 90 s on; the old key stays published
    /// until its tokens have expired.
    Rotate {
        /// Sign with the new key at once and stop every other key (a compromised key).
        #[arg(long)]
        immediately: bool,
    },
    /// List the signing keys (never their private halves).
    List,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// From a Clerk export document (`--file`) or straight from Clerk's API (`--from-api`).
    Clerk(ClerkImportArgs),
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Page Clerk's Backend API and print an import document on stdout.
    Clerk(ClerkApiArgs),
}

#[derive(Debug, Args)]
pub struct ClerkImportArgs {
    /// A Clerk export document; read as a stream.
    #[arg(
        long,
        required_unless_present = "from_api",
        conflicts_with = "from_api"
    )]
    pub file: Option<PathBuf>,
    /// Page Clerk's Backend API instead (needs CLERK_SECRET_KEY).
    #[arg(long)]
    pub from_api: bool,
    /// Report what would happen; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write each org's report to this file, one JSON object per line.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Import a Clerk org under another slug, `CLERK_ORG_ID=SLUG` (repeatable): how an
    /// org skipped for `slug_conflict` gets in. Wins over the document's `slug_overrides`.
    #[arg(long = "slug-override", value_name = "ORG_ID=SLUG", value_parser = parse_slug_override)]
    pub slug_overrides: Vec<(String, String)>,
    #[command(flatten)]
    pub clerk: ClerkApiArgs,
}

#[derive(Args)]
pub struct ClerkApiArgs {
    /// Clerk secret key (`sk_…`); never printed or logged.
    #[arg(long, env = "CLERK_SECRET_KEY", hide_env_values = true)]
    pub clerk_secret_key: Option<String>,
    #[arg(
        long,
        env = "CLERK_API_URL",
        default_value = "https://api.clerk.com/v1"
    )]
    pub clerk_api_url: url::Url,
}

/// Keeps the secret key out of any debug output.
impl std::fmt::Debug for ClerkApiArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClerkApiArgs")
            .field(
                "clerk_secret_key",
                &self.clerk_secret_key.as_ref().map(|_| "<redacted>"),
            )
            .field("clerk_api_url", &self.clerk_api_url.as_str())
            .finish()
    }
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key; it is printed once and only its hash is stored.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        scope: ScopeArg,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by id.
    Revoke { id: uuid::Uuid },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScopeArg {
    Admin,
    Read,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Parser)]
pub struct Settings {
    /// postgres://… or sqlite://… ; the SQLite file is created when missing.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://polis.db",
        value_parser = parse_database_url,
        global = true
    )]
    pub database_url: String,
    #[arg(
        long,
        env = "POLIS_LISTEN_ADDR",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen_addr: SocketAddr,
    #[arg(
        long,
        env = "KRATOS_PUBLIC_URL",
        default_value = "http://127.0.0.1:4433",
        value_parser = parse_http_url,
        global = true
    )]
    pub kratos_public_url: url::Url,
    #[arg(
        long,
        env = "KRATOS_ADMIN_URL",
        default_value = "http://127.0.0.1:4434",
        value_parser = parse_http_url,
        global = true
    )]
    pub kratos_admin_url: url::Url,
    /// How long one Kratos call may take before Polis answers 503 (1–600000).
    #[arg(
        long,
        env = "POLIS_KRATOS_TIMEOUT_MS",
        default_value_t = 3000,
        value_parser = clap::value_parser!(u64).range(1..=600_000),
        global = true
    )]
    pub kratos_timeout_ms: u64,
    /// Name of Kratos's session cookie (Kratos `session.cookie.name`).
    #[arg(
        long,
        env = "POLIS_KRATOS_SESSION_COOKIE",
        default_value = "ory_kratos_session",
        value_parser = parse_cookie_name,
        global = true
    )]
    pub kratos_session_cookie: String,
    /// Seconds a Kratos whoami answer is reused; 0 disables the cache.
    #[arg(
        long,
        env = "POLIS_SESSION_CACHE_TTL",
        default_value_t = 30,
        global = true
    )]
    pub session_cache_ttl: u64,
    /// Most sessions the cache holds at once (at least 1).
    #[arg(
        long,
        env = "POLIS_SESSION_CACHE_CAPACITY",
        default_value_t = 100_000,
        value_parser = clap::value_parser!(u64).range(1..),
        global = true
    )]
    pub session_cache_capacity: u64,
    /// Seconds an API key read from the database is reused (0–5; 0 disables): a revoked
    /// key keeps working that long at most.
    #[arg(
        long,
        env = "POLIS_API_KEY_CACHE_TTL",
        default_value_t = 5,
        value_parser = clap::value_parser!(u64).range(0..=5),
        global = true
    )]
    pub api_key_cache_ttl: u64,
    /// Days events (the audit log) are kept; 0 keeps them forever. An event an enabled
    /// webhook endpoint has not yet received or given up on is kept past that.
    #[arg(
        long,
        env = "POLIS_EVENT_RETENTION_DAYS",
        default_value_t = 365,
        value_parser = clap::value_parser!(u32).range(0..=36_500),
        global = true
    )]
    pub event_retention_days: u32,
    /// Seconds between identity reconciliations in `polis serve` (see `polis reconcile
    /// identities`); 0, the default, runs none.
    #[arg(
        long,
        env = "POLIS_RECONCILE_INTERVAL",
        default_value_t = 0,
        value_parser = clap::value_parser!(u64).range(0..=31_536_000),
        global = true
    )]
    pub reconcile_interval: u64,
    /// Comma-separated browser origins allowed to call Polis with credentials, each
    /// `http(s)://host[:port]` (no `*`: credentials are never shared with any origin).
    #[arg(
        long,
        env = "POLIS_CORS_ALLOWED_ORIGINS",
        value_delimiter = ',',
        value_parser = parse_origin,
        global = true
    )]
    pub cors_allowed_origins: Vec<String>,
    #[arg(
        long,
        env = "POLIS_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
    /// Largest request body accepted, in bytes (at least 1024).
    #[arg(long, env = "POLIS_MAX_BODY_BYTES", default_value_t = 1024 * 1024,
        value_parser = parse_body_limit, global = true)]
    pub max_body_bytes: usize,
    /// Largest Clerk import document accepted by `POST /admin/imports/clerk`, in bytes
    /// (the default fits some 100,000 memberships as Clerk's API returns them).
    #[arg(long, env = "POLIS_IMPORT_MAX_BODY_BYTES", default_value_t = 256 * 1024 * 1024,
        value_parser = parse_body_limit, global = true)]
    pub import_max_body_bytes: usize,
    /// Role given to an organization's creator.
    #[arg(
        long,
        env = "POLIS_CREATOR_ROLE",
        default_value = "org:admin",
        value_parser = parse_role_key,
        global = true
    )]
    pub creator_role: String,
    /// Kratos traits shown as a member's `identity` profile (comma-separated).
    #[arg(
        long,
        env = "POLIS_IDENTITY_TRAITS",
        value_delimiter = ',',
        default_value = "email,first_name,last_name,name,username,picture",
        value_parser = parse_trait_name,
        global = true
    )]
    pub identity_traits: Vec<String>,
    /// Role given to members added without one.
    #[arg(
        long,
        env = "POLIS_DEFAULT_ROLE",
        default_value = "org:member",
        value_parser = parse_role_key,
        global = true
    )]
    pub default_role: String,
    /// Who may add an identity by id: `api_keys` (identities must invite, so nobody is
    /// enrolled without consenting) or `managers` (also identities holding
    /// `org:sys_memberships:manage`, like Clerk's `organization.addMember`).
    #[arg(
        long,
        env = "POLIS_DIRECT_ADD",
        default_value = "api_keys",
        value_parser = parse_direct_add,
        global = true
    )]
    pub direct_add: crate::domain::DirectAdd,
    /// Where Prometheus scrapes `/metrics/prometheus`: a second listener, kept off the
    /// public port; empty turns it off.
    #[arg(long, env = "POLIS_METRICS_LISTEN_ADDR", default_value = "127.0.0.1:8081",
        value_parser = parse_optional_addr, global = true)]
    pub metrics_listen_addr: OptionalAddr,
    /// Seconds in-flight requests and background workers get to finish after SIGTERM or
    /// SIGINT (0–3600).
    #[arg(long, env = "POLIS_SHUTDOWN_TIMEOUT", default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(0..=3600), global = true)]
    pub shutdown_timeout: u64,
    /// Seconds Polis keeps accepting requests after SIGTERM while `/health/ready` already
    /// answers 503, so load balancers stop sending before it stops listening (0–600).
    #[arg(long, env = "POLIS_SHUTDOWN_DELAY", default_value_t = 0,
        value_parser = clap::value_parser!(u64).range(0..=600), global = true)]
    pub shutdown_delay: u64,
    /// Requests per second one credential may make with GET/HEAD (bursts of twice as
    /// many); 0 = unlimited. Counted per process.
    #[arg(long, env = "POLIS_RATE_LIMIT_READS", default_value_t = 100,
        value_parser = clap::value_parser!(u32).range(0..=1_000_000), global = true)]
    pub rate_limit_reads: u32,
    /// Requests per second one credential may make with other methods; 0 = unlimited.
    #[arg(long, env = "POLIS_RATE_LIMIT_WRITES", default_value_t = 20,
        value_parser = clap::value_parser!(u32).range(0..=1_000_000), global = true)]
    pub rate_limit_writes: u32,
    /// Requests per second one client IP may make without a valid credential;
    /// 0 = unlimited.
    #[arg(long, env = "POLIS_RATE_LIMIT_ANONYMOUS", default_value_t = 20,
        value_parser = clap::value_parser!(u32).range(0..=1_000_000), global = true)]
    pub rate_limit_anonymous: u32,
    /// How many reverse proxies in front of Polis append the address they saw to
    /// `X-Forwarded-For`: the client IP is read that many entries from its right end.
    /// 0 trusts no header and uses the TCP peer (0–10).
    #[arg(long, env = "POLIS_TRUSTED_PROXIES", default_value_t = 0,
        value_parser = clap::value_parser!(u8).range(0..=10), global = true)]
    pub trusted_proxies: u8,
    /// Most database connections this process opens (default: 16 on PostgreSQL, 8 on
    /// SQLite; 1–1000).
    #[arg(long, env = "POLIS_DB_MAX_CONNECTIONS",
        value_parser = clap::value_parser!(u32).range(1..=1000), global = true)]
    pub db_max_connections: Option<u32>,
    /// Milliseconds a request waits for a free database connection before it is answered
    /// 503 `database_unavailable` (1–600000).
    #[arg(long, env = "POLIS_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 3000,
        value_parser = clap::value_parser!(u64).range(1..=600_000), global = true)]
    pub db_acquire_timeout_ms: u64,
    /// PostgreSQL `statement_timeout` of every connection, in milliseconds; 0 = none
    /// (0–3600000). Migrations run without it. Not used with SQLite.
    #[arg(long, env = "POLIS_DB_STATEMENT_TIMEOUT_MS", default_value_t = 30_000,
        value_parser = clap::value_parser!(u64).range(0..=3_600_000), global = true)]
    pub db_statement_timeout_ms: u64,
    #[command(flatten)]
    pub claims: ClaimsSettings,
    #[command(flatten)]
    pub webhooks: WebhookSettings,
    #[command(flatten)]
    pub domains: DomainSettings,
    #[command(flatten)]
    pub email: EmailSettings,
}

/// A listen address that may be switched off with an empty value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionalAddr(pub Option<SocketAddr>);

impl Settings {
    /// Settings as the defaults and environment give them, without parsing a command line.
    pub fn from_env() -> Settings {
        Settings::parse_from(["polis"])
    }

    pub fn kratos_timeout(&self) -> Duration {
        Duration::from_millis(self.kratos_timeout_ms)
    }

    pub fn session_cache_ttl(&self) -> Duration {
        Duration::from_secs(self.session_cache_ttl)
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout)
    }

    pub fn shutdown_delay(&self) -> Duration {
        Duration::from_secs(self.shutdown_delay)
    }

    /// How the database pool is sized and bounded.
    pub fn pool(&self) -> crate::store::PoolSettings {
        crate::store::PoolSettings {
            max_connections: self.db_max_connections,
            acquire_timeout: Duration::from_millis(self.db_acquire_timeout_ms),
            statement_timeout: (self.db_statement_timeout_ms > 0)
                .then(|| Duration::from_millis(self.db_statement_timeout_ms)),
        }
    }

    /// Allowed origins, as browsers send them (the parser has trimmed them).
    pub fn allowed_origins(&self) -> Vec<String> {
        self.cors_allowed_origins.clone()
    }
}

/// Keeps credentials in URLs (user info, `?password=`, `?sslpassword=`…) out of logs.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redacted_url(&self.database_url))
            .field("listen_addr", &self.listen_addr)
            .field(
                "kratos_public_url",
                &redacted_url(self.kratos_public_url.as_str()),
            )
            .field(
                "kratos_admin_url",
                &redacted_url(self.kratos_admin_url.as_str()),
            )
            .field("kratos_timeout_ms", &self.kratos_timeout_ms)
            .field("session_cache_ttl", &self.session_cache_ttl)
            .field("cors_allowed_origins", &self.cors_allowed_origins)
            .field("log_format", &self.log_format)
            .field("metrics_listen_addr", &self.metrics_listen_addr.0)
            .field("rate_limit_reads", &self.rate_limit_reads)
            .field("rate_limit_writes", &self.rate_limit_writes)
            .field("rate_limit_anonymous", &self.rate_limit_anonymous)
            .field("db_max_connections", &self.db_max_connections)
            .field("claims", &self.claims)
            .field("webhooks", &self.webhooks)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// A URL without user info or query: what is safe to log.
fn redacted_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) => {
            let had_secrets =
                !url.username().is_empty() || url.password().is_some() || url.query().is_some();
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            if had_secrets {
                format!("{url} (credentials and options redacted)")
            } else {
                url.to_string()
            }
        }
        Err(_) => "<unparseable URL>".to_owned(),
    }
}

#[cfg(test)]
mod tests;
