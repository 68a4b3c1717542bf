//! Traces received by a local OTLP/HTTP receiver: the span tree of a turn
//! with a tool call, with the GenAI attributes, checked against the
//! OpenTelemetry protobuf schema (Python's `opentelemetry-proto`), and no
//! message content unless the operator opts in.

use super::{Served, Setup, TOKEN};
use openpista_tests::doubles::openai::{OpenAiDouble, Reply};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A word that would show if message content were exported.
const MARKER: &str = "zebra-content-marker";

/// An OTLP/HTTP receiver on 127.0.0.1: records the body of every
/// `POST /v1/traces` and answers 200.
struct Receiver {
    addr: std::net::SocketAddr,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let kept = bodies.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if line.trim().is_empty() {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let ok = request_line.starts_with("POST /v1/traces ");
                if ok {
                    kept.lock().unwrap().push(String::from_utf8(body).unwrap());
                }
                let status = if ok { "200 OK" } else { "404 Not Found" };
                let _ = stream.write_all(
                    format!("HTTP/1.1 {status}\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{{}}")
                        .as_bytes(),
                );
            }
        });
        Receiver { addr, bodies }
    }

    /// Every span received so far.
    fn spans(&self) -> Vec<Value> {
        self.bodies
            .lock()
            .unwrap()
            .iter()
            .flat_map(|body| {
                let v: Value = serde_json::from_str(body).unwrap();
                let mut spans = Vec::new();
                for rs in v["resourceSpans"].as_array().unwrap() {
                    for ss in rs["scopeSpans"].as_array().unwrap() {
                        spans.extend(ss["spans"].as_array().unwrap().iter().cloned());
                    }
                }
                spans
            })
            .collect()
    }

    /// Waits until `enough` holds for the spans received.
    fn wait_for(&self, enough: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let spans = self.spans();
            if enough(&spans) {
                return spans;
            }
            assert!(Instant::now() < deadline, "spans so far: {spans:#?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A span's attributes as plain JSON values.
fn attributes(span: &Value) -> BTreeMap<String, Value> {
    span["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let v = &a["value"];
            let plain = v
                .get("stringValue")
                .or_else(|| v.get("intValue"))
                .or_else(|| v.get("boolValue"))
                .or_else(|| v.get("doubleValue"))
                .cloned()
                .unwrap();
            (a["key"].as_str().unwrap().to_string(), plain)
        })
        .collect()
}

fn named<'a>(spans: &'a [Value], name: &str) -> Vec<&'a Value> {
    spans.iter().filter(|s| s["name"] == name).collect()
}

