//! The Polis under test: the `polis` binary built next to this example, run as a
//! separate process (as in production) with its logs going to a file.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;

use crate::kratos_double::KratosDouble;

/// `std::process` rather than tokio's (whose feature the service does not use): the
/// few blocking calls here are short, or moved off the runtime.
pub struct Polis {
    child: Child,
    pub addr: SocketAddr,
    pub base_url: String,
    pub admin_key: String,
    pub log: PathBuf,
}

/// How much Polis logged, to make the cost of logging visible next to the numbers.
pub struct LogVolume {
    pub lines: usize,
    pub bytes: u64,
}

/// The `polis` binary of the same profile as this example (`target/release/polis` for
/// `cargo run --release --example bench_api`). Refuses one older than the sources:
/// `cargo run --example` does not rebuild binaries, and measuring stale code is worse
/// than not measuring.
pub fn binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("cannot locate the target directory")?;
    let build = if profile_dir.ends_with("release") {
        "cargo build --release --bin polis"
    } else {
        "cargo build --bin polis"
    };
    let polis = profile_dir.join(format!("polis{}", std::env::consts::EXE_SUFFIX));
    let built = match std::fs::metadata(&polis).and_then(|m| m.modified()) {
        Ok(built) => built,
        Err(_) => anyhow::bail!("{} not found: build it first: {build}", polis.display()),
    };
    let sources = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["src", "migrations"] {
        if let Some(newer) = newer_than(&sources.join(dir), built)? {
            anyhow::bail!(
                "{} is older than {}: rebuild it first: {build}",
                polis.display(),
                newer.display()
            );
        }
    }
    Ok(polis)
}

fn newer_than(path: &Path, built: SystemTime) -> std::io::Result<Option<PathBuf>> {
    let meta = std::fs::metadata(path)?;
    if meta.is_file() {
        return Ok((meta.modified()? > built).then(|| path.to_owned()));
    }
    for entry in std::fs::read_dir(path)? {
        if let Some(newer) = newer_than(&entry?.path(), built)? {
            return Ok(Some(newer));
        }
    }
    Ok(None)
}

/// Migrates the database (as every `polis` command does) and prints a fresh admin key.
async fn create_admin_key(binary: &Path, database_url: &str) -> anyhow::Result<String> {
    let mut command = Command::new(binary);
    command
        .args(["api-keys", "create", "--name", "bench", "--scope", "admin"])
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn");
    let output = tokio::task::spawn_blocking(move || command.output())
        .await?
        .context("running polis api-keys create")?;
    anyhow::ensure!(
        output.status.success(),
        "polis api-keys create failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let key = String::from_utf8(output.stdout)?.trim().to_owned();
    anyhow::ensure!(
        key.starts_with("polis_"),
        "polis api-keys create printed no key"
    );
    Ok(key)
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Polis {
    /// Starts `polis serve` on a free port and waits until it answers `/health/ready`.
    /// `rust_log: None` leaves `RUST_LOG` unset, so Polis logs at its own default.
    pub async fn start(
        binary: &Path,
        database_url: &str,
        kratos: &KratosDouble,
        rust_log: Option<&str>,
        log: PathBuf,
    ) -> anyhow::Result<Polis> {
        let admin_key = create_admin_key(binary, database_url).await?;
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let log_file =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("POLIS_LISTEN_ADDR", addr.to_string())
            .env("KRATOS_PUBLIC_URL", kratos.public_url())
            .env("KRATOS_ADMIN_URL", kratos.admin_url())
            // W1 adds members as the session caller, as Clerk's `addMember` does.
            .env("POLIS_DIRECT_ADD", "managers")
            // One caller drives thousands of requests a second: measure the service, not
            // its rate limiter's refusals.
            .env("POLIS_RATE_LIMIT_READS", "0")
            .env("POLIS_RATE_LIMIT_WRITES", "0")
            .env("POLIS_RATE_LIMIT_ANONYMOUS", "0")
            // The metrics listener's default port may be taken by another Polis.
            .env("POLIS_METRICS_LISTEN_ADDR", "")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        match rust_log {
            Some(filter) => command.env("RUST_LOG", filter),
            None => command.env_remove("RUST_LOG"),
        };
        let child = command.spawn().context("starting polis serve")?;
        let mut polis = Polis {
            child,
            addr,
            base_url: format!("http://{addr}"),
            admin_key,
            log,
        };
        polis.wait_ready().await?;
        Ok(polis)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        let ready = format!("{}/health/ready", self.base_url);
        loop {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!(
                    "polis exited with {status} before it was ready; its log:\n{}",
                    self.log_tail()
                );
            }
            if let Ok(response) = client.get(&ready).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "polis was not ready within 60 s; its log:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<_> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Kills the process at once (SIGKILL), as a crash would (the fault run's).
    #[allow(dead_code)]
    pub fn kill(&mut self) -> std::io::Result<()> {
        self.child.kill()?;
        self.child.wait().map(drop)
    }

    /// Stops the process and says how much it logged.
    pub fn stop(mut self) -> anyhow::Result<LogVolume> {
        self.child.kill()?;
        self.child.wait()?;
        let text = std::fs::read(&self.log)?;
        Ok(LogVolume {
            lines: text.iter().filter(|&&b| b == b'\n').count(),
            bytes: text.len() as u64,
        })
    }
}

/// A failed benchmark must not leave a server behind.
impl Drop for Polis {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
