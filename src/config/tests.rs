use clap::Parser;

use super::{redacted_url, Cli};

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("polis").chain(args.iter().copied()))
}

#[test]
fn every_setting_refuses_bad_values() {
    let bad: &[(&str, &str)] = &[
        ("--database-url", "mysql://db/polis"),
        ("--listen-addr", "localhost"),
        ("--kratos-public-url", "not a url"),
        ("--kratos-admin-url", "ftp://kratos:4434"),
        ("--kratos-timeout-ms", "0"),
        ("--kratos-session-cookie", "bad cookie;"),
        ("--session-cache-ttl", "-1"),
        ("--session-cache-capacity", "0"),
        ("--cors-allowed-origins", "*"),
        ("--cors-allowed-origins", "https://app.example.com/path"),
        ("--cors-allowed-origins", "app.example.com"),
        ("--cors-allowed-origins", "null"),
        ("--log-format", "xml"),
        ("--max-body-bytes", "10"),
        ("--import-max-body-bytes", "lots"),
        ("--creator-role", "admin"),
        ("--identity-traits", "email,first name"),
        ("--default-role", "org:Member"),
        ("--api-key-cache-ttl", "6"),
        ("--direct-add", "everyone"),
        ("--metrics-listen-addr", "localhost:8081"),
        ("--metrics-listen-addr", "8081"),
        ("--shutdown-timeout", "10s"),
        ("--shutdown-timeout", "3601"),
        ("--shutdown-delay", "-1"),
        ("--rate-limit-reads", "-5"),
        ("--rate-limit-writes", "ten"),
        ("--rate-limit-anonymous", "1000001"),
        ("--trusted-proxies", "11"),
        ("--db-max-connections", "0"),
        ("--db-acquire-timeout-ms", "0"),
        ("--db-statement-timeout-ms", "5s"),
        ("--instance-id", ""),
        ("--instance-id", "ins 1"),
        ("--webhooks-allow-private-urls", "maybe"),
        ("--webhook-poll-interval-ms", "0"),
        ("--webhook-lease-ms", "999"),
    ];
    for (flag, value) in bad {
        let arg = format!("{flag}={value}");
        let err = parse(&[&arg]).expect_err(&format!("{arg} was accepted"));
        assert_eq!(err.exit_code(), 2, "{flag} {value}");
        assert!(err.to_string().contains("invalid value"), "{flag}: {err}");
    }
}

#[test]
fn good_values_parse() {
    let cli = parse(&[
        "--cors-allowed-origins",
        "https://app.example.com/, http://localhost:5173",
        "--database-url",
        "postgres://db/polis",
    ])
    .unwrap();
    assert_eq!(
        cli.settings.allowed_origins(),
        ["https://app.example.com", "http://localhost:5173"]
    );
    assert!(parse(&[]).is_ok(), "the defaults are valid");
}

#[test]
fn an_empty_metrics_address_turns_the_listener_off() {
    let defaults = parse(&[]).unwrap().settings;
    assert_eq!(
        defaults.metrics_listen_addr.0,
        Some("127.0.0.1:8081".parse().unwrap())
    );
    let off = parse(&["--metrics-listen-addr", ""]).unwrap().settings;
    assert_eq!(off.metrics_listen_addr.0, None);
    let pool = defaults.pool();
    assert_eq!(pool.max_connections, None, "each backend picks its own");
    assert_eq!(
        pool.statement_timeout,
        Some(std::time::Duration::from_secs(30))
    );
    let no_timeout = parse(&["--db-statement-timeout-ms", "0"]).unwrap().settings;
    assert_eq!(no_timeout.pool().statement_timeout, None);
}

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

#[test]
fn webhook_settings_default_to_safe_values() {
    let defaults = parse(&[]).unwrap().settings.webhooks;
    assert_eq!(defaults.instance_id, "polis");
    assert!(!defaults.allow_private_urls);
    assert_eq!(
        defaults.delivery_timeout(),
        std::time::Duration::from_secs(15)
    );
    let short = parse(&["--webhook-lease-ms", "2000"])
        .unwrap()
        .settings
        .webhooks;
    assert_eq!(short.delivery_timeout(), std::time::Duration::from_secs(1));
    assert_eq!(
        defaults.poll_interval(),
        std::time::Duration::from_millis(1000)
    );
    let local = parse(&[
        "--webhooks-allow-private-urls",
        "true",
        "--instance-id",
        "ins_2abc",
    ])
    .unwrap()
    .settings
    .webhooks;
    assert!(local.allow_private_urls);
    assert_eq!(local.instance_id, "ins_2abc");
}

#[test]
fn slug_overrides_are_checked_like_any_slug() {
    let cli = parse(&[
        "import",
        "clerk",
        "--file",
        "x.json",
        "--slug-override",
        "org_1=acme-2",
        "--slug-override",
        "org_2=globex",
    ]);
    assert!(cli.is_ok(), "{cli:?}");
    for bad in ["org_1", "=acme", "org_1=Acme Two"] {
        let cli = parse(&[
            "import",
            "clerk",
            "--file",
            "x.json",
            "--slug-override",
            bad,
        ]);
        assert!(cli.is_err(), "{bad}");
    }
}
