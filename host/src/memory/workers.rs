//! Worker tasks and their reports: the history behind `openpista worker
//! list|show` and the record that lets a report arrive after its task, or
//! the host, has gone away.
//!
//! A task is stored when it starts, with the SHA-256 of its token (never
//! the token), and updated as reports arrive and when it ends. A report is
//! stored once per `(task, report id)`: the id is the worker's, chosen
//! before the first attempt to send, so a report sent again after a lost
//! answer is recognised and acknowledged without being stored twice. The
//! check and the insert share one write transaction, so two deliveries
//! racing each other cannot both count.

use super::MemoryStore;
use super::now_ms;
use anyhow::{Result, bail};
use redb::{ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

/// task id → [`WorkerTask`] (JSON).
const TASKS: TableDefinition<&str, &[u8]> = TableDefinition::new("worker_tasks");
/// (task id, arrival number) → [`WorkerReport`] (JSON).
const REPORTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("worker_reports");
/// task id → SHA-256 of its token, kept apart so the task record can be
/// shown as it is.
const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("worker_tokens");
/// (task id, report id) → arrival number: what makes delivery exactly once.
const REPORT_IDS: TableDefinition<(&str, &str), u64> = TableDefinition::new("worker_report_ids");

/// Longest report id a worker may choose.
pub const MAX_REPORT_ID: usize = 128;
/// Characters of the latest report kept on the task, for lists.
const SUMMARY_CHARS: usize = 200;

pub(super) fn create_tables(txn: &WriteTransaction) -> Result<()> {
    txn.open_table(TASKS)?;
    txn.open_table(TOKENS)?;
    txn.open_table(REPORTS)?;
    txn.open_table(REPORT_IDS)?;
    Ok(())
}

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    Running,
    /// Its container or process ended while the host watched.
    Ended,
    /// The host stopped while it ran; what became of it is unknown, but its
    /// reports are still accepted for a while.
    Interrupted,
}

impl TaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Running => "running",
            TaskState::Ended => "ended",
            TaskState::Interrupted => "interrupted",
        }
    }
}

/// One task, as the history shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerTask {
    pub task_id: String,
    /// The conversation the task runs for.
    pub session: Option<String>,
    pub command: String,
    /// The task text handed to the worker.
    pub task: Option<String>,
    pub image: Option<String>,
    /// `docker` or `subprocess`.
    pub mode: String,
    pub started_ms: u64,
    pub ended_ms: Option<u64>,
    pub state: TaskState,
    pub exit_code: Option<i64>,
    /// The latest progress figure reported, percent.
    pub progress: Option<u8>,
    /// The start of the latest report.
    pub last_report: Option<String>,
    /// Reports stored.
    pub reports: u64,
    /// A final report has arrived.
    pub finished: bool,
}

impl WorkerTask {
    /// A task that starts now, with nothing reported yet.
    pub fn new(task_id: &str, command: &str, mode: &str, started_ms: u64) -> WorkerTask {
        WorkerTask {
            task_id: task_id.into(),
            session: None,
            command: command.into(),
            task: None,
            image: None,
            mode: mode.into(),
            started_ms,
            ended_ms: None,
            state: TaskState::Running,
            exit_code: None,
            progress: None,
            last_report: None,
            reports: 0,
            finished: false,
        }
    }

    /// The task in one line, as every front end shows it:
    /// `5e1f00aa running 40% · half way`.
    pub fn line(&self) -> String {
        let short: String = self.task_id.chars().take(8).collect();
        let mut line = format!("{short} {}", self.state.as_str());
        if self.finished {
            line.push_str(", done");
        }
        if let Some(p) = self.progress {
            line.push_str(&format!(" {p}%"));
        }
        if let Some(report) = self.last_report.as_deref().filter(|r| !r.is_empty()) {
            line.push_str(" · ");
            line.push_str(report);
        }
        line
    }
}

/// What a report is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportKind {
    /// How far the task has come.
    Progress,
    /// The result; the task may still run on (to clean up) after it.
    Final,
}

