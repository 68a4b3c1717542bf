//! Memory survives `kill -9` in the middle of a burst of writes: every
//! message whose append returned (and was acknowledged on stdout) is there
//! when the database is opened again.
//!
//! The test re-runs its own binary as the writer (env OPENPISTA_KILL_WRITER).

use openpista::memory::MemoryStore;
use openpista::memory::sessions::StoredMessage;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

fn message(i: u64) -> StoredMessage {
    StoredMessage {
        role: if i.is_multiple_of(2) {
            "user"
        } else {
            "assistant"
        }
        .into(),
        content: format!("message {i} {}", "x".repeat((i % 7) as usize * 100)),
        tool_calls: Vec::new(),
        tool_call_id: None,
        attachments: Vec::new(),
        at_ms: i,
    }
}

/// The writer: appends forever, acknowledging each append after it returns.
fn writer(path: &str) -> ! {
    let store = MemoryStore::open(std::path::Path::new(path)).unwrap();
    let mut out = std::io::stdout();
    for i in 0.. {
        store.append("burst:1", &message(i)).unwrap();
        writeln!(out, "ack {i}").unwrap();
        out.flush().unwrap();
    }
    unreachable!()
}

#[test]
fn acknowledged_messages_survive_kill_9() {
    if let Ok(path) = std::env::var("OPENPISTA_KILL_WRITER") {
        writer(&path);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("memory.redb");
    let mut acknowledged_total = 0usize;
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "acknowledged_messages_survive_kill_9",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("OPENPISTA_KILL_WRITER", &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut acked = None;
        let target = 50 + round * 37;
        while let Some(Ok(line)) = lines.next() {
            if let Some(n) = line.strip_prefix("ack ") {
                let n: u64 = n.parse().unwrap();
                acked = Some(n);
                if n >= target {
                    break;
                }
            }
        }
        // SIGKILL mid-burst: the writer is still appending.
        child.kill().unwrap();
        child.wait().unwrap();
        let acked = acked.expect("writer acknowledged nothing");
        let store = MemoryStore::open(&path).unwrap();
        let stored = store.messages("burst:1", usize::MAX).unwrap();
        // This round's writer appended after everything earlier rounds left.
        let start = stored.len().min(acknowledged_total);
        let this_round = &stored[start..];
        assert!(
            this_round.len() as u64 > acked,
            "round {round}: {} stored but {} acknowledged",
            this_round.len(),
            acked + 1
        );
        for (i, m) in this_round.iter().enumerate().take(acked as usize + 1) {
            assert_eq!(m, &message(i as u64), "round {round}, message {i}");
        }
        acknowledged_total = stored.len();
        drop(store);
    }
}
