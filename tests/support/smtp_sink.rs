//! A local SMTP server for tests: plain text (no STARTTLS, so Polis is configured with
//! `?disable_starttls=true`), speaking just enough SMTP (EHLO/HELO, MAIL, RCPT, DATA,
//! RSET, NOOP, QUIT) to receive what Polis sends, and recording each message. It can be
//! stopped (its port then refuses connections) and started again on the same port.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One message as the sink received it, parsed.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub message_id: Option<String>,
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

pub struct SmtpSink {
    addr: SocketAddr,
    messages: Arc<Mutex<Vec<Received>>>,
    task: Option<JoinHandle<()>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        SmtpSink::start_on("127.0.0.1:0".parse().expect("address"))
            .await
            .expect("bind smtp sink")
    }

    /// Listens on `addr` (port 0: any free port).
    pub async fn start_on(addr: SocketAddr) -> std::io::Result<SmtpSink> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let mut sink = SmtpSink {
            addr,
            messages: Arc::default(),
            task: None,
        };
        sink.serve(listener);
        Ok(sink)
    }

    /// `POLIS_SMTP_URL` for this sink.
    pub fn url(&self) -> String {
        format!("smtp://{}/?disable_starttls=true", self.addr)
    }

    pub fn messages(&self) -> Vec<Received> {
        self.messages.lock().unwrap().clone()
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
        let messages = self.messages.clone();
        self.task = Some(tokio::spawn(async move {
            let mut sessions = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                sessions.spawn(session(stream, messages.clone()));
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

/// One SMTP session.
async fn session(stream: TcpStream, messages: Arc<Mutex<Vec<Received>>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let _ = write.write_all(b"220 sink.test ESMTP\r\n").await;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let command = line.trim_end().to_owned();
        let verb = command
            .split([' ', ':'])
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
            "HELO" | "NOOP" => b"250 ok\r\n",
            "RSET" => {
                (from, to) = (String::new(), Vec::new());
                b"250 ok\r\n"
            }
            "MAIL" => {
                from = address(&command);
                b"250 ok\r\n"
            }
            "RCPT" => {
                to.push(address(&command));
                b"250 ok\r\n"
            }
            "DATA" => {
                let _ = write.write_all(b"354 end with .\r\n").await;
                let Some(raw) = read_data(&mut lines).await else {
                    return;
                };
                let received = parse(std::mem::take(&mut from), std::mem::take(&mut to), raw);
                messages.lock().unwrap().push(received);
                b"250 queued\r\n"
            }
            "QUIT" => {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => b"502 not implemented\r\n",
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}

/// The address in `MAIL FROM:<a>` / `RCPT TO:<a>`.
fn address(command: &str) -> String {
    let start = command.find('<').map_or(0, |i| i + 1);
    let end = command.find('>').unwrap_or(command.len());
    command[start..end].to_owned()
}

/// The message up to the lone `.` line, dot-unstuffed.
async fn read_data<R: tokio::io::AsyncBufRead + Unpin>(lines: &mut R) -> Option<String> {
    let mut raw = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        if line == ".\r\n" || line == ".\n" {
            return Some(raw);
        }
        raw.push_str(line.strip_prefix('.').unwrap_or(&line));
    }
}

fn parse(mail_from: String, rcpt_to: Vec<String>, raw: String) -> Received {
    let parsed = mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .expect("a parseable message");
    Received {
        mail_from,
        rcpt_to,
        subject: parsed.subject().unwrap_or_default().to_owned(),
        text: parsed.body_text(0).unwrap_or_default().into_owned(),
        html: parsed.body_html(0).unwrap_or_default().into_owned(),
        message_id: parsed.message_id().map(str::to_owned),
        raw,
    }
}
