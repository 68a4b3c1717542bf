//! `openpista worker …`: inside a task, `report` and `flush` send to the
//! host (see `native::container::reports`); outside, `list` and `show`
//! read the history, from the running server when there is one (it holds
//! the memory database) or from the database itself. Also where `serve`
//! starts the reports endpoint.

use super::control::{self, Request};
use crate::config::Config;
use crate::memory::MemoryStore;
use crate::memory::workers::{ReportKind, WorkerReport, WorkerTask};
use crate::native::container::Containers;
use crate::native::container::reports::client::{Client, Flushed};
use crate::native::container::reports::{ReportPaths, Reports, history};
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde_json::Value;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

/// Exit status when a report is queued but not yet delivered (sysexits'
/// `EX_TEMPFAIL`): the caller may go on; the queue keeps it.
pub const EXIT_QUEUED: i32 = 75;

#[derive(Subcommand, Debug)]
pub enum WorkerCommand {
    /// Inside a task: report progress or the result to the host. The
    /// report is queued on disk first and sent until the host answers or
    /// --wait is over (exit 0: acknowledged; 1: refused; 75: still queued).
    Report {
        /// The text; read from stdin when absent or `-`.
        text: Option<String>,
        /// This is the task's result, not progress.
        #[arg(long = "final")]
        is_final: bool,
        /// How far the task has come, 0-100.
        #[arg(long, value_parser = clap::value_parser!(u8).range(0..=100))]
        percent: Option<u8>,
        /// Seconds to keep trying while the host is unreachable.
        #[arg(long, default_value_t = 300)]
        wait: u64,
    },
    /// Inside a task: send what the queue still holds.
    Flush {
        #[arg(long, default_value_t = 300)]
        wait: u64,
    },
    /// Worker tasks, newest first.
    List {
        #[arg(long)]
        json: bool,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// One task and every report it sent.
    Show {
        task: String,
        #[arg(long)]
        json: bool,
    },
}

/// Whether `cmd` runs inside a task, with no config or home of the host's.
pub fn in_task(cmd: &WorkerCommand) -> bool {
    matches!(
        cmd,
        WorkerCommand::Report { .. } | WorkerCommand::Flush { .. }
    )
}

/// `report` and `flush`: from the task's environment alone.
pub async fn run_in_task(cmd: WorkerCommand) -> Result<i32> {
    let client = Client::from_env(|name| std::env::var(name).ok())?;
    let (wait, mine) = match cmd {
        WorkerCommand::Report {
            text,
            is_final,
            percent,
            wait,
        } => {
            let text = match text.as_deref() {
                None | Some("-") => {
                    let mut text = String::new();
                    std::io::stdin()
                        .read_to_string(&mut text)
                        .context("cannot read the report from stdin")?;
                    text
                }
                Some(text) => text.to_string(),
            };
            let kind = if is_final {
                ReportKind::Final
            } else {
                ReportKind::Progress
            };
            let report = client.report(kind, text, percent);
            client.enqueue(report.clone())?;
            (wait, Some(report))
        }
        WorkerCommand::Flush { wait } => (wait, None),
        _ => unreachable!("only report and flush run in a task"),
    };
    let flushed = client.flush(Duration::from_secs(wait), mine.as_ref()).await;
    Ok(print_flushed(&client, &flushed))
}

fn print_flushed(client: &Client, flushed: &Flushed) -> i32 {
    for (id, seq, duplicate) in &flushed.delivered {
        let again = if *duplicate {
            " (it had it already)"
        } else {
            ""
        };
        println!(
            "report {id}: acknowledged as report {seq} of task {}{again}",
            client.task_id
        );
    }
    for (id, why) in &flushed.refused {
        eprintln!("report {id}: refused by the host: {why}");
    }
    if flushed.pending > 0 {
        eprintln!(
            "{} report(s) still queued in {} ({}); run `openpista worker flush` or leave them for the host to collect",
            flushed.pending,
            client.queue.dir().display(),
            flushed.last_error.as_deref().unwrap_or("not sent")
        );
        return EXIT_QUEUED;
    }
    i32::from(!flushed.refused.is_empty())
}

/// `list` and `show`.
pub async fn run(config: Config, cmd: WorkerCommand) -> Result<i32> {
    let (task, json_out, limit) = match &cmd {
        WorkerCommand::List { json, limit } => (None, *json, *limit),
        WorkerCommand::Show { task, json } => (Some(task.clone()), *json, 1),
        _ => return run_in_task(cmd).await,
    };
    let data = match control::request(
        &super::control_socket_path(),
        &Request::Workers { task: task.clone() },
    )
    .await
    {
        Ok(Some(response)) if response.ok => response.data.unwrap_or(Value::Null),
        Ok(Some(response)) => bail!(response.error.unwrap_or_default()),
        // No server: the database is free to open.
        _ => {
            let store = MemoryStore::open(&crate::paths::expand(&config.memory.path))?;
            history(&store, task.as_deref())?
        }
    };
    if json_out {
        println!("{}", serde_json::to_string_pretty(&data)?);
        return Ok(0);
    }
    match task {
        None => {
            let tasks: Vec<WorkerTask> = serde_json::from_value(data)?;
            if tasks.is_empty() {
                println!("no worker tasks yet");
            }
            for t in tasks.iter().take(limit) {
                println!("{}", task_line(t));
            }
            Ok(0)
        }
        Some(id) => {
            if data.is_null() {
                eprintln!("no worker task {id}");
                return Ok(1);
            }
            let task: WorkerTask = serde_json::from_value(data["task"].clone())?;
            let reports: Vec<WorkerReport> = serde_json::from_value(data["reports"].clone())?;
            print_task(&task, &reports);
            Ok(0)
        }
    }
}

fn task_line(t: &WorkerTask) -> String {
    format!(
        "{}  {:<11}  {}  {:>4}  {:>3} report(s)  {}  {}",
        t.task_id,
        t.state.as_str(),
        utc(t.started_ms),
        t.progress
            .map(|p| format!("{p}%"))
            .unwrap_or_else(|| "-".into()),
        t.reports,
        t.session.as_deref().unwrap_or("-"),
        t.last_report.as_deref().unwrap_or("")
    )
}

fn print_task(t: &WorkerTask, reports: &[WorkerReport]) {
    println!("task      {}", t.task_id);
    println!("state     {}", t.state.as_str());
    println!(
        "mode      {}{}",
        t.mode,
        t.image
            .as_deref()
            .map(|i| format!(" ({i})"))
            .unwrap_or_default()
    );
    println!("session   {}", t.session.as_deref().unwrap_or("-"));
    println!("started   {}", utc(t.started_ms));
    if let Some(ended) = t.ended_ms {
        println!("ended     {}", utc(ended));
    }
    if let Some(code) = t.exit_code {
        println!("exit code {code}");
    }
    println!("command   {}", printable(&t.command));
    if let Some(text) = &t.task {
        println!("task text {}", printable(text.lines().next().unwrap_or("")));
    }
    println!("reports   {}", reports.len());
    for r in reports {
        let kind = match r.kind {
            ReportKind::Progress => "progress",
            ReportKind::Final => "final",
        };
        let percent = r.percent.map(|p| format!(" {p}%")).unwrap_or_default();
        println!(
            "--- #{} {kind}{percent} at {} (id {})",
            r.seq,
            utc(r.received_ms),
            r.id
        );
        println!("{}", printable(r.text.trim_end()));
    }
}

/// `text` with control characters other than newlines and tabs shown as
/// `?`: a worker's report must not drive the operator's terminal.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '?'
            } else {
                c
            }
        })
        .collect()
}