/// One stored report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerReport {
    /// Arrival order within the task, from 1.
    pub seq: u64,
    /// The worker's id for it.
    pub id: String,
    pub kind: ReportKind,
    pub text: String,
    pub percent: Option<u8>,
    /// When the worker wrote it (its clock).
    pub sent_ms: Option<u64>,
    /// When the host stored it.
    pub received_ms: u64,
}

/// What [`MemoryStore::add_worker_report`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Added {
    /// Stored now; the task as it stands after it.
    New {
        report: WorkerReport,
        task: Box<WorkerTask>,
    },
    /// Stored before, as arrival `seq`; nothing changed.
    Duplicate { seq: u64 },
}

/// Whether `id` may name a report: 1–128 of `A-Z a-z 0-9 - _ .`.
pub fn valid_report_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REPORT_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The first line of `text` with something on it, cut to 200 characters,
/// control characters (terminal escapes) shown as `?`: what a list shows.
pub fn summary(text: &str) -> String {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut s: String = line
        .chars()
        .take(SUMMARY_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if line.chars().count() > SUMMARY_CHARS {
        s.push('…');
    }
    s
}

fn get_task(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    id: &str,
) -> Result<Option<WorkerTask>> {
    Ok(table
        .get(id)?
        .map(|v| serde_json::from_slice(v.value()))
        .transpose()?)
}

impl MemoryStore {
    /// Records a task that has just started, with the SHA-256 of its token.
    pub fn worker_started(&self, task: &WorkerTask, token_sha256: &[u8]) -> Result<()> {
        let txn = self.db.begin_write()?;
        txn.open_table(TASKS)?
            .insert(task.task_id.as_str(), serde_json::to_vec(task)?.as_slice())?;
        txn.open_table(TOKENS)?
            .insert(task.task_id.as_str(), token_sha256)?;
        txn.commit()?;
        Ok(())
    }

    /// The SHA-256 of task `task_id`'s token, if the task is recorded.
    pub fn worker_token_sha256(&self, task_id: &str) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read()?;
        Ok(txn
            .open_table(TOKENS)?
            .get(task_id)?
            .map(|v| v.value().to_vec()))
    }

    /// Marks task `task_id` as `state` now; the task as it then stands.
    pub fn worker_ended(
        &self,
        task_id: &str,
        state: TaskState,
        exit_code: Option<i64>,
    ) -> Result<Option<WorkerTask>> {
        let txn = self.db.begin_write()?;
        let task = {
            let mut table = txn.open_table(TASKS)?;
            let Some(mut task) = get_task(&table, task_id)? else {
                return Ok(None);
            };
            task.state = state;
            task.exit_code = exit_code;
            task.ended_ms = Some(now_ms());
            table.insert(task_id, serde_json::to_vec(&task)?.as_slice())?;
            task
        };
        txn.commit()?;
        Ok(Some(task))
    }

    /// Marks every task still `running` as interrupted: run when the host
    /// starts, since no task survives the host that watched it.
    pub fn workers_interrupted(&self) -> Result<Vec<WorkerTask>> {
        let txn = self.db.begin_write()?;
        let mut marked = Vec::new();
        {
            let mut table = txn.open_table(TASKS)?;
            for entry in table.iter()? {
                let (_, v) = entry?;
                let task: WorkerTask = serde_json::from_slice(v.value())?;
                if task.state == TaskState::Running {
                    marked.push(task);
                }
            }
            let now = now_ms();
            for task in &mut marked {
                task.state = TaskState::Interrupted;
                task.ended_ms = Some(now);
                table.insert(
                    task.task_id.as_str(),
                    serde_json::to_vec(&*task)?.as_slice(),
                )?;
            }
        }
        txn.commit()?;
        Ok(marked)
    }

    /// Task `task_id`, if recorded.
    pub fn worker_task(&self, task_id: &str) -> Result<Option<WorkerTask>> {
        let txn = self.db.begin_read()?;
        get_task(&txn.open_table(TASKS)?, task_id)
    }

    /// Every recorded task, newest first.
    pub fn worker_tasks(&self) -> Result<Vec<WorkerTask>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(TASKS)?;
        let mut all = Vec::new();
        for entry in table.iter()? {
            let (_, v) = entry?;
            all.push(serde_json::from_slice::<WorkerTask>(v.value())?);
        }
        all.sort_by(|a, b| {
            b.started_ms
                .cmp(&a.started_ms)
                .then_with(|| a.task_id.cmp(&b.task_id))
        });
        Ok(all)
    }

    /// Task `task_id`'s reports in the order they arrived.
    pub fn worker_reports(&self, task_id: &str) -> Result<Vec<WorkerReport>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(REPORTS)?;
        let mut all = Vec::new();
        for entry in table.range((task_id, 0)..=(task_id, u64::MAX))? {
            let (_, v) = entry?;
            all.push(serde_json::from_slice(v.value())?);
        }
        Ok(all)
    }

    /// The arrival number of task `task_id`'s report `report_id`, if stored.
    pub fn worker_report_seq(&self, task_id: &str, report_id: &str) -> Result<Option<u64>> {
        let txn = self.db.begin_read()?;
        Ok(txn
            .open_table(REPORT_IDS)?
            .get((task_id, report_id))?
            .map(|v| v.value()))
    }

    /// Stores `report` for task `task_id` unless a report of the same id
    /// is stored already. `seq` and `received_ms` are assigned here.
    pub fn add_worker_report(&self, task_id: &str, mut report: WorkerReport) -> Result<Added> {
        if !valid_report_id(&report.id) {
            bail!(
                "report id {:?} must be 1-{MAX_REPORT_ID} of A-Z a-z 0-9 - _ .",
                report.id
            );
        }
        let txn = self.db.begin_write()?;
        let added = {
            let mut ids = txn.open_table(REPORT_IDS)?;
            if let Some(seq) = ids.get((task_id, report.id.as_str()))? {
                return Ok(Added::Duplicate { seq: seq.value() });
            }
            let mut tasks = txn.open_table(TASKS)?;
            let Some(mut task) = get_task(&tasks, task_id)? else {
                bail!("no task {task_id} is recorded");
            };
            report.seq = task.reports + 1;
            report.received_ms = now_ms();
            task.reports = report.seq;
            task.last_report = Some(summary(&report.text));
            if report.percent.is_some() {
                task.progress = report.percent;
            }
            if report.kind == ReportKind::Final {
                task.finished = true;
            }
            ids.insert((task_id, report.id.as_str()), report.seq)?;
            txn.open_table(REPORTS)?.insert(
                (task_id, report.seq),
                serde_json::to_vec(&report)?.as_slice(),
            )?;
            tasks.insert(task_id, serde_json::to_vec(&task)?.as_slice())?;
            Added::New {
                report,
                task: Box::new(task),
            }
        };
        txn.commit()?;
        Ok(added)
    }

    /// Forgets the oldest tasks that are no longer running, with their
    /// reports, beyond the newest `keep`; how many were forgotten.
    pub fn prune_workers(&self, keep: usize) -> Result<usize> {
        let doomed: Vec<WorkerTask> = self
            .worker_tasks()?
            .into_iter()
            .skip(keep)
            .filter(|t| t.state != TaskState::Running)
            .collect();
        if doomed.is_empty() {
            return Ok(0);
        }
        let txn = self.db.begin_write()?;
        {
            let mut tasks = txn.open_table(TASKS)?;
            let mut tokens = txn.open_table(TOKENS)?;
            let mut reports = txn.open_table(REPORTS)?;
            let mut ids = txn.open_table(REPORT_IDS)?;
            for task in &doomed {
                let id = task.task_id.as_str();
                tasks.remove(id)?;
                tokens.remove(id)?;
                reports.retain_in((id, 0)..=(id, u64::MAX), |_, _| false)?;
                let report_ids: Vec<String> = ids
                    .range((id, "")..)?
                    .map_while(|e| {
                        let (k, _) = e.ok()?;
                        let (t, r) = k.value();
                        (t == id).then(|| r.to_string())
                    })
                    .collect();
                for r in &report_ids {
                    ids.remove((id, r.as_str()))?;
                }
            }
        }
        txn.commit()?;
        Ok(doomed.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str, started_ms: u64) -> WorkerTask {
        WorkerTask::new(id, "true", "docker", started_ms)
    }

    fn report(id: &str, kind: ReportKind, text: &str, percent: Option<u8>) -> WorkerReport {
        WorkerReport {
            seq: 0,
            id: id.into(),
            kind,
            text: text.into(),
            percent,
            sent_ms: Some(1),
            received_ms: 0,
        }
    }

    fn store() -> (tempfile::TempDir, MemoryStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = MemoryStore::open(&dir.path().join("m.redb")).unwrap();
        (dir, store)
    }

    #[test]
    fn a_report_is_stored_once_per_id() {
        let (_dir, store) = store();
        store.worker_started(&task("t1", 10), &[1; 32]).unwrap();
        assert_eq!(store.worker_token_sha256("t1").unwrap(), Some(vec![1; 32]));
        let first = store
            .add_worker_report(
                "t1",
                report("r1", ReportKind::Progress, "half\nway", Some(50)),
            )
            .unwrap();
        let Added::New {
            report: stored,
            task,
        } = first
        else {
            panic!("{first:?}")
        };
        assert_eq!(stored.seq, 1);
        assert!(stored.received_ms > 0);
        assert_eq!(task.progress, Some(50));
        assert_eq!(task.last_report.as_deref(), Some("half"));
        assert_eq!(
            store
                .add_worker_report("t1", report("r1", ReportKind::Progress, "again", None))
                .unwrap(),
            Added::Duplicate { seq: 1 }
        );
        let Added::New { task, .. } = store
            .add_worker_report("t1", report("r2", ReportKind::Final, "done", None))
            .unwrap()
        else {
            panic!()
        };
        assert!(task.finished);
        assert_eq!(
            task.progress,
            Some(50),
            "a report without a figure keeps it"
        );
        let reports = store.worker_reports("t1").unwrap();
        assert_eq!(
            reports
                .iter()
                .map(|r| (r.seq, r.text.as_str()))
                .collect::<Vec<_>>(),
            [(1, "half\nway"), (2, "done")]
        );
        assert!(
            store
                .add_worker_report("nope", report("r1", ReportKind::Final, "x", None))
                .is_err(),
            "a report needs its task"
        );
        assert!(
            store
                .add_worker_report("t1", report("../x", ReportKind::Final, "x", None))
                .is_err()
        );
    }

    #[test]
    fn tasks_end_are_interrupted_and_pruned() {
        let (_dir, store) = store();
        for (i, id) in ["a", "b", "c"].into_iter().enumerate() {
            store.worker_started(&task(id, i as u64), &[2; 32]).unwrap();
            store
                .add_worker_report(id, report("r", ReportKind::Final, id, None))
                .unwrap();
        }
        let ended = store
            .worker_ended("a", TaskState::Ended, Some(0))
            .unwrap()
            .unwrap();
        assert_eq!((ended.state, ended.exit_code), (TaskState::Ended, Some(0)));
        assert!(ended.ended_ms.is_some());
        let marked = store.workers_interrupted().unwrap();
        let mut ids: Vec<_> = marked.iter().map(|t| t.task_id.as_str()).collect();
        ids.sort();
        assert_eq!(ids, ["b", "c"]);
        let order: Vec<_> = store
            .worker_tasks()
            .unwrap()
            .into_iter()
            .map(|t| t.task_id)
            .collect();
        assert_eq!(order, ["c", "b", "a"], "newest first");
        assert_eq!(store.prune_workers(1).unwrap(), 2);
        assert_eq!(store.worker_tasks().unwrap().len(), 1);
        assert!(store.worker_reports("a").unwrap().is_empty());
        assert_eq!(store.worker_token_sha256("a").unwrap(), None);
        store.worker_started(&task("a", 9), &[3; 32]).unwrap();
        assert!(
            matches!(
                store
                    .add_worker_report("a", report("r", ReportKind::Final, "new", None))
                    .unwrap(),
                Added::New { .. }
            ),
            "a pruned task's report ids are gone with it"
        );
    }
}
