//! The reports service and the worker's client together, on a real unix
//! socket and a real database: a client that starts before the host gets
//! through once the host is up, a report sent twice is stored once, a
//! wrong token or a late report is refused for good, and the feed numbers
//! what happened.

use super::client::{Client, Queue};
use super::service::{ReportPaths, Reports, WorkerEvent};
use crate::memory::MemoryStore;
use crate::memory::workers::{ReportKind, TaskState, WorkerTask};
use std::sync::Arc;
use std::time::Duration;

fn task(id: &str) -> WorkerTask {
    WorkerTask::new(id, "work", "docker", 1)
}

struct World {
    dir: tempfile::TempDir,
    reports: Arc<Reports>,
}

fn world(grace: Duration) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::open(&dir.path().join("m.redb")).unwrap());
    let reports = Reports::new(
        store,
        ReportPaths::under(&dir.path().join("home")),
        grace,
        10,
    );
    World { dir, reports }
}

impl World {
    /// A client of task `id` whose queue only it knows (the host's own
    /// look at the queues cannot deliver for it).
    fn client(&self, id: &str, token: &str) -> Client {
        Client {
            socket: self.reports.paths().socket(),
            token: token.into(),
            task_id: id.into(),
            queue: Queue::at(self.dir.path().join(format!("queue-{id}"))),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gets_through_once_the_host_is_up_and_only_once() {
    let w = world(Duration::from_secs(60));
    w.reports.begin(task("t1"), "secret-token").unwrap();
    let client = w.client("t1", "secret-token");
    let report = client.report(ReportKind::Final, "all done".into(), Some(100));
    let id = report.id.clone();
    client.enqueue(report).unwrap();

    // No host yet: the report stays queued, with the reason.
    let first = client.flush(Duration::ZERO, None).await;
    assert_eq!(first.pending, 1);
    assert!(first.delivered.is_empty());
    assert!(
        first
            .last_error
            .as_deref()
            .unwrap()
            .contains("cannot reach the host"),
        "{first:?}"
    );

    // The client keeps trying; the host comes up meanwhile.
    let retrying = tokio::spawn({
        let client = client.clone();
        async move { client.flush(Duration::from_secs(30), None).await }
    });
    w.reports.start().await.unwrap();
    let flushed = retrying.await.unwrap();
    assert_eq!(flushed.delivered, [(id.clone(), 1, false)], "{flushed:?}");
    assert_eq!(flushed.pending, 0);
    assert!(client.queue.entries().is_empty());
    assert_eq!(w.reports.final_report("t1").as_deref(), Some("all done"));

    // The same report again: acknowledged as the first, not stored.
    let mut again = client.report(ReportKind::Final, "all done".into(), None);
    again.id = id.clone();
    client.enqueue(again).unwrap();
    let flushed = client.flush(Duration::from_secs(5), None).await;
    assert_eq!(flushed.delivered, [(id, 1, true)]);
    assert_eq!(w.reports.store().worker_reports("t1").unwrap().len(), 1);
    let task = w.reports.store().worker_task("t1").unwrap().unwrap();
    assert_eq!(
        (task.reports, task.finished, task.progress),
        (1, true, Some(100))
    );

    // A host starting collects a queue before its worker's client does;
    // the client, holding its report, still hears how it ended.
    let collected = Client {
        queue: Queue::at(w.reports.paths().queue("t1")),
        ..client.clone()
    };
    let report = collected.report(ReportKind::Progress, "more".into(), None);
    collected.enqueue(report.clone()).unwrap();
    assert_eq!(w.reports.drain(), 1);
    assert!(collected.queue.entries().is_empty());
    let flushed = collected.flush(Duration::from_secs(5), Some(&report)).await;
    assert_eq!(flushed.delivered, [(report.id, 2, true)], "{flushed:?}");
    assert_eq!(flushed.pending, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_tokens_late_reports_and_bad_bodies_are_refused_for_good() {
    let w = world(Duration::ZERO);
    w.reports.start().await.unwrap();
    w.reports.begin(task("t2"), "right").unwrap();
    w.reports.begin(task("t3"), "other").unwrap();

    // Another task's token, an unknown task: the same refusal.
    for (id, token) in [("t2", "other"), ("nope", "right")] {
        let client = w.client(id, token);
        client
            .enqueue(client.report(ReportKind::Progress, "hi".into(), None))
            .unwrap();
        let flushed = client.flush(Duration::from_secs(5), None).await;
        assert_eq!(flushed.refused.len(), 1, "{flushed:?}");
        assert!(flushed.refused[0].1.starts_with("401"), "{flushed:?}");
        let rejected = client.queue.dir().join("rejected");
        assert_eq!(
            std::fs::read_dir(&rejected).unwrap().count(),
            2,
            "report and reason"
        );
    }
    assert!(w.reports.store().worker_reports("t2").unwrap().is_empty());

    // Bodies that are not reports.
    let (status, answer) = w.reports.accept(Some("right"), b"{\"id\":");
    assert_eq!(
        (status.as_u16(), answer.ack, answer.retry),
        (400, false, false)
    );
    let body = serde_json::json!({"id": "x", "task_id": "t2", "kind": "final", "text": "", "percent": 101});
    let (status, _) = w.reports.accept(Some("right"), body.to_string().as_bytes());
    assert_eq!(status.as_u16(), 400);
    let body =
        serde_json::json!({"id": "x", "task_id": "t2", "kind": "final", "text": "", "extra": 1});
    let (status, answer) = w.reports.accept(Some("right"), body.to_string().as_bytes());
    assert_eq!(
        status.as_u16(),
        400,
        "unknown fields are refused: {answer:?}"
    );
    let body = serde_json::json!({"id": "x", "task_id": "t2", "kind": "final", "text": "no token"});
    let (status, answer) = w.reports.accept(None, body.to_string().as_bytes());
    assert_eq!((status.as_u16(), answer.retry), (401, false), "{answer:?}");

    // With no grace, a report after the end is refused.
    w.reports.end("t2", Some(0));
    std::thread::sleep(Duration::from_millis(5));
    let client = w.client("t2", "right");
    client
        .enqueue(client.report(ReportKind::Final, "late".into(), None))
        .unwrap();
    let flushed = client.flush(Duration::from_secs(5), None).await;
    assert!(flushed.refused[0].1.starts_with("410"), "{flushed:?}");
    // A report stored before the end is still acknowledged when sent
    // again after the grace (its ACK may have been lost).
    let stored =
        serde_json::json!({"id": "early", "task_id": "t3", "kind": "progress", "text": "1"});
    assert!(
        w.reports
            .accept(Some("other"), stored.to_string().as_bytes())
            .1
            .ack
    );
    w.reports.end("t3", None);
    std::thread::sleep(Duration::from_millis(5));
    let (status, answer) = w
        .reports
        .accept(Some("other"), stored.to_string().as_bytes());
    assert_eq!(
        (status.as_u16(), answer.duplicate),
        (200, true),
        "{answer:?}"
    );
    // A corrupt queue file is set aside, not retried forever.
    std::fs::write(client.queue.dir().join("0-bad.json"), "not json").unwrap();
    let flushed = client.flush(Duration::from_secs(5), None).await;
    assert_eq!((flushed.pending, flushed.attempts), (0, 0));
    assert!(client.queue.dir().join("rejected/0-bad.json").exists());
}

#[tokio::test]
async fn the_feed_numbers_events_and_says_when_some_were_missed() {
    let w = world(Duration::from_secs(60));
    let mut live = w.reports.subscribe();
    w.reports.begin(task("t4"), "tok").unwrap();
    let body = serde_json::json!({"id": "r1", "task_id": "t4", "kind": "progress", "text": "a", "percent": 5});
    let (status, answer) = w.reports.accept(Some("tok"), body.to_string().as_bytes());
    assert_eq!(status.as_u16(), 200, "{answer:?}");
    w.reports.end("t4", Some(0));

    let all = w.reports.events_after(None, 0, Duration::ZERO).await;
    assert_eq!((all.next, all.missed, all.events.len()), (3, false, 3));
    assert!(
        matches!(&all.events[0].event, WorkerEvent::Task { task } if task.state == TaskState::Running)
    );
    assert!(
        matches!(&all.events[1].event, WorkerEvent::Report { report, .. } if report.percent == Some(5))
    );
    assert_eq!(all.events[1].line, "t4 running 5% · a");
    assert!(
        matches!(&all.events[2].event, WorkerEvent::Task { task } if task.state == TaskState::Ended)
    );
    let later = w.reports.events_after(None, 1, Duration::ZERO).await;
    assert_eq!(later.events.len(), 2);
    // Nothing new: the poll waits, then answers empty.
    let idle = w
        .reports
        .events_after(None, 3, Duration::from_millis(30))
        .await;
    assert_eq!((idle.next, idle.events.len(), idle.missed), (3, 0, false));
    // A number from before a restart: everything, and `missed`.
    // A number from before a restart (beyond the latest, or of another
    // run): everything, `missed`, and at once.
    let stale = tokio::time::timeout(
        Duration::from_secs(5),
        w.reports.events_after(None, 99, Duration::from_secs(60)),
    )
    .await
    .expect("no wait");
    assert_eq!((stale.missed, stale.events.len()), (true, 3));
    let other = tokio::time::timeout(
        Duration::from_secs(5),
        w.reports
            .events_after(Some("another-run"), 1, Duration::from_secs(60)),
    )
    .await
    .expect("no wait");
    assert_eq!((other.missed, other.events.len()), (true, 3));
    assert_eq!(other.epoch, all.epoch);
    let same = w
        .reports
        .events_after(Some(&all.epoch), 2, Duration::ZERO)
        .await;
    assert_eq!((same.missed, same.events.len()), (false, 1));
    // In-process subscribers hear the same.
    assert!(matches!(live.try_recv().unwrap(), WorkerEvent::Task { .. }));
    assert!(matches!(
        live.try_recv().unwrap(),
        WorkerEvent::Report { .. }
    ));

    // A poller waiting for the next event is woken by it.
    let waiting = tokio::spawn({
        let reports = w.reports.clone();
        async move { reports.events_after(None, 3, Duration::from_secs(30)).await }
    });
    tokio::task::yield_now().await;
    w.reports.begin(task("t5"), "tok5").unwrap();
    let woken = waiting.await.unwrap();
    assert_eq!((woken.next, woken.events.len()), (4, 1));
}

#[tokio::test]
async fn a_queue_a_worker_wrote_cannot_make_the_host_follow_links() {
    let w = world(Duration::from_secs(60));
    let queue = w.reports.begin(task("t6"), "tok6").unwrap();
    let outside = w.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let victim = outside.join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    // A link posing as a report, a reason file planted as a link, a file
    // too large to be a report.
    std::os::unix::fs::symlink(&victim, queue.join("0-link.json")).unwrap();
    std::fs::create_dir_all(queue.join("rejected")).unwrap();
    std::os::unix::fs::symlink(&victim, queue.join("rejected/1-big.json.reason")).unwrap();
    let big = std::fs::File::create(queue.join("1-big.json")).unwrap();
    big.set_len(8 << 20).unwrap();
    assert_eq!(w.reports.drain(), 0);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(queue.join("0-link.json").is_symlink(), "a link is no entry");
    assert!(queue.join("rejected/1-big.json").is_file());
    let reason = queue.join("rejected/1-big.json.reason");
    assert!(!reason.is_symlink());
    assert!(
        std::fs::read_to_string(&reason)
            .unwrap()
            .contains("larger than a report")
    );

    // A `rejected` that is a link is not used: the bad file stays put.
    let other = w.reports.begin(task("t7"), "tok7").unwrap();
    std::os::unix::fs::symlink(&outside, other.join("rejected")).unwrap();
    std::fs::write(other.join("0-bad.json"), "not json").unwrap();
    assert_eq!(w.reports.drain(), 0);
    assert!(other.join("0-bad.json").exists());
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        1,
        "only the victim"
    );

    // The queue is shared with the worker, its parent is not.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&queue), 0o777);
    assert_eq!(mode(queue.parent().unwrap()), 0o700);
}
