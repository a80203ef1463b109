//! The load generator: one HTTP/1.1 keep-alive connection per worker, each sending
//! one operation after another (closed loop), for a warm-up and then a measured
//! window. Latencies go into an HDR histogram; only operations that finish inside the
//! window count.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::StatusCode;
use hyper_util::rt::TokioIo;
use rand::SeedableRng;
use tokio::net::TcpStream;

use crate::cpu;
use crate::database::Monitor;
use crate::seed::Fixture;
use crate::workloads::{BuildOp, Credential, OpContext, Request, Workload};

#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub connections: usize,
    pub warmup: Duration,
    pub measure: Duration,
}

/// What one workload did inside its measured window.
pub struct Measured {
    pub ops: u64,
    pub requests: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Operation latencies in microseconds.
    pub latency_us: Histogram<u64>,
    pub seconds: f64,
    /// Transactions PostgreSQL committed per second in the window (PostgreSQL only).
    pub commits_per_second: Option<f64>,
    /// CPU seconds the Polis process used in the window.
    pub polis_cpu_seconds: Option<f64>,
}

impl Measured {
    pub fn rate(&self) -> f64 {
        self.ops as f64 / self.seconds
    }

    pub fn p50_ms(&self) -> f64 {
        self.latency_us.value_at_quantile(0.50) as f64 / 1000.0
    }

    pub fn p99_ms(&self) -> f64 {
        self.latency_us.value_at_quantile(0.99) as f64 / 1000.0
    }

    /// Committed transactions per request: each one a round trip at least (readers in
    /// autocommit commit once per statement).
    pub fn round_trips(&self) -> Option<f64> {
        let requests_per_second = self.requests.max(1) as f64 / self.seconds;
        self.commits_per_second.map(|c| c / requests_per_second)
    }

    /// Polis's CPU time per request, in milliseconds.
    pub fn cpu_ms_per_request(&self) -> Option<f64> {
        self.polis_cpu_seconds
            .map(|cpu| cpu * 1000.0 / self.requests.max(1) as f64)
    }
}

struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

impl Connection {
    async fn open(addr: SocketAddr) -> anyhow::Result<Connection> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to polis at {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(Connection {
            sender,
            host: addr.to_string(),
        })
    }

    /// Sends one request and reads its whole body.
    async fn send(&mut self, request: &Request) -> anyhow::Result<(StatusCode, Bytes)> {
        let mut builder = hyper::Request::builder()
            .method(request.method.clone())
            .uri(&request.path)
            .header(HOST, &self.host);
        builder = match &request.credential {
            Credential::Session(token) => builder.header("x-session-token", token),
            Credential::ApiKey(key) => builder.header(AUTHORIZATION, format!("Bearer {key}")),
        };
        let body = match &request.json_body {
            Some(json) => {
                builder = builder.header(CONTENT_TYPE, "application/json");
                Bytes::from(json.clone())
            }
            None => Bytes::new(),
        };
        self.sender.ready().await?;
        let response = self
            .sender
            .send_request(builder.body(Full::new(body))?)
            .await?;
        let status = response.status();
        Ok((status, response.into_body().collect().await?.to_bytes()))
    }
}

struct Window {
    start: Instant,
    end: Instant,
}

impl Window {
    fn contains(&self, t: Instant) -> bool {
        t >= self.start && t < self.end
    }
}

