//! Standalone Ory Kratos double, for trying the service by hand without a real Kratos.
//!
//! ```text
//! cargo run --example kratos-double -- --public 127.0.0.1:4433 --admin 127.0.0.1:4434 \
//!     --identities seed.json
//! ```
//!
//! Options: `--public ADDR` (default `127.0.0.1:4433`), `--admin ADDR` (default
//! `127.0.0.1:4434`), `--identities FILE` (seed file, optional), `--cache-header` (emit
//! `Ory-Session-Cache-For`), `--latency-ms N` (delay every response), `--fail-with STATUS`
//! (every route answers STATUS).
//!
//! # Seed file
//!
//! ```json
//! {"identities": [
//!   {"id": "optional uuid",
//!    "traits": {"email": "alice@example.com", "first_name": "Alice", "last_name": "Ng"},
//!    "metadata_admin": {"legacy_clerk_id": "user_..."},
//!    "verified": true,
//!    "sessions": ["alice-session-token"],
//!    "cookies": ["alice-session-cookie"]}
//! ]}
//! ```
//!
//! Per identity only `traits` is required. Optional keys: `id` (default: random UUID v4),
//! `state` (`"active"` | `"inactive"`, default `"active"`), `metadata_public`,
//! `metadata_admin`, `organization_id`, `external_id`, `verified` (whether the `email` trait is a
//! verified address, default `true`) and `sessions`: every listed string becomes an active AAL1
//! session (24 h) with exactly that token, so you can call
//! `curl -H 'X-Session-Token: alice-session-token' http://127.0.0.1:4433/sessions/whoami`;
//! every string in `cookies` becomes one whose `ory_kratos_session` cookie value is exactly that
//! string, for browsers (`curl -b ory_kratos_session=alice-session-cookie …`).

#[path = "../tests/support/kratos_double.rs"]
mod kratos_double;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use kratos_double::KratosDouble;

/// Runs an in-process Ory Kratos double (public and admin API) until Ctrl-C.
#[derive(Debug, Parser)]
#[command(name = "kratos-double")]
struct Args {
    /// Address of the public API (whoami, health).
    #[arg(long, default_value = "127.0.0.1:4433")]
    public: SocketAddr,
    /// Address of the admin API (identities).
    #[arg(long, default_value = "127.0.0.1:4434")]
    admin: SocketAddr,
    /// Seed file with identities and session tokens (format in the example's docs).
    #[arg(long)]
    identities: Option<PathBuf>,
    /// Emit `Ory-Session-Cache-For` like Kratos with `cacheable_sessions` enabled.
    #[arg(long)]
    cache_header: bool,
    /// Delay every response by this many milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Answer every request with this HTTP status and a herodot error body.
    #[arg(long)]
    fail_with: Option<u16>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let seed = match &args.identities {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        ),
        None => None,
    };
    let double = KratosDouble::start_on(args.public, args.admin).await?;
    double.set_cache_header(args.cache_header);
    double.set_latency(Duration::from_millis(args.latency_ms));
    double.fail_with_status(args.fail_with);
    let seeded = match seed {
        Some(json) => double.seed_from_json(&json)?,
        None => Vec::new(),
    };

    println!("Kratos double ({})", kratos_double::KRATOS_VERSION);
    println!("  public API: {}", double.public_url());
    println!("  admin API:  {}", double.admin_url());
    if seeded.is_empty() {
        println!("  no identities (pass --identities seed.json)");
    }
    for identity in &seeded {
        let email = identity.email.as_deref().unwrap_or("(no email)");
        println!("  identity {} {email}", identity.id);
        for token in &identity.session_tokens {
            println!("    session token: {token}");
        }
        for cookie in &identity.session_cookies {
            println!("    session cookie: {cookie}");
        }
    }
    if let Some(token) = seeded.iter().flat_map(|i| &i.session_tokens).next() {
        println!(
            "Try: curl -i -H 'X-Session-Token: {token}' {}/sessions/whoami",
            double.public_url()
        );
    }
    println!("Press Ctrl-C to stop.");

    tokio::signal::ctrl_c().await?;
    double.shutdown().await;
    Ok(())
}