/// `ms` since the epoch as `YYYY-MM-DD HH:MM:SS` UTC.
fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    // Days to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Starts the reports endpoint for `containers`' tasks, on `memory`. Its
/// socket and queues live beside the database that records the tasks
/// (`~/.openpista/worker-reports/reports.sock`, `~/.openpista/report-queue/`
/// by default), so whoever holds the database holds them too. When it cannot
/// start, tasks run without reports, with a warning.
pub async fn start_reports(
    config: &Config,
    memory: &Arc<MemoryStore>,
    containers: &Arc<Containers>,
) -> Option<Arc<Reports>> {
    let settings = &config.native.container;
    // Docker mounts only absolute paths.
    let database = match std::path::absolute(memory.path()) {
        Ok(path) => path,
        Err(e) => {
            tracing::warn!("worker reports are off: {}: {e}", memory.path().display());
            return None;
        }
    };
    let home = database.parent().unwrap_or(std::path::Path::new("/"));
    let reports = Reports::new(
        memory.clone(),
        ReportPaths::under(home),
        Duration::from_secs(settings.report_grace_secs),
        settings.worker_history,
    );
    if let Err(e) = reports.start().await {
        tracing::warn!("worker reports are off: {e:#}");
        return None;
    }
    containers.attach_reports(reports.clone());
    Some(reports)
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00");
        assert_eq!(super::utc(951_825_600_000), "2000-02-29 12:00:00");
        assert_eq!(super::utc(1_796_601_599_000), "2026-12-06 23:59:59");
    }

    #[test]
    fn report_text_cannot_drive_the_terminal() {
        assert_eq!(super::printable("a\u{1b}[2Jb\nc\td"), "a?[2Jb\nc\td");
    }
}
