//! Traces: spans of turns, provider requests and tool calls, exported to
//! an OpenTelemetry collector over OTLP/HTTP with the JSON encoding
//! (`POST {otlp_endpoint}/v1/traces`).
//!
//! The spans are ordinary `tracing` spans with the target [`TARGET`]; a
//! [`Layer`](tracing_subscriber::Layer) here turns each one into an OTLP
//! span when it closes, and a thread sends them in batches. Attribute
//! names follow the OpenTelemetry GenAI conventions (`gen_ai.system`,
//! `gen_ai.request.model`, `gen_ai.usage.input_tokens`, …); two fields
//! steer the export instead of becoming attributes: `otel.name` (the span's
//! name, which `tracing` wants static) and `otel.kind` (`client` for a
//! request to a provider). Message content is never an attribute unless
//! the operator sets `capture_content`, and every string passes the log
//! redactors, so a secret is not exported either.
//!
//! A collector runs beside the host in the usual deployment, so the
//! exporter speaks plain HTTP to it; a batch that cannot be delivered is
//! dropped with a warning rather than held in memory.

use serde::Deserialize;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The target of the spans that are exported.
pub const TARGET: &str = "openpista::otel";

/// `[telemetry]`: where traces go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetrySection {
    /// An OTLP/HTTP collector (`http://127.0.0.1:4318`); no traces when
    /// unset.
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported resource.
    pub service_name: String,
    /// Also export the messages of a turn (`gen_ai.input.messages`,
    /// `gen_ai.output.messages`). Off: traces say what happened, not what
    /// was said.
    pub capture_content: bool,
}

impl Default for TelemetrySection {
    fn default() -> Self {
        TelemetrySection {
            otlp_endpoint: None,
            service_name: "openpista".into(),
            capture_content: false,
        }
    }
}

static CAPTURE_CONTENT: AtomicBool = AtomicBool::new(false);

/// Whether spans may carry message content (`[telemetry] capture_content`
/// with an exporter running).
pub fn capture_content() -> bool {
    CAPTURE_CONTENT.load(Ordering::Relaxed)
}

/// Spans sent at most this long after they close.
const BATCH_EVERY: Duration = Duration::from_millis(500);
/// Spans waiting for the exporter before new ones are dropped.
const QUEUE: usize = 4096;

/// The layer for `section`, when it names an endpoint.
pub fn layer(section: &TelemetrySection) -> anyhow::Result<Option<OtlpLayer>> {
    let Some(endpoint) = &section.otlp_endpoint else {
        return Ok(None);
    };
    let target = Endpoint::parse(endpoint)?;
    let (tx, rx) = mpsc::sync_channel(QUEUE);
    let service = section.service_name.clone();
    std::thread::Builder::new()
        .name("otlp-export".into())
        .spawn(move || export_loop(rx, &target, &service))?;
    CAPTURE_CONTENT.store(section.capture_content, Ordering::Relaxed);
    Ok(Some(OtlpLayer { tx }))
}

/// Where batches are posted.
#[derive(Debug, Clone, PartialEq)]
struct Endpoint {
    host: String,
    port: u16,
    path: String,
}

impl Endpoint {
    fn parse(text: &str) -> anyhow::Result<Endpoint> {
        let url = url::Url::parse(text)
            .map_err(|e| anyhow::anyhow!("[telemetry] otlp_endpoint = {text:?}: {e}"))?;
        if url.scheme() != "http" {
            anyhow::bail!(
                "[telemetry] otlp_endpoint = {text:?}: only http:// (a collector beside the host) is supported"
            );
        }
        let host = url
            .host_str()
            .ok_or_else(|| anyhow::anyhow!("[telemetry] otlp_endpoint = {text:?} names no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let base = url.path().trim_end_matches('/');
        let path = if base.ends_with("/v1/traces") {
            base.to_string()
        } else {
            format!("{base}/v1/traces")
        };
        Ok(Endpoint {
            host,
            port: url.port().unwrap_or(4318),
            path,
        })
    }
}

/// A span being recorded.
#[derive(Debug, Clone)]
struct OpenSpan {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent: Option<[u8; 8]>,
    name: String,
    kind: i32,
    start_ns: u64,
    attributes: Vec<(String, Value)>,
}

/// A closed span on its way to the collector.
#[derive(Debug, Clone)]
struct Finished {
    span: OpenSpan,
    end_ns: u64,
    error: bool,
}

#[derive(Debug, Clone)]
enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    Float(f64),
}

/// `SPAN_KIND_INTERNAL` and `SPAN_KIND_CLIENT`.
const INTERNAL: i32 = 1;
const CLIENT: i32 = 3;

struct Fields<'a>(&'a mut OpenSpan);

