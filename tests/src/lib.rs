//! Fixtures shared by the end-to-end tests: the compiled test components
//! and helpers to install them into a plugin folder.

pub mod chrome;
pub mod doubles;
pub mod native;
pub mod nats;
pub mod release;
pub mod tmux;

use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/fixtures.rs"));

/// The built `.wasm` of fixture `package`.
pub fn wasm(package: &str) -> PathBuf {
    FIXTURES
        .iter()
        .find(|(p, _, _)| *p == package)
        .map(|(_, w, _)| PathBuf::from(w))
        .unwrap_or_else(|| panic!("no fixture {package}"))
}

/// The `manifest.toml` text of fixture `package`.
pub fn manifest(package: &str) -> String {
    let path = FIXTURES
        .iter()
        .find(|(p, _, _)| *p == package)
        .map(|(_, _, m)| PathBuf::from(m))
        .unwrap_or_else(|| panic!("no fixture {package}"));
    std::fs::read_to_string(path).unwrap()
}

/// Writes `bytes` as `dir/name.wasm` and `manifest` as `dir/name.toml`,
/// each atomically (temp file + rename), manifest first.
pub fn install(dir: &Path, name: &str, bytes: &[u8], manifest: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let write = |file: PathBuf, data: &[u8]| {
        let tmp = dir.join(format!(
            ".{}.tmp",
            file.file_name().unwrap().to_string_lossy()
        ));
        std::fs::write(&tmp, data).unwrap();
        std::fs::rename(&tmp, &file).unwrap();
    };
    write(dir.join(format!("{name}.toml")), manifest.as_bytes());
    write(dir.join(format!("{name}.wasm")), bytes);
}

/// `bytes` with a custom section appended: a different file (and content
/// hash) that behaves the same, for exercising recompiles and swaps.
pub fn with_custom_section(bytes: &[u8], label: &str) -> Vec<u8> {
    let name = b"openpista-test";
    let mut payload = Vec::new();
    leb128(&mut payload, name.len() as u64);
    payload.extend_from_slice(name);
    payload.extend_from_slice(label.as_bytes());
    let mut out = bytes.to_vec();
    out.push(0); // custom section id
    leb128(&mut out, payload.len() as u64);
    out.extend(payload);
    out
}

fn leb128(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A plain HTTP/1.1 server on 127.0.0.1 that records every request head it
/// receives and answers `200 ok`. Tests use it as the "remote host" and to
/// prove that a denied request never arrived.
pub struct Listener {
    pub addr: std::net::SocketAddr,
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    pub connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Listener {
    pub async fn start() -> Listener {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (reqs, conns) = (requests.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                conns.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let reqs = reqs.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    reqs.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&head).into_owned());
                    let _ = stream
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                        )
                        .await;
                });
            }
        });
        Listener {
            addr,
            requests,
            connections,
        }
    }

    pub fn connection_count(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Waits until `ready` holds, checking every 10 ms, and fails the test
/// naming `what` once `within` has passed.
pub async fn until(what: &str, within: std::time::Duration, mut ready: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + within;
    while !ready() {
        assert!(
            std::time::Instant::now() < deadline,
            "gave up waiting for {what} after {within:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// A runtime over one plugin folder (no embedded components), with a
/// compile cache and a memory database inside `root`.
pub fn runtime(
    root: &Path,
    secrets: &[(&str, &str)],
) -> std::sync::Arc<openpista::runtime::Runtime> {
    runtime_with(
        root,
        openpista::runtime::secrets::SecretStore::new(
            secrets
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
    )
}

/// [`runtime`] with a secret store of the test's making (with sources).
pub fn runtime_with(
    root: &Path,
    secrets: openpista::runtime::secrets::SecretStore,
) -> std::sync::Arc<openpista::runtime::Runtime> {
    use openpista::runtime::RuntimeConfig;
    let memory = openpista::memory::MemoryStore::open(&root.join("memory.redb")).unwrap();
    openpista::runtime::Runtime::new(RuntimeConfig {
        cache_dir: Some(root.join("cache")),
        plugin_dirs: vec![root.join("components")],
        embedded: false,
        secrets,
        memory: Some(std::sync::Arc::new(memory)),
        ..RuntimeConfig::default()
    })
    .unwrap()
}

/// A call context for tests.
pub fn ctx(call_id: &str) -> openpista::runtime::CallContext {
    openpista::runtime::CallContext {
        session: Some("test:1".into()),
        call_id: call_id.into(),
    }
}

/// `GET path` over plain HTTP/1.1: the status and the body.
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let (status, head, body) = http_get_full(addr, path).await;
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "GET {path}: a chunked answer is not expected here: {head}"
    );
    (status, body)
}

/// `GET path` over plain HTTP/1.1: the status, the head (status line and
/// headers, for `location` and the like) and the body.
pub async fn http_get_full(addr: std::net::SocketAddr, path: &str) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const WAIT: std::time::Duration = std::time::Duration::from_secs(20);
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: */*\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .unwrap_or_else(|_| panic!("GET {path}: no complete answer within {WAIT:?}"))
        .unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("GET {path}: not an HTTP answer: {response:?}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("GET {path}: no status in {head:?}"));
    (status, head.to_string(), body.to_string())
}

/// One message to the web chat at `addr` over its WebSocket (`/ws`, token
/// by subprotocol) as client `client`; the text of the answer.
pub async fn web_chat(addr: std::net::SocketAddr, token: &str, client: &str, text: &str) -> String {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{addr}/ws?client={client}")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        format!("openpista, token.{token}").parse().unwrap(),
    );
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(request, tcp).await.unwrap();
    let frame = serde_json::json!({"type": "message", "id": "m1", "text": text});
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .unwrap();
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(20), ws.next())
            .await
            .expect("a frame within 20 s")
            .expect("the connection is open")
            .expect("a frame");
        if let Message::Text(t) = frame {
            let v: serde_json::Value = serde_json::from_str(&t).unwrap();
            if v["type"] == "message" {
                return v["text"].as_str().unwrap().to_string();
            }
        }
    }
}

/// A configuration for a host whose files all live in `root`: plugin
/// folder `root/components`, compile cache and memory there too, plus
/// `extra` (TOML: the sections a test needs).
pub fn config_in(root: &Path, extra: &str) -> openpista::config::Config {
    let text = format!(
        "{extra}\n[runtime]\nplugin_dirs = [\"{root}/components\"]\ncache_dir = \"{root}/cache\"\n[memory]\npath = \"{root}/memory.redb\"\n",
        root = root.display()
    );
    openpista::config::Config::parse(&text, "test config").unwrap()
}

/// `[server]` on a port of its own and the web chat with its token in
/// environment variable `token_env`: the sections of an in-process host
/// that serves the web chat.
pub fn web_host_sections(token_env: &str) -> String {
    format!("[server]\nlisten = \"127.0.0.1:0\"\n[channels.web]\ntoken_env = \"{token_env}\"\n")
}
