//! One SMTP session on the sink: just enough SMTP (EHLO/HELO, STARTTLS, AUTH PLAIN,
//! MAIL, RCPT, DATA, RSET, NOOP, QUIT) to receive what Polis sends, over plain text, TLS
//! from the first byte, or plain text upgraded by STARTTLS.

use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::{tls, Received, Security, Shared};

/// Serves one connection as `security` says.
pub async fn serve(stream: TcpStream, security: Security, shared: Arc<Shared>) {
    match security {
        Security::Plain => {
            let _ = dialogue(stream, Phase::PLAIN, &shared).await;
        }
        Security::Tls => {
            if let Some(stream) = handshake(stream, &shared).await {
                let _ = dialogue(stream, Phase::ENCRYPTED, &shared).await;
            }
        }
        Security::StartTls => {
            let Some(stream) = dialogue(stream, Phase::OFFERING_STARTTLS, &shared).await else {
                return;
            };
            if let Some(stream) = handshake(stream, &shared).await {
                // RFC 3207: no new greeting; the client starts over with EHLO.
                let phase = Phase {
                    greet: false,
                    ..Phase::ENCRYPTED
                };
                let _ = dialogue(stream, phase, &shared).await;
            }
        }
    }
}

async fn handshake(
    stream: TcpStream,
    shared: &Shared,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    match tls::acceptor().accept(stream).await {
        Ok(stream) => Some(stream),
        Err(err) => {
            shared.note(format!("handshake failed: {err}"));
            None
        }
    }
}

/// Where a dialogue stands on encryption.
#[derive(Clone, Copy)]
struct Phase {
    /// Whether the connection is encrypted (recorded with each command and message).
    tls: bool,
    /// Whether EHLO offers STARTTLS (and STARTTLS is honoured).
    offer_starttls: bool,
    /// Whether to send the 220 greeting first.
    greet: bool,
}

impl Phase {
    const PLAIN: Phase = Phase {
        tls: false,
        offer_starttls: false,
        greet: true,
    };
    const OFFERING_STARTTLS: Phase = Phase {
        offer_starttls: true,
        ..Phase::PLAIN
    };
    const ENCRYPTED: Phase = Phase {
        tls: true,
        ..Phase::PLAIN
    };
}

/// What the client asked for so far in this dialogue. STARTTLS starts a new dialogue,
/// so nothing said before the upgrade carries over (RFC 3207 §4.2).
#[derive(Default)]
struct Envelope {
    greeted: bool,
    from: Option<String>,
    to: Vec<String>,
}

enum Next {
    Reply(&'static str),
    Data,
    StartTls,
    Quit,
}

/// Runs commands until the client quits or leaves (`None`), or asks for STARTTLS
/// (the stream back, to be upgraded).
async fn dialogue<S>(stream: S, phase: Phase, shared: &Shared) -> Option<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut conn = BufReader::new(stream);
    if phase.greet {
        conn.write_all(b"220 sink.test ESMTP\r\n").await.ok()?;
    }
    let mut envelope = Envelope::default();
    let mut line = String::new();
    loop {
        line.clear();
        if conn.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let command = line.trim_end();
        let verb = command
            .split([' ', ':'])
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        shared.note(if phase.tls {
            format!("tls {verb}")
        } else {
            verb.clone()
        });
        match respond(&verb, command, phase, &mut envelope) {
            Next::Reply(reply) => conn.write_all(reply.as_bytes()).await.ok()?,
            Next::Data => receive(&mut conn, phase, &mut envelope, shared).await?,
            Next::StartTls => {
                conn.write_all(b"220 go ahead\r\n").await.ok()?;
                // Anything sent after STARTTLS but before the handshake would be
                // plain text smuggled into the encrypted session: refuse it.
                return conn.buffer().is_empty().then(|| conn.into_inner());
            }
            Next::Quit => {
                let _ = conn.write_all(b"221 bye\r\n").await;
                // Over TLS this sends close_notify, so the client sees a clean end.
                let _ = conn.shutdown().await;
                return None;
            }
        }
    }
}

fn respond(verb: &str, command: &str, phase: Phase, envelope: &mut Envelope) -> Next {
    match verb {
        "EHLO" if phase.offer_starttls => {
            envelope.greeted = true;
            Next::Reply("250-sink.test\r\n250-8BITMIME\r\n250-STARTTLS\r\n250-AUTH PLAIN\r\n250 SMTPUTF8\r\n")
        }
        "EHLO" => {
            envelope.greeted = true;
            Next::Reply("250-sink.test\r\n250-8BITMIME\r\n250-AUTH PLAIN\r\n250 SMTPUTF8\r\n")
        }
        "HELO" => {
            envelope.greeted = true;
            Next::Reply("250 ok\r\n")
        }
        "STARTTLS" if phase.offer_starttls => Next::StartTls,
        "NOOP" => Next::Reply("250 ok\r\n"),
        // Any credentials do; the transcript shows whether they travelled encrypted.
        "AUTH" => Next::Reply("235 ok\r\n"),
        "RSET" => {
            (envelope.from, envelope.to) = (None, Vec::new());
            Next::Reply("250 ok\r\n")
        }
        "MAIL" if !envelope.greeted => Next::Reply("503 EHLO first\r\n"),
        "MAIL" => {
            envelope.from = Some(address(command));
            Next::Reply("250 ok\r\n")
        }
        "RCPT" if envelope.from.is_none() => Next::Reply("503 MAIL first\r\n"),
        "RCPT" => {
            envelope.to.push(address(command));
            Next::Reply("250 ok\r\n")
        }
        "DATA" if envelope.to.is_empty() => Next::Reply("503 RCPT first\r\n"),
        "DATA" => Next::Data,
        "QUIT" => Next::Quit,
        _ => Next::Reply("502 not implemented\r\n"),
    }
}

/// Takes one message after DATA and records it.
async fn receive<S>(
    conn: &mut BufReader<S>,
    phase: Phase,
    envelope: &mut Envelope,
    shared: &Shared,
) -> Option<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    conn.write_all(b"354 end with .\r\n").await.ok()?;
    let raw = read_data(conn).await?;
    let from = envelope.from.take().unwrap_or_default();
    let to = std::mem::take(&mut envelope.to);
    shared
        .messages
        .lock()
        .unwrap()
        .push(parse(from, to, raw, phase.tls));
    conn.write_all(b"250 queued\r\n").await.ok()
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

fn parse(mail_from: String, rcpt_to: Vec<String>, raw: String, tls: bool) -> Received {
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
        tls,
        raw,
    }
}
