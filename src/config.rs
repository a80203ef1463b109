//! Command line and environment configuration. Every flag has an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
        global = true
    )]
    pub kratos_public_url: url::Url,
    #[arg(
        long,
        env = "KRATOS_ADMIN_URL",
        default_value = "http://127.0.0.1:4434",
        global = true
    )]
    pub kratos_admin_url: url::Url,
    /// How long one Kratos call may take before Polis answers 503.
    #[arg(
        long,
        env = "POLIS_KRATOS_TIMEOUT_MS",
        default_value_t = 3000,
        global = true
    )]
    pub kratos_timeout_ms: u64,
    /// Name of Kratos's session cookie (Kratos `session.cookie.name`).
    #[arg(
        long,
        env = "POLIS_KRATOS_SESSION_COOKIE",
        default_value = "ory_kratos_session",
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
    /// Most sessions the cache holds at once.
    #[arg(
        long,
        env = "POLIS_SESSION_CACHE_CAPACITY",
        default_value_t = 100_000,
        global = true
    )]
    pub session_cache_capacity: u64,
    /// Comma-separated browser origins allowed to call Polis with credentials.
    #[arg(
        long,
        env = "POLIS_CORS_ALLOWED_ORIGINS",
        value_delimiter = ',',
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
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "POLIS_MAX_BODY_BYTES", default_value_t = 1024 * 1024, global = true)]
    pub max_body_bytes: usize,
    /// Largest Clerk import document accepted by `POST /admin/imports/clerk`, in bytes
    /// (the default fits some 100,000 memberships as Clerk's API returns them).
    #[arg(long, env = "POLIS_IMPORT_MAX_BODY_BYTES", default_value_t = 256 * 1024 * 1024, global = true)]
    pub import_max_body_bytes: usize,
    /// Role given to an organization's creator.
    #[arg(
        long,
        env = "POLIS_CREATOR_ROLE",
        default_value = "org:admin",
        global = true
    )]
    pub creator_role: String,
    /// Kratos traits shown as a member's `identity` profile (comma-separated).
    #[arg(
        long,
        env = "POLIS_IDENTITY_TRAITS",
        value_delimiter = ',',
        default_value = "email,first_name,last_name,name,username,picture",
        global = true
    )]
    pub identity_traits: Vec<String>,
    /// Role given to members added without one.
    #[arg(
        long,
        env = "POLIS_DEFAULT_ROLE",
        default_value = "org:member",
        global = true
    )]
    pub default_role: String,
}

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

    /// Allowed origins, trimmed and without trailing slashes, as browsers send them.
    pub fn allowed_origins(&self) -> Vec<String> {
        self.cors_allowed_origins
            .iter()
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect()
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
mod tests {
    use super::redacted_url;

    #[test]
    fn urls_lose_their_secrets() {
        let redacted = redacted_url("postgres://polis:hunter2@db:5432/polis?sslpassword=s3cret");
        assert!(
            !redacted.contains("hunter2") && !redacted.contains("s3cret"),
            "{redacted}"
        );
        assert!(!redacted.contains("polis@"), "{redacted}");
        assert!(
            redacted.starts_with("postgres://db:5432/polis"),
            "{redacted}"
        );
        assert_eq!(redacted_url("sqlite://polis.db"), "sqlite://polis.db");
    }
}