/// Each body parsed into `ExportTraceServiceRequest` by the
/// OpenTelemetry protobuf package, unknown fields refused.
fn check_schema(bodies: &[String]) {
    const SCRIPT: &str = r#"
import json, sys
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
for body in json.load(sys.stdin):
    json_format.Parse(body, ExportTraceServiceRequest(), ignore_unknown_fields=False)
print("ok")
"#;
    let out = super::python(SCRIPT, &serde_json::to_string(bodies).unwrap());
    assert!(
        out.status.success(),
        "the OTLP schema refused a batch (pip install opentelemetry-proto): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn setup(double: &OpenAiDouble, receiver: &Receiver, capture: bool) -> Setup {
    Setup::new(
        Some(&double.base_url()),
        "sk-ops-traces",
        &format!(
            "[telemetry]\notlp_endpoint = \"http://{}\"\ncapture_content = {capture}\n",
            receiver.addr
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_with_a_tool_call_is_one_trace_with_the_gen_ai_attributes() {
    let receiver = Receiver::start();
    let double = OpenAiDouble::start().await;
    double.push(Reply::stream_tool_calls(&[(
        "call_7",
        "text__stats",
        &["{\"text\": \"a b\"}"],
    )]));
    double.push(Reply::stream_text(&["two words"]));
    let setup = setup(&double, &receiver, false);
    // The log level does not decide whether spans are exported.
    let served = Served::start(&setup, &["--log-level", "error"]);
    let answer = openpista_tests::web_chat(
        served.addr,
        TOKEN,
        "trace-client",
        &format!("count these {MARKER}"),
    )
    .await;
    assert_eq!(answer, "two words");

    let spans = receiver.wait_for(|s| {
        named(s, "invoke_agent openpista").len() == 1
            && named(s, "chat gpt-test").len() == 2
            && named(s, "execute_tool text.stats").len() == 1
    });
    let turn = named(&spans, "invoke_agent openpista")[0];
    let attrs = attributes(turn);
    assert_eq!(attrs["gen_ai.operation.name"], "invoke_agent");
    assert!(
        attrs["gen_ai.conversation.id"]
            .as_str()
            .unwrap()
            .starts_with("web:"),
        "{attrs:?}"
    );
    assert!(turn.get("parentSpanId").is_none(), "the turn is the root");
    let trace = turn["traceId"].as_str().unwrap();
    assert_eq!(trace.len(), 32);

    let chats = named(&spans, "chat gpt-test");
    let mut inputs = Vec::new();
    for chat in &chats {
        assert_eq!(chat["traceId"], trace);
        assert_eq!(chat["parentSpanId"], turn["spanId"]);
        assert_eq!(chat["kind"], 3, "a client span");
        let a = attributes(chat);
        assert_eq!(a["gen_ai.system"], "openai");
        assert_eq!(a["gen_ai.request.model"], "gpt-test");
        assert_eq!(a["gen_ai.operation.name"], "chat");
        inputs.push((
            a["gen_ai.usage.input_tokens"].as_str().unwrap().to_string(),
            a["gen_ai.response.finish_reasons"]
                .as_str()
                .unwrap()
                .to_string(),
        ));
        let (start, end) = (
            chat["startTimeUnixNano"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap(),
            chat["endTimeUnixNano"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap(),
        );
        assert!(start > 0 && end >= start);
    }
    inputs.sort();
    assert_eq!(
        inputs,
        [
            ("5".to_string(), "stop".to_string()),
            ("8".to_string(), "tool_calls".to_string())
        ]
    );

    let tool = named(&spans, "execute_tool text.stats")[0];
    assert_eq!(tool["parentSpanId"], turn["spanId"]);
    let a = attributes(tool);
    assert_eq!(
        (&a["gen_ai.tool.name"], &a["gen_ai.tool.call.id"]),
        (&Value::from("text.stats"), &Value::from("call_7"))
    );
    assert!(!a.contains_key("error.type"), "{a:?}");

    let bodies = receiver.bodies.lock().unwrap().clone();
    assert!(
        bodies.iter().all(|b| !b.contains(MARKER)),
        "no message content without capture_content"
    );
    check_schema(&bodies);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_is_exported_only_when_the_operator_opts_in() {
    let receiver = Receiver::start();
    let double = OpenAiDouble::start().await;
    double.push(Reply::stream_text(&["the answer"]));
    let setup = setup(&double, &receiver, true);
    let served = Served::start(&setup, &[]);
    let answer = openpista_tests::web_chat(served.addr, TOKEN, "capture-client", MARKER).await;
    assert_eq!(answer, "the answer");
    let spans = receiver.wait_for(|s| named(s, "invoke_agent openpista").len() == 1);
    let a = attributes(named(&spans, "invoke_agent openpista")[0]);
    let input: Value = serde_json::from_str(a["gen_ai.input.messages"].as_str().unwrap()).unwrap();
    assert_eq!(input[0]["parts"][0]["content"], MARKER);
    let output: Value =
        serde_json::from_str(a["gen_ai.output.messages"].as_str().unwrap()).unwrap();
    assert_eq!(output[0]["role"], "assistant");
    assert_eq!(output[0]["parts"][0]["content"], "the answer");
}
