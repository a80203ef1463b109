//! Logging set-up: human-readable text or Ory-style JSON lines on stderr, filtered by
//! `RUST_LOG`. Colour only when stderr is a terminal.
//!
//! JSON lines carry Ory's field names: `time`, `level`, `msg`, `service_name`,
//! `service_version`, and every field of the enclosing spans and of the event, where a
//! dotted name nests (`http_request.method` → `"http_request": {"method": …}`). The
//! request span (see `http::observe`) gives each line of a request its `request_id` and
//! `http_request`; the access line adds `http_response`.

use std::io::{IsTerminal, Write};

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;

/// What Polis logs unless `RUST_LOG` says otherwise: one access line per request.
const DEFAULT_FILTER: &str = "info,sqlx=warn,tower_http=warn";

pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let registry = tracing_subscriber::registry().with(filter);
    // A second initialisation (tests) is harmless, so its error is ignored.
    let _ = match format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Json => registry.with(json_layer(std::io::stderr)).try_init(),
    };
}

/// The JSON-lines layer, writing each line to what `make_writer` gives.
pub fn json_layer<W>(make_writer: W) -> JsonLayer<W>
where
    W: for<'a> MakeWriter<'a> + 'static,
{
    JsonLayer { make_writer }
}

pub struct JsonLayer<W> {
    make_writer: W,
}

/// A span's fields as JSON values, kept in the span's extensions so each line of the
/// span can repeat them without formatting them again.
#[derive(Default)]
struct SpanFields(Vec<(&'static str, Value)>);

impl SpanFields {
    fn set(&mut self, name: &'static str, value: Value) {
        match self.0.iter_mut().find(|(known, _)| *known == name) {
            Some((_, slot)) => *slot = value,
            None => self.0.push((name, value)),
        }
    }
}

impl Visit for SpanFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field.name(), Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field.name(), Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.set(field.name(), Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.set(field.name(), Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field.name(), Value::from(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.set(field.name(), Value::from(format!("{value:?}")));
    }
}

impl<S, W> Layer<S> for JsonLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = SpanFields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(fields) = span.extensions_mut().get_mut::<SpanFields>() {
                values.record(fields);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut line = Map::new();
        line.insert("time".into(), Value::from(now()));
        line.insert(
            "level".into(),
            Value::from(level_name(*event.metadata().level())),
        );
        line.insert("service_name".into(), Value::from("polis"));
        line.insert(
            "service_version".into(),
            Value::from(env!("CARGO_PKG_VERSION")),
        );
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<SpanFields>() {
                    for (name, value) in &fields.0 {
                        put(&mut line, name, value.clone());
                    }
                }
            }
        }
        let mut fields = SpanFields::default();
        event.record(&mut fields);
        for (name, value) in fields.0 {
            let name = if name == "message" { "msg" } else { name };
            put(&mut line, name, value);
        }
        line.insert("target".into(), Value::from(event.metadata().target()));
        let mut bytes = serde_json::to_vec(&line).unwrap_or_default();
        bytes.push(b'\n');
        // One write per line, so lines from several threads never interleave.
        let _ = self.make_writer.make_writer().write_all(&bytes);
    }
}

/// Puts `value` at `name`, nesting one level at the first dot.
fn put(line: &mut Map<String, Value>, name: &str, value: Value) {
    match name.split_once('.') {
        Some((group, key)) => {
            let group = line
                .entry(group)
                .or_insert_with(|| Value::Object(Map::new()));
            if !group.is_object() {
                *group = Value::Object(Map::new());
            }
            if let Value::Object(group) = group {
                group.insert(key.to_owned(), value);
            }
        }
        None => {
            line.insert(name.to_owned(), value);
        }
    }
}

/// Ory's (logrus's) level names.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;

        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }

    #[test]
    fn lines_carry_ory_field_names_and_span_fields() {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::registry().with(json_layer(buffer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "request",
                request_id = "req-1",
                http_request.method = "GET",
                http_request.path = "/orgs",
                caller = tracing::field::Empty
            );
            let _entered = span.enter();
            span.record("caller", "identity:x");
            tracing::info!(
                http_response.status = 200u64,
                http_response.took = 1500u64,
                "completed handling request"
            );
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        let line: Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(line["msg"], "completed handling request");
        assert_eq!(line["level"], "info");
        assert_eq!(line["service_name"], "polis");
        assert_eq!(line["service_version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(line["request_id"], "req-1");
        assert_eq!(line["caller"], "identity:x");
        assert_eq!(line["http_request"]["method"], "GET");
        assert_eq!(line["http_request"]["path"], "/orgs");
        assert_eq!(line["http_response"]["status"], 200);
        assert_eq!(line["http_response"]["took"], 1500);
        assert!(
            chrono::DateTime::parse_from_rfc3339(line["time"].as_str().unwrap()).is_ok(),
            "{line}"
        );
    }
}
