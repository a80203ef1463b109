//! Settings of the org-claims tokens Polis issues and of the Hydra access tokens it
//! accepts (issue 12), kept apart from the core settings.

use std::time::Duration;

use clap::Args;

#[derive(Clone, Args)]
pub struct ClaimsSettings {
    /// Where callers reach Polis: the `iss` of the tokens it signs (without a trailing `/`).
    #[arg(
        long,
        env = "POLIS_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080",
        value_parser = super::parse_http_url,
        global = true
    )]
    pub public_url: url::Url,
    /// Seconds an org-claims token from `POST /me/token` is valid (1–3600).
    #[arg(
        long,
        env = "POLIS_TOKEN_TTL",
        default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(1..=3600),
        global = true
    )]
    pub token_ttl: u64,
    /// Encrypts the signing keys' private halves in the database (AES-256-GCM); at least
    /// 32 characters of random text. Never printed or logged.
    #[arg(
        long,
        env = "POLIS_SIGNING_KEY_SECRET",
        hide_env_values = true,
        value_parser = parse_key_secret,
        global = true
    )]
    pub signing_key_secret: Option<String>,
    /// Hydra's admin API, for introspecting `ory_at_…` access tokens; unset: refused.
    #[arg(long, env = "HYDRA_ADMIN_URL", value_parser = super::parse_http_url, global = true)]
    pub hydra_admin_url: Option<url::Url>,
    /// How long one Hydra call may take before Polis answers 503 (1–600000).
    #[arg(
        long,
        env = "POLIS_HYDRA_TIMEOUT_MS",
        default_value_t = 3000,
        value_parser = clap::value_parser!(u64).range(1..=600_000),
        global = true
    )]
    pub hydra_timeout_ms: u64,
    /// The scope an access token needs to read (GET); the write scope also reads.
    #[arg(
        long,
        env = "POLIS_HYDRA_READ_SCOPE",
        default_value = "orgs:read",
        value_parser = parse_scope,
        global = true
    )]
    pub hydra_read_scope: String,
    /// The scope an access token needs for every method but GET.
    #[arg(
        long,
        env = "POLIS_HYDRA_WRITE_SCOPE",
        default_value = "orgs:write",
        value_parser = parse_scope,
        global = true
    )]
    pub hydra_write_scope: String,
}

impl ClaimsSettings {
    /// The `iss` claim: the public URL as configured, without a trailing slash.
    pub fn issuer(&self) -> String {
        self.public_url.as_str().trim_end_matches('/').to_owned()
    }

    pub fn token_ttl(&self) -> Duration {
        Duration::from_secs(self.token_ttl)
    }

    pub fn hydra_timeout(&self) -> Duration {
        Duration::from_millis(self.hydra_timeout_ms)
    }
}

/// Keeps the key secret out of any debug output.
impl std::fmt::Debug for ClaimsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimsSettings")
            .field("public_url", &self.public_url.as_str())
            .field("token_ttl", &self.token_ttl)
            .field(
                "signing_key_secret",
                &self.signing_key_secret.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "hydra_admin_url",
                &self
                    .hydra_admin_url
                    .as_ref()
                    .map(|url| super::redacted_url(url.as_str())),
            )
            .field("hydra_read_scope", &self.hydra_read_scope)
            .field("hydra_write_scope", &self.hydra_write_scope)
            .finish_non_exhaustive()
    }
}

fn parse_key_secret(raw: &str) -> Result<String, String> {
    if raw.chars().count() >= 32 {
        Ok(raw.to_owned())
    } else {
        Err("must be at least 32 characters (e.g. `openssl rand -base64 32`)".into())
    }
}

/// An OAuth2 scope token (RFC 6749 §3.3): printable ASCII without space, `"` or `\`.
fn parse_scope(raw: &str) -> Result<String, String> {
    let allowed = |c: char| c.is_ascii_graphic() && c != '"' && c != '\\';
    if !raw.is_empty() && raw.chars().all(allowed) {
        Ok(raw.to_owned())
    } else {
        Err("must be one OAuth2 scope: printable ASCII without spaces, quotes or \\".into())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::config::Cli;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("polis").chain(args.iter().copied()))
    }

    #[test]
    fn bad_values_are_refused() {
        for (flag, value) in [
            ("--public-url", "polis.example.com"),
            ("--token-ttl", "0"),
            ("--token-ttl", "3601"),
            ("--signing-key-secret", "short"),
            ("--hydra-admin-url", "ftp://hydra"),
            ("--hydra-timeout-ms", "0"),
            ("--hydra-read-scope", "orgs read"),
            ("--hydra-write-scope", ""),
        ] {
            let arg = format!("{flag}={value}");
            let err = parse(&[&arg]).expect_err(&arg);
            assert_eq!(err.exit_code(), 2, "{arg}");
        }
    }

    #[test]
    fn the_secret_never_prints() {
        let secret = "s3cret-s3cret-s3cret-s3cret-s3cret";
        let cli = parse(&["--signing-key-secret", secret]).unwrap();
        let printed = format!("{:?}", cli.settings);
        assert!(!printed.contains(secret), "{printed}");
        assert!(printed.contains("<redacted>"), "{printed}");
        assert_eq!(cli.settings.claims.issuer(), "http://127.0.0.1:8080");
    }
}