impl Fields<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        match (field.name(), &value) {
            ("otel.name", Value::Str(name)) => self.0.name = name.clone(),
            ("otel.kind", Value::Str(kind)) => {
                self.0.kind = if kind == "client" { CLIENT } else { INTERNAL }
            }
            (name, _) => {
                self.0.attributes.retain(|(k, _)| k != name);
                self.0.attributes.push((name.to_string(), value));
            }
        }
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::Str(value.to_string()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::Int(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::Int(value.min(i64::MAX as u64) as i64));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::Float(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, Value::Str(format!("{value:?}")));
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Turns the spans of [`TARGET`] into OTLP spans.
pub struct OtlpLayer {
    tx: mpsc::SyncSender<Finished>,
}

impl<S> tracing_subscriber::Layer<S> for OtlpLayer
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().target() != TARGET {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        // The nearest exported ancestor is the parent; a span without one
        // starts a trace.
        let parent = span.scope().skip(1).find_map(|ancestor| {
            ancestor
                .extensions()
                .get::<OpenSpan>()
                .map(|p| (p.trace_id, p.span_id))
        });
        let mut open = OpenSpan {
            trace_id: parent.map_or_else(rand::random, |(t, _)| t),
            span_id: rand::random(),
            parent: parent.map(|(_, s)| s),
            name: attrs.metadata().name().to_string(),
            kind: INTERNAL,
            start_ns: now_ns(),
            attributes: Vec::new(),
        };
        attrs.record(&mut Fields(&mut open));
        span.extensions_mut().insert(open);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(open) = span.extensions_mut().get_mut::<OpenSpan>()
        {
            values.record(&mut Fields(open));
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(open) = span.extensions_mut().remove::<OpenSpan>() else {
            return;
        };
        let error = open
            .attributes
            .iter()
            .any(|(k, v)| k == "error.type" && matches!(v, Value::Str(s) if !s.is_empty()));
        // A full queue drops the span: tracing must never block a turn.
        let _ = self.tx.try_send(Finished {
            span: open,
            end_ns: now_ns(),
            error,
        });
    }
}

/// Sends what arrives in batches until the layer is gone.
fn export_loop(rx: mpsc::Receiver<Finished>, endpoint: &Endpoint, service: &str) {
    let mut batch = Vec::new();
    let mut warned = false;
    loop {
        match rx.recv_timeout(BATCH_EVERY) {
            Ok(span) => {
                batch.push(span);
                if batch.len() < 512 {
                    continue;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                if !batch.is_empty() {
                    let _ = post(endpoint, &encode(service, &batch));
                }
                return;
            }
        }
        if batch.is_empty() {
            continue;
        }
        match post(endpoint, &encode(service, &batch)) {
            Ok(()) => warned = false,
            Err(e) if !warned => {
                warned = true;
                tracing::warn!(
                    "traces not delivered to {}:{}{}: {e} (dropping them until it answers)",
                    endpoint.host,
                    endpoint.port,
                    endpoint.path
                );
            }
            Err(_) => {}
        }
        batch.clear();
    }
}

/// An `ExportTraceServiceRequest` in OTLP's JSON encoding (ids in hex,
/// 64-bit integers as strings, enums as numbers).
fn encode(service: &str, spans: &[Finished]) -> String {
    use serde_json::json;
    let value = |v: &Value| match v {
        Value::Str(s) => json!({ "stringValue": crate::telemetry::logs::redact(s) }),
        Value::Int(i) => json!({ "intValue": i.to_string() }),
        Value::Bool(b) => json!({ "boolValue": b }),
        Value::Float(f) => json!({ "doubleValue": f }),
    };
    let spans: Vec<serde_json::Value> = spans
        .iter()
        .map(|f| {
            let s = &f.span;
            let mut span = json!({
                "traceId": hex::encode(s.trace_id),
                "spanId": hex::encode(s.span_id),
                "name": s.name,
                "kind": s.kind,
                "startTimeUnixNano": s.start_ns.to_string(),
                "endTimeUnixNano": f.end_ns.max(s.start_ns).to_string(),
                "attributes": s.attributes.iter().map(|(k, v)| json!({ "key": k, "value": value(v) })).collect::<Vec<_>>(),
                "status": { "code": if f.error { 2 } else { 0 } },
            });
            if let Some(parent) = s.parent {
                span["parentSpanId"] = json!(hex::encode(parent));
            }
            span
        })
        .collect();
    json!({
        "resourceSpans": [{
            "resource": { "attributes": [
                { "key": "service.name", "value": { "stringValue": service } },
                { "key": "service.version", "value": { "stringValue": env!("CARGO_PKG_VERSION") } },
            ]},
            "scopeSpans": [{
                "scope": { "name": "openpista", "version": env!("CARGO_PKG_VERSION") },
                "spans": spans,
            }],
        }]
    })
    .to_string()
}

/// One HTTP/1.1 POST; `Ok` on a 2xx answer.
fn post(endpoint: &Endpoint, body: &str) -> Result<(), String> {
    use std::net::ToSocketAddrs;
    let addr = (endpoint.host.as_str(), endpoint.port)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("no address")?;
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        endpoint.path,
        endpoint.host,
        endpoint.port,
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body.as_bytes()))
        .map_err(|e| e.to_string())?;
    let mut answer = [0u8; 64];
    let n = stream.read(&mut answer).map_err(|e| e.to_string())?;
    let status = String::from_utf8_lossy(&answer[..n]);
    match status.split_whitespace().nth(1) {
        Some(code) if code.starts_with('2') => Ok(()),
        Some(code) => Err(format!("the collector answered {code}")),
        None => Err("no HTTP answer".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_get_the_traces_path_and_only_http() {
        let e = Endpoint::parse("http://127.0.0.1:4318").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.path.as_str()),
            ("127.0.0.1", 4318, "/v1/traces")
        );
        let e = Endpoint::parse("http://collector/otlp/v1/traces").unwrap();
        assert_eq!((e.port, e.path.as_str()), (4318, "/otlp/v1/traces"));
        assert!(Endpoint::parse("https://collector").is_err());
        assert!(Endpoint::parse("collector:4318").is_err());
    }

    #[test]
    fn spans_are_encoded_with_hex_ids_string_integers_and_their_parent() {
        let span = OpenSpan {
            trace_id: [1; 16],
            span_id: [2; 8],
            parent: Some([3; 8]),
            name: "chat gpt-test".into(),
            kind: CLIENT,
            start_ns: 10,
            attributes: vec![
                ("gen_ai.usage.input_tokens".into(), Value::Int(13)),
                ("gen_ai.system".into(), Value::Str("openai".into())),
            ],
        };
        let text = encode(
            "svc",
            &[Finished {
                span,
                end_ns: 20,
                error: true,
            }],
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let s = &v["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(s["traceId"], "01".repeat(16));
        assert_eq!(s["parentSpanId"], "03".repeat(8));
        assert_eq!(s["kind"], 3);
        assert_eq!(s["endTimeUnixNano"], "20");
        assert_eq!(s["status"]["code"], 2);
        assert_eq!(s["attributes"][0]["value"]["intValue"], "13");
        assert_eq!(
            v["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"],
            "svc"
        );
    }
}
