//! Sending one rendered e-mail over SMTP with lettre (tokio, rustls with the webpki
//! roots), connected as `POLIS_SMTP_URL` says.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use uuid::Uuid;

use super::templates::Rendered;
use crate::config::{SmtpSecurity, SmtpUrl};

/// Why a send failed, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The server was unreachable, busy, or refused for now (4xx), or the exchange timed
    /// out: retried.
    Transient(String),
    /// The message can never be delivered as it is (an invalid recipient, a 5xx on the
    /// recipient): not retried.
    Permanent(String),
}

pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    timeout: Duration,
}

impl Smtp {
    pub fn new(url: &SmtpUrl, from: &str, timeout: Duration) -> anyhow::Result<Smtp> {
        let tls = || {
            TlsParameters::builder(url.host.clone())
                .dangerous_accept_invalid_certs(url.skip_ssl_verify)
                .dangerous_accept_invalid_hostnames(url.skip_ssl_verify)
                .build_rustls()
        };
        let tls = match url.security {
            SmtpSecurity::Tls => Tls::Wrapper(tls()?),
            SmtpSecurity::StartTls => Tls::Required(tls()?),
            SmtpSecurity::Plain => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&url.host)
            .port(url.port)
            .tls(tls)
            .timeout(Some(timeout));
        if let Some((user, password)) = &url.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Smtp {
            transport: builder.build(),
            from: from.parse()?,
            timeout,
        })
    }

    /// Sends `rendered` to `to`. The Message-ID is derived from the queue row's `id`, so
    /// a receiver can tell a repeat (see the at-least-once note in `email/mod.rs`).
    pub async fn send(&self, id: Uuid, to: &str, rendered: &Rendered) -> Result<(), SendError> {
        let to: Mailbox = to
            .parse()
            .map_err(|_| SendError::Permanent("the recipient is not a valid address".into()))?;
        let domain = self.from.email.domain().to_owned();
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(rendered.subject.clone())
            .message_id(Some(format!("<{id}@{domain}>")))
            .multipart(MultiPart::alternative_plain_html(
                rendered.text.clone(),
                rendered.html.clone(),
            ))
            .map_err(|err| SendError::Permanent(format!("building the message: {err}")))?;
        // lettre's timeout bounds each read and write; this bounds the whole exchange.
        match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Err(_) => Err(SendError::Transient("the SMTP exchange timed out".into())),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(classify(&err)),
        }
    }
}

/// A permanent (5xx) refusal fails the message, except for the authentication codes
/// (530, 534, 535, 538) that an operator fixes in the configuration: those are
/// retried, so the mail goes out once the setting is right.
fn classify(err: &lettre::transport::smtp::Error) -> SendError {
    let code = err.status().map(|code| code.to_string());
    let text = match &code {
        Some(code) => format!("SMTP {code}: {err}"),
        None => format!("SMTP: {err}"),
    };
    let config_issue = code.as_deref().is_some_and(|c| c.starts_with("53"));
    if err.is_permanent() && !config_issue {
        SendError::Permanent(text)
    } else {
        SendError::Transient(text)
    }
}
