//! The worker panel: a task that starts and reports appears with its progress and its latest report,
//! live (the page long-polls `/workers/events`), and shows its end. The
//! reports go through the host's own check, as a worker's would.

use super::*;
use openpista::memory::workers::{ReportKind, WorkerTask};
use openpista::native::container::reports::ReportBody;

fn task(id: &str) -> WorkerTask {
    WorkerTask {
        session: Some("web:panel".into()),
        ..WorkerTask::new(id, "work", "docker", 1_765_000_000_000)
    }
}

/// `#workers-list`'s item for `id` as `state|progress|text`, or null.
fn item(id: &str) -> String {
    format!(
        "(() => {{ const li = document.querySelector('#workers-list li[data-task=\"{id}\"]'); \
         if (!li || document.getElementById('workers').hidden) return null; \
         return li.dataset.state + '|' + (li.querySelector('progress')?.value ?? '-') + '|' + li.textContent; }})()"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_panel_follows_a_task_live() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let running = start_host(dir.path(), "127.0.0.1:0").await;
    let reports = running
        .reports
        .clone()
        .expect("container tasks report (they are on by default)");
    let page = chrome.open(&token_url(addr(&running), TOKEN)).await;
    wait_state(&page, "online", WAIT).await;

    let id = "5e1f00aa77c0ffee";
    reports.begin(task(id), "panel-token").unwrap();
    let report = ReportBody {
        id: "r1".into(),
        task_id: id.into(),
        kind: ReportKind::Progress,
        text: "half way through the workspace".into(),
        percent: Some(40),
        sent_ms: None,
    };
    let (status, answer) = reports.accept_report(Some("panel-token"), report);
    assert_eq!(status.as_u16(), 200, "{answer:?}");
    let shown = wait_for(
        &page,
        "the running task with its progress",
        &format!("(v => v && v.includes('40%') ? v : null)({})", item(id)),
        WAIT,
    )
    .await;
    assert_eq!(
        shown,
        Value::from("running|40|5e1f00aa running 40% · half way through the workspace")
    );

    reports.end(id, Some(0));
    let shown = wait_for(
        &page,
        "the task's end",
        &format!("(v => v && v.startsWith('ended') ? v : null)({})", item(id)),
        WAIT,
    )
    .await;
    assert_eq!(
        shown,
        Value::from("ended|40|5e1f00aa ended 40% · half way through the workspace")
    );

    chrome.close().await;
    running.stop().await;
}
