//! The `polis` binary as an orchestrator runs it: SIGTERM during a slow request turns
//! readiness to 503, lets the request finish and exits 0; its logs are Ory-style JSON
//! lines (or plain text) without colour codes when stderr is not a terminal.

use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, Command};

use crate::support::kratos_double::KratosDouble;

struct Running {
    child: Child,
    base: String,
    metrics: String,
    /// Every stderr line read so far.
    log: Vec<String>,
    lines: Lines<BufReader<ChildStderr>>,
}

/// Starts `polis serve` on SQLite with both listeners on free ports, and reads their
/// addresses from its start-up log.
async fn start(kratos: &KratosDouble, dir: &std::path::Path, format: &str) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_polis"))
        .arg("serve")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("polis.db").display()),
        )
        .env("POLIS_LISTEN_ADDR", "127.0.0.1:0")
        .env("POLIS_METRICS_LISTEN_ADDR", "127.0.0.1:0")
        .env("KRATOS_PUBLIC_URL", kratos.public_url())
        .env("KRATOS_ADMIN_URL", kratos.admin_url())
        .env("POLIS_LOG_FORMAT", format)
        .env("POLIS_SHUTDOWN_DELAY", "2")
        .env("POLIS_KRATOS_TIMEOUT_MS", "10000")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start polis");
    let stderr = child.stderr.take().expect("stderr");
    let mut running = Running {
        child,
        base: String::new(),
        metrics: String::new(),
        log: Vec::new(),
        lines: BufReader::new(stderr).lines(),
    };
    while running.base.is_empty() || running.metrics.is_empty() {
        let line = running.next_line().await.expect("polis exited at start-up");
        if let Some(addr) = address_in(&line) {
            if line.contains("metrics at") {
                running.metrics = format!("http://{addr}");
            } else if line.contains("listening") {
                running.base = format!("http://{addr}");
            }
        }
    }
    running
}

/// The `addr` field of a start-up line, in either format.
fn address_in(line: &str) -> Option<String> {
    if let Ok(json) = serde_json::from_str::<Value>(line) {
        return json["addr"].as_str().map(str::to_owned);
    }
    let (_, rest) = line.split_once("addr=")?;
    Some(rest.split_whitespace().next()?.to_owned())
}

impl Running {
    async fn next_line(&mut self) -> Option<String> {
        let line = tokio::time::timeout(Duration::from_secs(30), self.lines.next_line())
            .await
            .expect("polis went quiet")
            .expect("read stderr")?;
        self.log.push(line.clone());
        Some(line)
    }

    fn signal(&self, name: &str) {
        let pid = self.child.id().expect("running").to_string();
        let status = std::process::Command::new("kill")
            .args(["-s", name, &pid])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the exit, reading the rest of the log.
    async fn exit_code(mut self) -> (Option<i32>, Vec<String>) {
        while self.next_line().await.is_some() {}
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("polis did not exit")
            .expect("wait");
        (status.code(), self.log)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests_and_exits_0() {
    let kratos = KratosDouble::start().await;
    let dir = tempfile::tempdir().unwrap();
    let polis = start(&kratos, dir.path(), "json").await;
    let alice = kratos.add_identity(serde_json::json!({"email": "alice@example.com"}));
    let session = kratos.create_session(alice);
    let http = reqwest::Client::new();
    let ready = http
        .get(format!("{}/health/ready", polis.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);

    // A request that spends 3 s waiting for Kratos.
    kratos.set_latency(Duration::from_secs(3));
    let slow = http
        .get(format!("{}/orgs", polis.base))
        .bearer_auth(&session.token)
        .header("X-Request-Id", "slow-request")
        .send();
    let slow = tokio::spawn(slow);
    while kratos.whoami_calls() == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    polis.signal("TERM");

    // Draining: readiness is 503 while the listener still accepts (POLIS_SHUTDOWN_DELAY).
    let draining = http
        .get(format!("{}/health/ready", polis.base))
        .send()
        .await
        .unwrap();
    assert_eq!(draining.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        draining.json::<Value>().await.unwrap()["status"],
        "draining"
    );

    let slow = slow
        .await
        .unwrap()
        .expect("the in-flight request completed");
    assert_eq!(slow.status(), StatusCode::OK);
    assert_eq!(slow.headers()["x-request-id"], "slow-request");

    let (code, log) = polis.exit_code().await;
    assert_eq!(code, Some(0), "{log:#?}");
    assert_json_log(&log);
}

/// Every line is one JSON object with Ory's fields; the slow request's access line
/// carries its id, request and response.
fn assert_json_log(log: &[String]) {
    let lines: Vec<Value> = log
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    for line in &lines {
        for field in ["time", "level", "msg", "service_name", "service_version"] {
            assert!(line.get(field).is_some(), "{field} missing: {line}");
        }
    }
    let access = lines
        .iter()
        .find(|line| line["request_id"] == "slow-request" && line.get("http_response").is_some())
        .unwrap_or_else(|| panic!("no access line for the slow request: {log:#?}"));
    assert_eq!(access["msg"], "completed handling request");
    assert_eq!(access["http_request"]["method"], "GET");
    assert_eq!(access["http_request"]["path"], "/orgs");
    assert!(access["http_request"]["remote"]
        .as_str()
        .is_some_and(|remote| remote.starts_with("127.0.0.1:")));
    assert_eq!(access["http_response"]["status"], 200);
    assert!(access["http_response"]["took"].as_u64().unwrap() >= 3_000_000_000);
    assert!(lines.iter().any(|line| line["msg"] == "shutdown complete"));
}

/// SIGINT works the same; plain-text logs have no colour codes on a pipe, and the
/// access line names the request id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_stops_a_text_logging_polis() {
    let kratos = KratosDouble::start().await;
    let dir = tempfile::tempdir().unwrap();
    let polis = start(&kratos, dir.path(), "text").await;
    let reply = reqwest::Client::new()
        .get(format!("{}/openapi.json?token=secret-looking", polis.base))
        .header("X-Request-Id", "text-request")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    let metrics = reqwest::get(format!("{}/metrics/prometheus", polis.metrics))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .contains(r#"http_requests_total{code="200",method="GET",endpoint="/openapi.json"} 1"#),
        "{metrics}"
    );
    polis.signal("INT");
    let (code, log) = polis.exit_code().await;
    assert_eq!(code, Some(0), "{log:#?}");
    let text = log.join("\n");
    assert!(!text.contains('\u{1b}'), "colour codes on a pipe: {text}");
    assert!(
        text.lines()
            .any(|line| line.contains("request_id=text-request")
                && line.contains("completed handling request")),
        "{text}"
    );
    assert!(
        !text.contains("secret-looking"),
        "the query string was logged"
    );
}
