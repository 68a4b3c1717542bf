//! Running a program under a deadline: its own process group (so the
//! deadline kills every child, not only the shell), captured output with a
//! cap, and exit code or signal. `system.run`, the container fallback and
//! subprocess skills all run through here.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// What to run.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    pub program: String,
    pub args: Vec<String>,
    pub cwd: Option<PathBuf>,
    /// The complete environment: nothing of the host's is inherited.
    pub env: Vec<(String, String)>,
    /// Written to stdin, which is then closed; stdin is empty otherwise.
    pub stdin: Option<Vec<u8>>,
    pub timeout: Duration,
    /// Characters kept per stream (more are counted, not kept).
    pub keep_chars: usize,
}

/// One captured stream.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    /// The first bytes, decoded (invalid UTF-8 replaced).
    pub text: String,
    /// Characters the program wrote in all.
    pub total_chars: usize,
}

/// How the program ended.
#[derive(Debug, Clone)]
pub struct ProcessOutput {
    pub stdout: Captured,
    pub stderr: Captured,
    /// The exit code, when it exited by itself.
    pub exit_code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
    /// The deadline passed and the process group was killed.
    pub timed_out: bool,
    pub elapsed: Duration,
}

/// Kills a process group when dropped, so a cancelled call (the turn was
/// dropped, the host is shutting down) leaves nothing running.
struct GroupGuard(Option<i32>);

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(pgid) = self.0.take() {
            // SAFETY: killpg has no memory-safety preconditions; a stale
            // group id only makes it fail with ESRCH.
            unsafe {
                libc::killpg(pgid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads `stream` to its end, keeping the first `keep_chars` characters.
async fn capture(mut stream: impl AsyncRead + Unpin, keep_chars: usize) -> Captured {
    let keep_bytes = keep_chars.saturating_mul(4).saturating_add(4);
    let mut kept = Vec::new();
    let mut total_chars = 0usize;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        // A character starts at every byte that is not a UTF-8 continuation.
        total_chars += chunk.iter().filter(|b| (**b & 0xC0) != 0x80).count();
        if kept.len() < keep_bytes {
            let room = keep_bytes - kept.len();
            kept.extend_from_slice(&chunk[..room.min(n)]);
        }
    }
    let text: String = String::from_utf8_lossy(&kept)
        .chars()
        .take(keep_chars)
        .collect();
    Captured { text, total_chars }
}

/// Runs `spec` to its end or its deadline.
pub async fn run(spec: &ProcessSpec) -> std::io::Result<ProcessOutput> {
    let started = Instant::now();
    let mut command = tokio::process::Command::new(&spec.program);
    command
        .args(&spec.args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = &spec.cwd {
        command.current_dir(dir);
    }
    let mut child = command.spawn()?;
    let mut guard = GroupGuard(child.id().map(|p| p as i32));
    if let (Some(input), Some(mut stdin)) = (spec.stdin.clone(), child.stdin.take()) {
        // A program that never reads stdin must not block us: write in
        // the background and ignore a closed pipe.
        tokio::spawn(async move {
            let _ = stdin.write_all(&input).await;
            let _ = stdin.shutdown().await;
        });
    }
    let stdout = tokio::spawn(capture(
        child.stdout.take().expect("piped"),
        spec.keep_chars,
    ));
    let stderr = tokio::spawn(capture(
        child.stderr.take().expect("piped"),
        spec.keep_chars,
    ));

    let (status, timed_out) = match tokio::time::timeout(spec.timeout, child.wait()).await {
        Ok(status) => (status?, false),
        Err(_) => {
            guard.kill();
            (child.wait().await?, true)
        }
    };
    // The shell has ended; children it left behind may still hold the
    // pipes open. Give them a moment, then end the group so the call
    // returns. A child that left the group (setsid) and kept the pipes
    // loses its output after a last second.
    let (abort_out, abort_err) = (stdout.abort_handle(), stderr.abort_handle());
    let readers = async {
        (
            stdout.await.unwrap_or_default(),
            stderr.await.unwrap_or_default(),
        )
    };
    tokio::pin!(readers);
    let (stdout, stderr) =
        match tokio::time::timeout(Duration::from_millis(250), &mut readers).await {
            Ok(streams) => streams,
            Err(_) => {
                guard.kill();
                match tokio::time::timeout(Duration::from_secs(1), &mut readers).await {
                    Ok(streams) => streams,
                    Err(_) => {
                        abort_out.abort();
                        abort_err.abort();
                        readers.await
                    }
                }
            }
        };
    // Every holder of the pipes is gone; the group id may be reused now.
    guard.0 = None;
    use std::os::unix::process::ExitStatusExt;
    Ok(ProcessOutput {
        stdout,
        stderr,
        exit_code: status.code(),
        signal: status.signal(),
        timed_out,
        elapsed: started.elapsed(),
    })
}

/// `text` cut to `keep` characters with a marker saying how much was cut;
/// `total` is how many characters there were in all.
pub fn with_marker(text: &str, total: usize, keep: usize) -> String {
    if total <= keep && text.chars().count() >= total {
        return text.to_string();
    }
    let shown: String = text.chars().take(keep).collect();
    let count = shown.chars().count();
    format!(
        "{shown}\n[output cut: showing {count} of {total} characters, {} omitted]",
        total - count
    )
}

/// Stdout and stderr in one text of at most `limit` characters (plus the
/// markers): stderr keeps at least a quarter of the room when both are long.
pub fn render(output: &ProcessOutput, limit: usize) -> String {
    let (out, err) = (&output.stdout, &output.stderr);
    let (out_keep, err_keep) = if out.total_chars + err.total_chars <= limit {
        (out.total_chars, err.total_chars)
    } else {
        let err_keep = err
            .total_chars
            .min(limit / 4)
            .max(limit.saturating_sub(out.total_chars));
        let err_keep = err_keep.min(err.total_chars);
        (limit - err_keep, err_keep)
    };
    let mut text = String::new();
    if output.timed_out {
        text.push_str(&format!(
            "timed out after {:.1} s: the process group was killed\n",
            output.elapsed.as_secs_f64()
        ));
    }
    match (output.exit_code, output.signal) {
        (Some(code), _) => text.push_str(&format!("exit code: {code}\n")),
        (None, Some(sig)) => text.push_str(&format!("killed by signal {sig}\n")),
        (None, None) => {}
    }
    if out.total_chars > 0 {
        text.push_str("--- stdout ---\n");
        text.push_str(&with_marker(&out.text, out.total_chars, out_keep));
        if !text.ends_with('\n') {
            text.push('\n');
        }
    }
    if err.total_chars > 0 {
        text.push_str("--- stderr ---\n");
        text.push_str(&with_marker(&err.text, err.total_chars, err_keep));
        if !text.ends_with('\n') {
            text.push('\n');
        }
    }
    if out.total_chars == 0 && err.total_chars == 0 {
        text.push_str("(no output)\n");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(script: &str, timeout_ms: u64) -> ProcessSpec {
        ProcessSpec {
            program: "bash".into(),
            args: vec!["-c".into(), script.into()],
            cwd: None,
            env: vec![("PATH".into(), std::env::var("PATH").unwrap_or_default())],
            stdin: None,
            timeout: Duration::from_millis(timeout_ms),
            keep_chars: 100,
        }
    }

    #[tokio::test]
    async fn exit_code_output_and_signal() {
        let o = run(&spec("echo out; echo err >&2; exit 3", 5000))
            .await
            .unwrap();
        assert_eq!(o.exit_code, Some(3));
        assert_eq!(o.stdout.text, "out\n");
        assert_eq!(o.stderr.text, "err\n");
        assert!(!o.timed_out);
        let o = run(&spec("kill -TERM $$", 5000)).await.unwrap();
        assert_eq!((o.exit_code, o.signal), (None, Some(libc::SIGTERM)));
    }

    #[tokio::test]
    async fn long_output_is_counted_not_kept() {
        let o = run(&spec("head -c 100000 /dev/zero | tr '\\0' x", 5000))
            .await
            .unwrap();
        assert_eq!(o.stdout.total_chars, 100_000);
        assert_eq!(o.stdout.text.len(), 100);
        let shown = render(&o, 50);
        assert!(
            shown.contains("[output cut: showing 50 of 100000 characters, 99950 omitted]"),
            "{shown}"
        );
    }

    #[tokio::test]
    async fn stdin_is_given_and_env_is_only_what_was_set() {
        let mut s = spec("cat; echo \"[${HOME:-unset}]\"", 5000);
        s.stdin = Some(b"{\"a\":1}".to_vec());
        let o = run(&s).await.unwrap();
        assert_eq!(o.stdout.text, "{\"a\":1}[unset]\n");
    }

    #[tokio::test]
    async fn a_background_child_does_not_hold_the_call() {
        let started = Instant::now();
        let o = run(&spec("sleep 30 & echo started", 10_000)).await.unwrap();
        assert_eq!(o.exit_code, Some(0));
        assert_eq!(o.stdout.text, "started\n");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn render_shares_the_room_and_marks_cuts() {
        let long = |n: usize| Captured {
            text: "a".repeat(n.min(400)),
            total_chars: n,
        };
        let o = ProcessOutput {
            stdout: long(1000),
            stderr: long(1000),
            exit_code: Some(1),
            signal: None,
            timed_out: false,
            elapsed: Duration::ZERO,
        };
        let text = render(&o, 400);
        assert!(text.starts_with("exit code: 1\n--- stdout ---\n"));
        assert!(
            text.contains("showing 300 of 1000 characters, 700 omitted"),
            "{text}"
        );
        assert!(
            text.contains("showing 100 of 1000 characters, 900 omitted"),
            "{text}"
        );
        let short = ProcessOutput {
            stdout: long(10),
            stderr: Captured::default(),
            ..o
        };
        assert!(!render(&short, 400).contains("output cut"));
    }
}
