//! A tool component that attacks its sandbox, one tool per attack. The
//! end-to-end tests call each tool and check that the host contains it
//! while other calls keep being served.

use std::hint::black_box;

wit_bindgen::generate!({
    world: "tool",
    path: "../../../wit",
});

use exports::openpista::plugin::tools::{CallContext, Guest};
use openpista::plugin::types::{Error, ToolResult, ToolSpec};

struct Hostile;

fn spec(name: &str, description: &str) -> ToolSpec {
    ToolSpec {
        name: name.into(),
        description: description.into(),
        parameters: r#"{"type":"object"}"#.into(),
    }
}

fn ok(content: String) -> Result<ToolResult, Error> {
    Ok(ToolResult {
        content,
        is_error: false,
        attachments: Vec::new(),
    })
}

fn arg(args: &serde_json::Value, key: &str) -> String {
    args.get(key)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}

impl Guest for Hostile {
    fn list_tools() -> Vec<ToolSpec> {
        vec![
            spec(
                "hostile.echo",
                "Answers with its arguments (the well-behaved control).",
            ),
            spec("hostile.spin", "Loops forever."),
            spec("hostile.grow", "Allocates memory until something stops it."),
            spec("hostile.recurse", "Recurses without end."),
            spec("hostile.panic", "Panics."),
            spec(
                "hostile.fetch",
                "GETs `url` with optional `headers`; reports what it saw.",
            ),
            spec("hostile.read", "Reads the file at `path`."),
            spec("hostile.tcp", "Opens a raw TCP connection to `addr`."),
            spec("hostile.env", "Reports its environment and arguments."),
        ]
    }

    fn invoke(name: String, arguments: String, _context: CallContext) -> Result<ToolResult, Error> {
        let args: serde_json::Value = serde_json::from_str(&arguments)
            .map_err(|e| Error::InvalidInput(format!("arguments: {e}")))?;
        match name.as_str() {
            "hostile.echo" => ok(arguments),
            "hostile.spin" => {
                let mut i: u64 = 0;
                loop {
                    i = black_box(i.wrapping_add(1));
                }
            }
            "hostile.grow" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(black_box(vec![1u8; 1 << 20]));
                }
            }
            "hostile.recurse" => ok(if arg(&args, "stack") == "linear" {
                recurse_linear(black_box(1))
            } else {
                recurse_native(black_box(1))
            }
            .to_string()),
            "hostile.panic" => panic!("hostile panic: {}", arg(&args, "message")),
            "hostile.fetch" => ok(fetch(&arg(&args, "url"), &args)),
            "hostile.read" => match std::fs::read_to_string(arg(&args, "path")) {
                Ok(text) => ok(text),
                Err(e) => Err(Error::Denied(format!("read failed: {e}"))),
            },
            "hostile.tcp" => match std::net::TcpStream::connect(arg(&args, "addr")) {
                Ok(_) => ok("connected".into()),
                Err(e) => Err(Error::Denied(format!("connect failed: {e}"))),
            },
            "hostile.env" => ok(format!(
                "env={:?} args={:?}",
                std::env::vars().collect::<Vec<_>>(),
                std::env::args().collect::<Vec<_>>()
            )),
            other => Err(Error::NotFound(format!("no tool {other}"))),
        }
    }
}

/// Recursion whose frames live on the wasm stack (the engine's limit).
#[inline(never)]
#[allow(unconditional_recursion)] // the attack
fn recurse_native(depth: u64) -> u64 {
    black_box(recurse_native(black_box(depth + 1))) ^ depth
}

/// Recursion whose frames live in linear memory (the guest's own stack).
#[inline(never)]
#[allow(unconditional_recursion)] // the attack
fn recurse_linear(depth: u64) -> u64 {
    let pad = black_box([depth; 16]);
    recurse_linear(depth + 1) + pad[black_box(3)]
}

/// A GET through wasi:http, returning a report of everything the guest
/// could observe: status, headers and body, or the error code.
fn fetch(url: &str, args: &serde_json::Value) -> String {
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{Fields, OutgoingRequest, Scheme};

    let (scheme, rest) = match url.split_once("://") {
        Some(("http", rest)) => (Scheme::Http, rest),
        Some(("https", rest)) => (Scheme::Https, rest),
        _ => return format!("bad url {url}"),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let headers = Fields::new();
    if let Some(map) = args.get("headers").and_then(|h| h.as_object()) {
        for (k, v) in map {
            let value = v.as_str().unwrap_or_default().as_bytes().to_vec();
            if let Err(e) = headers.append(k, &value) {
                return format!("header {k}: {e:?}");
            }
        }
    }
    let request = OutgoingRequest::new(headers);
    let _ = request.set_scheme(Some(&scheme));
    let _ = request.set_authority(Some(authority));
    if request.set_path_with_query(Some(path)).is_err() {
        return format!("bad path {path}");
    }
    let future = match outgoing_handler::handle(request, None) {
        Ok(f) => f,
        Err(e) => return format!("error: {e:?}"),
    };
    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(Ok(r))) => r,
        Some(Ok(Err(e))) => return format!("error: {e:?}"),
        other => return format!("error: {other:?}"),
    };
    let mut report = format!("status {}\n", response.status());
    for (k, v) in response.headers().entries() {
        report.push_str(&format!("{k}: {}\n", String::from_utf8_lossy(&v)));
    }
    let body = response.consume().expect("body");
    let stream = body.stream().expect("stream");
    let mut bytes = Vec::new();
    while let Ok(chunk) = stream.blocking_read(64 * 1024) {
        bytes.extend(chunk);
    }
    report.push_str(&String::from_utf8_lossy(&bytes));
    report
}

export!(Hostile);
