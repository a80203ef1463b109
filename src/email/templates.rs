//! The e-mails' words: built-in templates (English, German, French), overridable from
//! `POLIS_EMAIL_TEMPLATES_DIR`, rendered with minijinja (Jinja2 syntax; HTML bodies are
//! auto-escaped; an unknown variable is an error).
//!
//! Layout, the same for built-ins and overrides: `<template>/<locale>/<part>`, where
//! `<template>` is `invitation` or `domain_verification_code`, `<locale>` a BCP-47 tag
//! (`en`, `de`, `fr-CA`) and `<part>` one of `subject.txt`, `body.txt`, `body.html`.
//! Each part is looked up for the message's locale, then its shorter forms (`fr-CA`,
//! `fr`), then `en`; at each step an override wins over a built-in. Every override is
//! read, compiled and rendered once with sample values when Polis starts, so a broken
//! one stops the start rather than a send.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{bail, Context};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde_json::{json, Value};

use crate::domain::email::{locale_fallbacks, normalize_locale, EmailMessage};

/// The templates, and the parts of each message.
pub const TEMPLATES: [&str; 2] = ["invitation", "domain_verification_code"];
pub const PARTS: [&str; 3] = ["subject.txt", "body.txt", "body.html"];

macro_rules! builtin {
    ($($template:literal / $locale:literal),* $(,)?) => {
        &[$(
            (concat!($template, "/", $locale, "/subject.txt"),
                include_str!(concat!("templates/", $template, "/", $locale, "/subject.txt"))),
            (concat!($template, "/", $locale, "/body.txt"),
                include_str!(concat!("templates/", $template, "/", $locale, "/body.txt"))),
            (concat!($template, "/", $locale, "/body.html"),
                include_str!(concat!("templates/", $template, "/", $locale, "/body.html"))),
        )*]
    };
}

static BUILTIN: &[(&str, &str)] = builtin!(
    "invitation" / "en",
    "invitation" / "de",
    "invitation" / "fr",
    "domain_verification_code" / "en",
    "domain_verification_code" / "de",
    "domain_verification_code" / "fr",
);

/// One e-mail as sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The compiled templates: built-ins under `builtin/…`, overrides under `custom/…`.
pub struct Templates {
    env: Environment<'static>,
    names: HashSet<String>,
}

