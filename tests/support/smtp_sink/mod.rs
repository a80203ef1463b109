//! A local SMTP server for tests, recording each message it receives. It speaks plain
//! text without STARTTLS (Polis configured with `?disable_starttls=true`), plain text
//! offering STARTTLS, or TLS from the first byte (`smtps://`), with a self-signed
//! certificate made at start; each message records whether it arrived encrypted. It can
//! be stopped (its port then refuses connections) and started again on the same port.

mod session;
mod tls;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How the sink expects connections to be secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain text; EHLO offers no STARTTLS.
    Plain,
    /// Plain text; EHLO offers STARTTLS, which upgrades the connection.
    StartTls,
    /// TLS from the first byte.
    Tls,
}

/// One message as the sink received it, parsed.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub message_id: Option<String>,
    /// Whether the message came over an encrypted connection (from MAIL FROM on).
    pub tls: bool,
    pub raw: String,
}

impl Received {
    /// The first `http(s)://` link in the text body.
    pub fn link(&self) -> Option<String> {
        let start = self.text.find("http")?;
        let rest = &self.text[start..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        Some(rest[..end].to_owned())
    }

    /// The `invitation_token` of the first link.
    pub fn token(&self) -> Option<String> {
        let link = url::Url::parse(&self.link()?).ok()?;
        link.query_pairs()
            .find(|(key, _)| key == "invitation_token")
            .map(|(_, value)| value.into_owned())
    }
}

/// What the sessions share: the messages received and the transcript.
#[derive(Default)]
struct Shared {
    messages: Mutex<Vec<Received>>,
    transcript: Mutex<Vec<String>>,
}

impl Shared {
    fn note(&self, entry: String) {
        self.transcript.lock().unwrap().push(entry);
    }
}

pub struct SmtpSink {
    addr: SocketAddr,
    security: Security,
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl SmtpSink {
    /// A plain-text sink without STARTTLS on a free port.
    pub async fn start() -> SmtpSink {
        SmtpSink::start_with(Security::Plain).await
    }

    /// A sink securing connections as `security` says, on a free port.
    pub async fn start_with(security: Security) -> SmtpSink {
        SmtpSink::start_on("127.0.0.1:0".parse().expect("address"), security)
            .await
            .expect("bind smtp sink")
    }

    /// Listens on `addr` (port 0: any free port).
    pub async fn start_on(addr: SocketAddr, security: Security) -> std::io::Result<SmtpSink> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let mut sink = SmtpSink {
            addr,
            security,
            shared: Arc::default(),
            task: None,
        };
        sink.serve(listener);
        Ok(sink)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A `POLIS_SMTP_URL` that delivers to this sink: STARTTLS disabled for a plain
    /// sink, certificate checks skipped for the others (their certificate is self-signed).
    pub fn url(&self) -> String {
        match self.security {
            Security::Plain => format!("smtp://{}/?disable_starttls=true", self.addr),
            Security::StartTls => format!("smtp://{}/?skip_ssl_verify=true", self.addr),
            Security::Tls => format!("smtps://{}/?skip_ssl_verify=true", self.addr),
        }
    }

    pub fn messages(&self) -> Vec<Received> {
        self.shared.messages.lock().unwrap().clone()
    }

    /// What clients did, in order: each command's verb (`EHLO`, `STARTTLS`, `AUTH`,
    /// `MAIL`, …), prefixed `tls ` when the connection was encrypted, and `handshake
    /// failed: …` when a TLS handshake broke off. Never a command's arguments.
    pub fn transcript(&self) -> Vec<String> {
        self.shared.transcript.lock().unwrap().clone()
    }

    /// Waits until `count` messages have arrived (at most 15 s), and returns them all.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        for _ in 0..300 {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {count} e-mails, got {:?}", self.messages());
    }

    /// Stops listening: connections to the port are refused until [`Self::restart`].
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens on the same port again.
    pub async fn restart(&mut self) {
        let listener = TcpListener::bind(self.addr)
            .await
            .expect("rebind smtp sink");
        self.serve(listener);
    }

    fn serve(&mut self, listener: TcpListener) {
        let (shared, security) = (self.shared.clone(), self.security);
        self.task = Some(tokio::spawn(async move {
            let mut sessions = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                sessions.spawn(session::serve(stream, security, shared.clone()));
            }
        }));
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
