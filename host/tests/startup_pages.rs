//! `serve` lets go of its start-up code's pages once it is ready, and
//! goes on serving: the page it serves and a second request both come
//! from code faulted back in after the release.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

fn get(addr: &str, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn serve_releases_its_start_up_pages_and_keeps_serving() {
    let home = tempfile::tempdir().unwrap();
    let mut child = support::openpista(home.path())
        .arg("serve")
        .env("OPENPISTA_LOG", "warn,openpista::cli=debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx2.send(line);
        }
    });
    let mut addr = None;
    let mut released_kib = None;
    let mut seen = Vec::new();
    while addr.is_none() || released_kib.is_none() {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(120)) else {
            let _ = child.kill();
            panic!(
                "no web address or release line; output:\n{}",
                seen.join("\n")
            );
        };
        if let Some(rest) = line.split("web chat: http://").nth(1) {
            addr = rest.split('/').next().map(str::to_string);
        }
        if let Some(rest) = line.split("released ").nth(1)
            && rest.contains("KiB of start-up pages")
        {
            released_kib = rest.split(' ').next().and_then(|n| n.parse::<u64>().ok());
        }
        seen.push(line);
    }
    let addr = addr.unwrap();
    // The binary's read-only segments are many MiB.
    let released_kib = released_kib.unwrap();
    assert!(released_kib > 1024, "released only {released_kib} KiB");
    for _ in 0..2 {
        let page = get(&addr, "/");
        assert!(page.starts_with("HTTP/1.1 200"), "{page:.200}");
        assert!(page.contains("<html"), "{page:.400}");
    }
    let _ = child.kill();
    let _ = child.wait();
}
