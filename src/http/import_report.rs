//! The Clerk import's report as a streamed answer: the same JSON object a whole report
//! would be, written org by org as the import goes, so memory stays flat whatever the
//! document's size (the report of a million memberships is larger than the document).
//! `dry_run` and `orgs` come first, the totals last, once they are known.

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::Response;
use futures_util::stream;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::import::{ImportReport, OrgReport, ReportSink, RunSummary};

/// Bytes gathered before they go out: few, large writes.
const FLUSH_BYTES: usize = 64 * 1024;
/// Chunks in flight to the client: past this, the import waits for the client.
const CHUNKS_IN_FLIGHT: usize = 8;

type Chunk = Result<Bytes, std::io::Error>;

pub(super) struct StreamingSink {
    out: mpsc::Sender<Chunk>,
    began: Option<oneshot::Sender<()>>,
    buffer: Vec<u8>,
    dry_run: bool,
    orgs_written: usize,
}

/// The sink the run writes to, the answer that streams what it writes, and a signal
/// that fires when the run begins writing orgs (dropped unfired if it fails before).
pub(super) fn streamed_report(dry_run: bool) -> (StreamingSink, Response, oneshot::Receiver<()>) {
    let (out, chunks) = mpsc::channel::<Chunk>(CHUNKS_IN_FLIGHT);
    let (began, began_rx) = oneshot::channel();
    let body = stream::unfold(chunks, |mut chunks| async move {
        chunks.recv().await.map(|chunk| (chunk, chunks))
    });
    let response = Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(body))
        .expect("static headers are valid");
    let sink = StreamingSink {
        out,
        began: Some(began),
        buffer: Vec::with_capacity(FLUSH_BYTES * 2),
        dry_run,
        orgs_written: 0,
    };
    (sink, response, began_rx)
}

impl StreamingSink {
    async fn flush(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(FLUSH_BYTES * 2),
        ));
        // A client that left does not stop the run (each batch is whole either way).
        let _ = self.out.send(Ok(chunk)).await;
    }

    pub(super) fn has_begun(&self) -> bool {
        self.began.is_none()
    }

    /// Closes `orgs` and writes the rest of the report.
    pub(super) async fn finish(mut self, summary: RunSummary) {
        self.buffer.push(b']');
        let rest = report_without_orgs(summary.into_report(Vec::new()));
        for (key, value) in rest {
            self.buffer.push(b',');
            let _ = serde_json::to_writer(&mut self.buffer, &key);
            self.buffer.push(b':');
            let _ = serde_json::to_writer(&mut self.buffer, &value);
        }
        self.buffer.push(b'}');
        self.flush().await;
    }

    /// Cuts the answer short, so the client sees a broken body rather than a report
    /// that looks complete.
    pub(super) async fn fail(self) {
        let _ = self
            .out
            .send(Err(std::io::Error::other("the import failed")))
            .await;
    }
}

/// Every field of the report but the two already written.
fn report_without_orgs(report: ImportReport) -> serde_json::Map<String, Value> {
    let mut fields = match serde_json::to_value(report) {
        Ok(Value::Object(fields)) => fields,
        _ => serde_json::Map::new(),
    };
    fields.remove("dry_run");
    fields.remove("orgs");
    fields
}

#[async_trait::async_trait]
impl ReportSink for StreamingSink {
    async fn begin(&mut self) {
        self.buffer
            .extend_from_slice(format!(r#"{{"dry_run":{},"orgs":["#, self.dry_run).as_bytes());
        if let Some(began) = self.began.take() {
            let _ = began.send(());
        }
    }

    async fn org(&mut self, _seq: usize, report: OrgReport) {
        if self.orgs_written > 0 {
            self.buffer.push(b',');
        }
        self.orgs_written += 1;
        if let Err(e) = serde_json::to_writer(&mut self.buffer, &report) {
            tracing::error!(error = %e, "import report not serializable");
        }
        if self.buffer.len() >= FLUSH_BYTES {
            self.flush().await;
        }
    }
}
