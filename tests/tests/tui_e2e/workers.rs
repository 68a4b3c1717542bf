//! Workers in the terminal: attached to `serve`, the TUI shows a worker's
//! progress as it is reported (the server's `/workers/events` feed), and
//! `/workers` lists the task with its end. The worker runs as a
//! subprocess (no Docker daemon answers at the configured address) and
//! reports with the real client, `openpista worker report`, through the
//! reports socket beside serve's database.

use super::attached::Serve;
use super::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_terminal_follows_a_worker_live_and_lists_it() {
    let provider = Provider::start().await;
    let port = free_port();
    let config = format!(
        "{}\n[server]\nlisten = \"127.0.0.1:{port}\"\n[runtime]\nplugin_dirs = []\n\
         [native.container]\ndocker_host = \"unix:///nonexistent/openpista-docker.sock\"\n\
         fallback = \"subprocess\"\n\
         [[approvals.rules]]\ntool = \"container.run\"\naction = \"auto\"\n",
        provider.config()
    );
    let Some(t) = Terminal::open(&config).await else {
        return;
    };
    let serve = Serve::start(&t).await;
    let gate = t.dir().join("gate");
    let command = format!(
        "\"$OPENPISTA_CLIENT\" worker report --percent 40 'half way there' && \
         while [ ! -e '{}' ]; do sleep 0.05; done && \
         \"$OPENPISTA_CLIENT\" worker report --final 'all done'",
        gate.display()
    );
    provider.push(Reply::stream_tool_calls(&[(
        "call_w",
        "container__run",
        &[&json!({ "command": command }).to_string()],
    )]));
    provider.push(Reply::stream_text(&["The worker finished."]));

    let session = "web:tui-workers-e2e";
    let tui = t.start(&format!("-s {session}"));
    t.wait("the TUI attached to serve", STARTUP, |s| {
        status_shows(s, session, &["attached", "idle"])
    })
    .await;
    t.tmux.type_line("run the worker");
    // Live: the progress shows on the status line (cut to its width)
    // while the worker waits at its gate.
    t.wait("the worker's progress, as it is reported", WAIT, |s| {
        status_shows(s, session, &["worker", "running 40"])
    })
    .await;
    std::fs::write(&gate, "").unwrap();
    t.wait("the turn's answer", WAIT, |s| {
        s.contains("The worker finished.") && status_shows(s, session, &["idle"])
    })
    .await;

    t.tmux.type_line("/workers");
    let screen = t
        .wait("the workers panel with the ended task", WAIT, |s| {
            s.contains("Workers") && s.contains("ended, done 40% · all done")
        })
        .await;
    assert_eq!(
        rows_with(&screen, "all done").len(),
        1,
        "the task is listed once:\n{}",
        framed(&screen)
    );
    t.tmux.key("Escape");
    t.tmux.type_line("/quit");
    t.assert_exited_cleanly(tui).await;
    serve.stop().await;
}