impl Templates {
    /// The built-ins, with the overrides found in `dir` (checked here).
    pub fn load(dir: Option<&Path>) -> anyhow::Result<Templates> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        let mut names = HashSet::new();
        for (name, source) in BUILTIN {
            let name = format!("builtin/{name}");
            env.add_template_owned(name.clone(), *source)
                .with_context(|| format!("built-in e-mail template {name}"))?;
            names.insert(name);
        }
        let mut templates = Templates { env, names };
        if let Some(dir) = dir {
            let custom = templates.add_overrides(dir)?;
            templates.check(&custom)?;
        }
        Ok(templates)
    }

    /// Reads `dir/<template>/<locale>/<part>`; anything else in it is an error (a
    /// misnamed file would otherwise be ignored without a word).
    fn add_overrides(&mut self, dir: &Path) -> anyhow::Result<Vec<String>> {
        let mut added = Vec::new();
        let context = || format!("POLIS_EMAIL_TEMPLATES_DIR {}", dir.display());
        for template in read_dir(dir).with_context(context)? {
            if !TEMPLATES.contains(&template.as_str()) {
                bail!(
                    "{}: unknown template {template:?} (known: {})",
                    context(),
                    TEMPLATES.join(", ")
                );
            }
            for locale in read_dir(&dir.join(&template)).with_context(context)? {
                if normalize_locale(&locale).ok().as_deref() != Some(locale.as_str()) {
                    bail!("{}: {template}/{locale} is not a locale such as en, de or fr-CA (mind the case)", context());
                }
                for part in read_dir(&dir.join(&template).join(&locale)).with_context(context)? {
                    if !PARTS.contains(&part.as_str()) {
                        bail!(
                            "{}: {template}/{locale}/{part} is not one of {}",
                            context(),
                            PARTS.join(", ")
                        );
                    }
                    let path = dir.join(&template).join(&locale).join(&part);
                    let source = std::fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    let name = format!("custom/{template}/{locale}/{part}");
                    self.env
                        .add_template_owned(name.clone(), source)
                        .with_context(|| format!("e-mail template {}", path.display()))?;
                    self.names.insert(name.clone());
                    added.push(name);
                }
            }
        }
        Ok(added)
    }

    /// Renders every override once with sample values, so a template naming an unknown
    /// variable or filter fails now.
    fn check(&self, names: &[String]) -> anyhow::Result<()> {
        for name in names {
            let template = name.split('/').nth(1).unwrap_or_default();
            let sample = sample(template);
            self.env
                .get_template(name)
                .and_then(|t| t.render(context(&sample, "someone@example.com")))
                .with_context(|| format!("e-mail template {name} (POLIS_EMAIL_TEMPLATES_DIR)"))?;
        }
        Ok(())
    }

    /// The template for `part` of `template` in `locale`, as described above.
    fn pick(&self, template: &str, locale: Option<&str>, part: &str) -> Option<String> {
        locale_fallbacks(locale).into_iter().find_map(|locale| {
            ["custom", "builtin"]
                .into_iter()
                .map(|origin| format!("{origin}/{template}/{locale}/{part}"))
                .find(|name| self.names.contains(name))
        })
    }

    /// Renders `message` for `to` in `locale` (`None`: English).
    pub fn render(
        &self,
        message: &EmailMessage,
        to: &str,
        locale: Option<&str>,
    ) -> anyhow::Result<Rendered> {
        let context = context(message, to);
        let part = |part: &str| self.render_part(message.template(), locale, part, &context);
        Ok(Rendered {
            // One line, whatever the template's line breaks.
            subject: part("subject.txt")?
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            text: part("body.txt")?,
            html: part("body.html")?,
        })
    }

    fn render_part(
        &self,
        template: &str,
        locale: Option<&str>,
        part: &str,
        context: &minijinja::Value,
    ) -> anyhow::Result<String> {
        let name = self
            .pick(template, locale, part)
            .with_context(|| format!("no template for {template}/{part}"))?;
        // The error names the template and the kind of failure, never the values
        // (they hold the secret).
        self.env
            .get_template(&name)
            .and_then(|t| t.render(context))
            .map_err(|err| anyhow::anyhow!("rendering {name}: {}", err.kind()))
    }
}

/// The variables a message's templates see: the message's fields (`expires_at` as
/// RFC 3339), `expires_on` (`YYYY-MM-DD`, invitations), `recipient` and `template`.
fn context(message: &EmailMessage, to: &str) -> minijinja::Value {
    let mut fields = serde_json::to_value(message).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut fields {
        map.insert("recipient".into(), Value::String(to.to_owned()));
        if let EmailMessage::Invitation { expires_at, .. } = message {
            let on = expires_at.map(|at| at.format("%Y-%m-%d").to_string());
            map.insert("expires_on".into(), json!(on));
        }
    }
    minijinja::Value::from(minijinja::value::Serde(fields))
}

/// A message of `template` with made-up values.
fn sample(template: &str) -> EmailMessage {
    if template == "domain_verification_code" {
        EmailMessage::DomainVerificationCode {
            org_name: "Acme".into(),
            domain: "acme.example".into(),
            code: "000000".into(),
            expires_in_minutes: 10,
        }
    } else {
        EmailMessage::Invitation {
            org_name: "Acme".into(),
            accept_url: "https://app.example/accept?invitation_token=sample".into(),
            inviter_name: Some("Alice".into()),
            role_name: "org:member".into(),
            expires_at: Some(chrono::Utc::now()),
        }
    }
}

/// The names in `dir`, sorted (hidden files skipped).
fn read_dir(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests;
