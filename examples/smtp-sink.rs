//! A local SMTP server that prints what Polis sends, for trying e-mail by hand (it is the
//! sink the tests use). Plain SMTP without TLS by default:
//!
//! ```text
//! cargo run --example smtp-sink -- --listen 127.0.0.1:2525
//! POLIS_SMTP_URL='smtp://127.0.0.1:2525/?disable_starttls=true' \
//!     POLIS_EMAIL_FROM='Polis <polis@example.com>' cargo run
//! ```
//!
//! `--security starttls` offers STARTTLS and `--security tls` speaks TLS from the first
//! byte, both with a self-signed certificate (so Polis needs `?skip_ssl_verify=true`);
//! the URL to use is printed at start.
//!
//! Each message is printed as it arrives: recipients, subject and the text body (which
//! holds the invitation link or the verification code).

// The tests use the parts this example does not.
#[allow(dead_code)]
#[path = "../tests/support/smtp_sink/mod.rs"]
mod smtp_sink;

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use smtp_sink::{Security, SmtpSink};

/// Receives e-mail on a local port and prints each message until Ctrl-C.
#[derive(Debug, Parser)]
#[command(name = "smtp-sink")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:2525")]
    listen: SocketAddr,
    /// How connections are secured.
    #[arg(long, value_enum, default_value = "plain")]
    security: Mode,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Mode {
    Plain,
    Starttls,
    Tls,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let security = match args.security {
        Mode::Plain => Security::Plain,
        Mode::Starttls => Security::StartTls,
        Mode::Tls => Security::Tls,
    };
    let sink = SmtpSink::start_on(args.listen, security).await?;
    eprintln!("smtp-sink: listening; POLIS_SMTP_URL={}", sink.url());
    let mut printed = 0;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        let messages = sink.messages();
        for message in &messages[printed..] {
            println!(
                "---- to {} from {}{}",
                message.rcpt_to.join(", "),
                message.mail_from,
                if message.tls { " (over TLS)" } else { "" }
            );
            println!(
                "Subject: {}\n\n{}",
                message.subject,
                message.text.trim_end()
            );
        }
        printed = messages.len();
    }
}
