//! Settings of e-mail delivery (SMTP, sender, templates), kept apart from the core
//! settings. `POLIS_SMTP_URL` reads like Kratos's `courier.smtp.connection_uri`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

#[derive(Clone, Args)]
pub struct EmailSettings {
    /// SMTP server to send e-mail through; unset: Polis sends none. `smtp://user:pass@host:port/`
    /// uses STARTTLS (required; `?disable_starttls=true` sends in plain text),
    /// `smtps://…` TLS from the first byte; `?skip_ssl_verify=true` accepts any
    /// certificate. User and password are percent-decoded. Ports default to 587 / 465.
    #[arg(long, env = "POLIS_SMTP_URL", value_parser = parse_smtp_url,
        hide_env_values = true, requires = "email_from", global = true)]
    pub smtp_url: Option<SmtpUrl>,
    /// The `From` of every e-mail, `address` or `Name <address>` (needed with SMTP).
    #[arg(long, env = "POLIS_EMAIL_FROM", value_parser = parse_mailbox, global = true)]
    pub email_from: Option<String>,
    /// A directory of templates overriding the built-in ones (see the README's
    /// "E-mail" section); read and checked at start-up.
    #[arg(long, env = "POLIS_EMAIL_TEMPLATES_DIR", global = true)]
    pub email_templates_dir: Option<PathBuf>,
    /// The app's page accepting invitations: e-mails link to it (with
    /// `invitation_token=…`) when an invitation has no `redirect_url`.
    #[arg(long, env = "POLIS_INVITATION_URL", value_parser = parse_page_url, global = true)]
    pub invitation_url: Option<url::Url>,
    /// Milliseconds the sender waits before looking for due e-mails again when it found
    /// none (10–60000).
    #[arg(long = "email-poll-interval-ms", env = "POLIS_EMAIL_POLL_INTERVAL_MS",
        default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=60_000),
        global = true)]
    pub email_poll_interval_ms: u64,
    /// Milliseconds a sender holds the e-mails it claimed (5000–3600000): those of a
    /// process that dies mid-send are sent by another after this. One SMTP exchange
    /// may last at most half of it (and at most 60 s).
    #[arg(long = "email-lease-ms", env = "POLIS_EMAIL_LEASE_MS", default_value_t = 120_000,
        value_parser = clap::value_parser!(u64).range(5000..=3_600_000), global = true)]
    pub email_lease_ms: u64,
}

impl EmailSettings {
    /// Whether Polis sends e-mail (SMTP is configured).
    pub fn sends(&self) -> bool {
        self.smtp_url.is_some()
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.email_poll_interval_ms)
    }

    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.email_lease_ms)
    }

    /// How long one SMTP exchange may take: 60 s, or half a shorter lease.
    pub fn send_timeout(&self) -> Duration {
        (self.lease() / 2).min(Duration::from_secs(60))
    }
}

impl std::fmt::Debug for EmailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailSettings")
            .field("smtp_url", &self.smtp_url)
            .field("email_from", &self.email_from)
            .field("email_templates_dir", &self.email_templates_dir)
            .field(
                "invitation_url",
                &self.invitation_url.as_ref().map(url::Url::as_str),
            )
            .field("email_poll_interval_ms", &self.email_poll_interval_ms)
            .field("email_lease_ms", &self.email_lease_ms)
            .finish()
    }
}

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtps://`: TLS from the first byte.
    Tls,
    /// `smtp://`: plain connection upgraded with STARTTLS, which must succeed.
    StartTls,
    /// `smtp://…?disable_starttls=true`: no encryption at all.
    Plain,
}

/// A parsed `POLIS_SMTP_URL`.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// Accept any certificate (`?skip_ssl_verify=true`): for tests only.
    pub skip_ssl_verify: bool,
    /// Percent-decoded user and password, when the URL has a user.
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("skip_ssl_verify", &self.skip_ssl_verify)
            .field(
                "credentials",
                &self
                    .credentials
                    .as_ref()
                    .map(|(user, _)| (user, "<redacted>")),
            )
            .finish()
    }
}

fn query_flag(url: &url::Url, name: &str) -> Result<bool, String> {
    match url.query_pairs().find(|(key, _)| key == name) {
        None => Ok(false),
        Some((_, value)) => match value.as_ref() {
            "true" | "1" => Ok(true),
            "false" | "0" | "" => Ok(false),
            _ => Err(format!("?{name}= must be true or false")),
        },
    }
}

fn percent_decoded(raw: &str, what: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| format!("the {what} is not UTF-8 once percent-decoded"))
}