struct WorkerResult {
    ops: u64,
    requests: u64,
    errors: u64,
    first_error: Option<String>,
    latency_us: Histogram<u64>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

async fn worker(
    addr: SocketAddr,
    mut connection: Connection,
    build: BuildOp,
    fixture: Arc<Fixture>,
    mut ctx: OpContext,
    window: Arc<Window>,
) -> WorkerResult {
    let mut result = WorkerResult {
        ops: 0,
        requests: 0,
        errors: 0,
        first_error: None,
        latency_us: histogram(),
    };
    while Instant::now() < window.end {
        let requests = build(&fixture, &mut ctx);
        let began = Instant::now();
        let mut failure = None;
        // Every request of an operation is sent even after one fails: W1's remove then
        // undoes a half-done add, and the next operation starts from a clean state.
        for request in &requests {
            match connection.send(request).await {
                Ok((status, _)) if status == request.expect => {}
                Ok((status, body)) => {
                    failure.get_or_insert_with(|| {
                        format!(
                            "{} {} answered {status}: {}",
                            request.method,
                            request.path,
                            String::from_utf8_lossy(&body)
                        )
                    });
                }
                Err(err) => {
                    failure.get_or_insert_with(|| {
                        format!("{} {}: {err:#}", request.method, request.path)
                    });
                    match Connection::open(addr).await {
                        Ok(fresh) => connection = fresh,
                        Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                    }
                }
            }
        }
        let finished = Instant::now();
        if !window.contains(finished) {
            continue;
        }
        match failure {
            None => {
                let micros = finished.duration_since(began).as_micros();
                result.latency_us.saturating_record(micros as u64);
                result.ops += 1;
                result.requests += requests.len() as u64;
            }
            Some(failure) => {
                result.errors += 1;
                result.requests += requests.len() as u64;
                result.first_error.get_or_insert(failure);
            }
        }
    }
    result
}

/// Shorter windows give the commit counter too few of its ~1 s steps to be read.
pub const MIN_WINDOW_FOR_ROUND_TRIPS: Duration = Duration::from_secs(5);

/// PostgreSQL's commit rate over the window: the least-squares slope of `xact_commit`
/// sampled every 100 ms while the load runs, less the monitor's own reads. Backends
/// publish their counts at most once a second while busy, and up to 10 s after going
/// idle (PostgreSQL 15's `PGSTAT_MIN_INTERVAL`, `PGSTAT_IDLE_INTERVAL`), so the counter
/// cannot be read "after" a run without a long wait; under steady load it climbs in
/// small steps, and a slope over many samples is within a few percent for 10 s windows
/// (rough for `--quick`'s 1 s).
async fn commit_rate(monitor: &mut Monitor, window: &Window) -> anyhow::Result<f64> {
    let mut tick = tokio::time::interval_at(window.start.into(), Duration::from_millis(100));
    let mut samples = Vec::new();
    loop {
        let at = tick.tick().await.into_std();
        if at >= window.end {
            break;
        }
        let commits = monitor.xact_commit().await? as f64;
        samples.push((at.duration_since(window.start).as_secs_f64(), commits));
    }
    let n = samples.len() as f64;
    anyhow::ensure!(n >= 2.0, "the measured window is too short to sample");
    let mean_t = samples.iter().map(|s| s.0).sum::<f64>() / n;
    let mean_c = samples.iter().map(|s| s.1).sum::<f64>() / n;
    let covariance: f64 = samples
        .iter()
        .map(|(t, c)| (t - mean_t) * (c - mean_c))
        .sum();
    let variance: f64 = samples.iter().map(|(t, _)| (t - mean_t).powi(2)).sum();
    let own_reads_per_second = n / window.end.duration_since(window.start).as_secs_f64();
    Ok(covariance / variance - own_reads_per_second)
}

/// What is watched besides the responses while a workload runs.
pub struct Probes<'a> {
    pub polis_pid: u32,
    /// PostgreSQL's counters, when Polis runs on it.
    pub monitor: Option<&'a mut Monitor>,
}

/// Runs one workload against the Polis at `addr` and measures it.
pub async fn run(
    addr: SocketAddr,
    workload: &Workload,
    fixture: &Arc<Fixture>,
    plan: Plan,
    probes: Probes<'_>,
) -> anyhow::Result<Measured> {
    let mut connections = Vec::with_capacity(plan.connections);
    for _ in 0..plan.connections {
        connections.push(Connection::open(addr).await?);
    }
    let start = Instant::now() + plan.warmup;
    let window = Arc::new(Window {
        start,
        end: start + plan.measure,
    });
    let workers: Vec<_> = connections
        .into_iter()
        .enumerate()
        .map(|(index, connection)| {
            let ctx = OpContext {
                worker: index,
                rng: rand::rngs::StdRng::seed_from_u64(index as u64),
            };
            tokio::spawn(worker(
                addr,
                connection,
                workload.build,
                Arc::clone(fixture),
                ctx,
                Arc::clone(&window),
            ))
        })
        .collect();
    tokio::time::sleep_until(window.start.into()).await;
    let cpu_before = cpu::process_seconds(probes.polis_pid);
    let commits_per_second = match probes.monitor {
        Some(monitor) if plan.measure >= MIN_WINDOW_FOR_ROUND_TRIPS => {
            Some(commit_rate(monitor, &window).await?)
        }
        _ => None,
    };
    tokio::time::sleep_until(window.end.into()).await;
    let cpu_after = cpu::process_seconds(probes.polis_pid);
    let mut measured = Measured {
        ops: 0,
        requests: 0,
        errors: 0,
        first_error: None,
        latency_us: histogram(),
        seconds: plan.measure.as_secs_f64(),
        commits_per_second,
        polis_cpu_seconds: cpu_before.zip(cpu_after).map(|(b, a)| a - b),
    };
    for worker in workers {
        let result = worker.await?;
        measured.ops += result.ops;
        measured.requests += result.requests;
        measured.errors += result.errors;
        measured.latency_us.add(&result.latency_us)?;
        if measured.first_error.is_none() {
            measured.first_error = result.first_error;
        }
    }
    Ok(measured)
}
