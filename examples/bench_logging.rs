//! What Polis's per-request middleware costs, logging included: requests go through the
//! real middleware stack (`polis::http::with_middleware`: request id, span, access line,
//! metrics, CORS, rate-limit checks) to a trivial handler, in one thread, with the log
//! filter at `warn` (no access line), and at `info` with text and with JSON lines
//! written to a file. It prints nanoseconds per request for each, and the access line's
//! cost (info minus warn) next to the Polis CPU one R1 request takes (0.42 ms in
//! bench_api on the shared 2-core machine; pass another figure with `--r1-cpu-ms`).
//!
//! `cargo run --release --example bench_logging`
//!
//! Measured in-process because bench_api's throughput moves by ±20% between runs on
//! the shared machine, more than the few per cent to be seen.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::routing::get;
use tower::ServiceExt;
use tracing_subscriber::layer::SubscriberExt;

const REQUESTS: u32 = 100_000;

#[derive(Clone, Copy, Debug)]
enum Mode {
    Warn,
    Text,
    Json,
}

fn subscriber(mode: Mode, log: std::fs::File) -> Box<dyn tracing::Subscriber + Send + Sync> {
    let writer = std::sync::Mutex::new(log);
    match mode {
        Mode::Warn => Box::new(
            tracing_subscriber::registry()
                .with(tracing_subscriber::EnvFilter::new("warn"))
                .with(tracing_subscriber::fmt::layer().with_writer(writer)),
        ),
        Mode::Text => Box::new(
            tracing_subscriber::registry()
                .with(tracing_subscriber::EnvFilter::new("info,sqlx=warn"))
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_ansi(false)
                        .with_writer(writer),
                ),
        ),
        Mode::Json => Box::new(
            tracing_subscriber::registry()
                .with(tracing_subscriber::EnvFilter::new("info,sqlx=warn"))
                .with(polis::telemetry::json_layer(writer)),
        ),
    }
}

async fn measure(router: &axum::Router, mode: Mode, dir: &std::path::Path) -> anyhow::Result<f64> {
    let log = std::fs::File::create(dir.join(format!("{mode:?}.log")))?;
    let _default = tracing::subscriber::set_default(subscriber(mode, log));
    let path = "/orgs/0190c0de-7a9b-7c3d-8e4f-0123456789ab/members";
    let mut best = Duration::MAX;
    // The best of three rounds: the machine is shared, and interference only adds time.
    for _ in 0..3 {
        let started = Instant::now();
        for _ in 0..REQUESTS {
            let request = axum::http::Request::get(path).body(Body::empty())?;
            let response = router.clone().oneshot(request).await?;
            anyhow::ensure!(response.status().is_success(), "{}", response.status());
        }
        best = best.min(started.elapsed());
    }
    Ok(best.as_nanos() as f64 / f64::from(REQUESTS))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let r1_cpu_ms: f64 = match std::env::args().skip_while(|a| a != "--r1-cpu-ms").nth(1) {
        Some(value) => value.parse()?,
        None => 0.42,
    };
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("polis.db").display());
    let store = polis::store::connect(&url).await?;
    let mut settings = polis::config::Settings::from_env();
    settings.database_url = url;
    // The limiter is consulted on every request (its cost is part of the figure) but
    // never refuses one.
    settings.rate_limit_anonymous = 1_000_000;
    let state = polis::AppState::new(store, settings)?;
    let routes = axum::Router::new().route(
        "/orgs/{org}/members",
        get(|| async { axum::Json(serde_json::json!({"data": [], "next_page_token": null})) }),
    );
    let router = polis::http::with_middleware(routes, state);
    let warn = measure(&router, Mode::Warn, dir.path()).await?;
    let text = measure(&router, Mode::Text, dir.path()).await?;
    let json = measure(&router, Mode::Json, dir.path()).await?;
    println!("middleware per request, {REQUESTS} requests, best of 3 rounds:");
    println!("  RUST_LOG=warn (no access line): {warn:>7.0} ns");
    for (name, ns) in [("text", text), ("json", json)] {
        let line = ns - warn;
        println!(
            "  info, {name:<4} access line:       {ns:>7.0} ns; the line costs {line:.0} ns = {:.1}% of R1's {r1_cpu_ms} ms Polis CPU",
            line / (r1_cpu_ms * 1e6) * 100.0
        );
    }
    Ok(())
}