/// Parses `smtp://` or `smtps://[user[:password]@]host[:port][/][?options]`; the only
/// options are `disable_starttls` and `skip_ssl_verify`. Errors never echo the URL (it
/// may hold a password).
pub fn parse_smtp_url(raw: &str) -> Result<SmtpUrl, String> {
    let url =
        url::Url::parse(raw.trim()).map_err(|_| "must be an smtp:// or smtps:// URL".to_owned())?;
    let tls = match url.scheme() {
        "smtp" => false,
        "smtps" => true,
        _ => return Err("must start with smtp:// or smtps://".into()),
    };
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("needs a host")?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if let Some((key, _)) = url
        .query_pairs()
        .find(|(key, _)| key != "disable_starttls" && key != "skip_ssl_verify")
    {
        return Err(format!(
            "unknown option ?{key}= (known: disable_starttls, skip_ssl_verify)"
        ));
    }
    if !matches!(url.path(), "" | "/") || url.fragment().is_some() {
        return Err("must have no path after host:port".into());
    }
    let security = match (tls, query_flag(&url, "disable_starttls")?) {
        (true, _) => SmtpSecurity::Tls,
        (false, false) => SmtpSecurity::StartTls,
        (false, true) => SmtpSecurity::Plain,
    };
    let credentials = if url.username().is_empty() {
        None
    } else {
        Some((
            percent_decoded(url.username(), "user")?,
            percent_decoded(url.password().unwrap_or(""), "password")?,
        ))
    };
    Ok(SmtpUrl {
        host,
        port: url.port().unwrap_or(if tls { 465 } else { 587 }),
        security,
        skip_ssl_verify: query_flag(&url, "skip_ssl_verify")?,
        credentials,
    })
}

/// `address` or `Display Name <address>`, as lettre reads a mailbox.
fn parse_mailbox(raw: &str) -> Result<String, String> {
    raw.trim()
        .parse::<lettre::message::Mailbox>()
        .map(|mailbox| mailbox.to_string())
        .map_err(|_| "must be an e-mail address or `Name <address>`".into())
}

/// An absolute http(s) page URL.
fn parse_page_url(raw: &str) -> Result<url::Url, String> {
    match url::Url::parse(raw.trim()) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(url),
        _ => Err("must be an absolute http:// or https:// URL".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_follow_kratos() {
        let url = parse_smtp_url("smtp://us%40er:p%3Ass@mail.example.com:2525/").unwrap();
        assert_eq!(url.host, "mail.example.com");
        assert_eq!(url.port, 2525);
        assert_eq!(url.security, SmtpSecurity::StartTls);
        assert!(!url.skip_ssl_verify);
        assert_eq!(
            url.credentials,
            Some(("us@er".to_owned(), "p:ss".to_owned()))
        );

        let url = parse_smtp_url("smtps://mail.example.com?skip_ssl_verify=true").unwrap();
        assert_eq!((url.port, url.security), (465, SmtpSecurity::Tls));
        assert!(url.skip_ssl_verify);
        assert_eq!(url.credentials, None);

        let url = parse_smtp_url("smtp://127.0.0.1:1025/?disable_starttls=true").unwrap();
        assert_eq!((url.port, url.security), (1025, SmtpSecurity::Plain));
        let url = parse_smtp_url("smtp://[::1]/?disable_starttls=false").unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.security),
            ("::1", 587, SmtpSecurity::StartTls)
        );
        // smtps is TLS whatever disable_starttls says (as in Kratos).
        let url = parse_smtp_url("smtps://h:1/?disable_starttls=true").unwrap();
        assert_eq!(url.security, SmtpSecurity::Tls);
    }

    #[test]
    fn bad_smtp_urls_are_refused_without_echoing_them() {
        for bad in [
            "http://mail.example.com",
            "smtp://",
            "smtp:///x",
            "not a url",
            "smtp://h/?disable_starttls=maybe",
            "smtp://h/?tls=on",
            "smtp://h/path",
        ] {
            assert!(parse_smtp_url(bad).is_err(), "{bad}");
        }
        let err = parse_smtp_url("smtp://u:hunter2@h/?bogus=1").unwrap_err();
        assert!(!err.contains("hunter2"));
    }

    #[test]
    fn debug_hides_the_password() {
        let url = parse_smtp_url("smtp://user:hunter2@h").unwrap();
        let shown = format!("{url:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("user"),
            "{shown}"
        );
    }

    fn parse(args: &[&str]) -> Result<crate::config::Cli, clap::Error> {
        use clap::Parser;
        crate::config::Cli::try_parse_from(std::iter::once("polis").chain(args.iter().copied()))
    }

    #[test]
    fn email_flags_are_checked_at_start() {
        for bad in [
            "--smtp-url=http://mail.example.com",
            "--email-from=nobody",
            "--invitation-url=/accept",
            "--email-poll-interval-ms=5",
            "--email-lease-ms=100",
        ] {
            let err = parse(&[bad])
                .err()
                .unwrap_or_else(|| panic!("{bad} was accepted"));
            assert_eq!(err.exit_code(), 2, "{bad}");
        }
        // SMTP needs a sender.
        let alone = parse(&["--smtp-url=smtp://u:hunter2@mail.example.com"]).err();
        assert!(alone.is_some_and(|e| e.to_string().contains("email-from")));
        let cli = parse(&[
            "--smtp-url=smtp://u:hunter2@mail.example.com",
            "--email-from=Acme <no-reply@acme.example>",
        ])
        .unwrap();
        assert!(cli.settings.email.sends());
        let shown = format!("{:?}", cli.settings);
        assert!(
            !shown.contains("hunter2") && shown.contains("mail.example.com"),
            "{shown}"
        );
        assert!(!parse(&[]).unwrap().settings.email.sends());
    }

    #[test]
    fn senders_are_mailboxes() {
        assert_eq!(
            parse_mailbox("Acme <no-reply@acme.com>").unwrap(),
            "Acme <no-reply@acme.com>"
        );
        assert!(parse_mailbox("nope").is_err());
    }
}
