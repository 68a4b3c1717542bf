//! The page's worker panel, without the browser: the tasks the host's
//! `/workers` lists, kept current by the events `/workers/events` returns
//! (docs/ARCHITECTURE.md, "Worker reports"), and the lines drawn for them.
//!
//! The panel shows the tasks that run, and the latest few that ended, each
//! with its state, its progress and the start of its latest report.

use serde::Deserialize;

/// Ended tasks still shown.
pub const ENDED_SHOWN: usize = 3;

/// One task as the host describes it (the fields the panel uses).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Task {
    pub task_id: String,
    pub state: String,
    #[serde(default)]
    pub progress: Option<u8>,
    #[serde(default)]
    pub last_report: Option<String>,
    #[serde(default)]
    pub finished: bool,
    #[serde(default)]
    pub started_ms: u64,
    /// The task in one line, in the host's words.
    #[serde(default)]
    pub line: String,
}

#[derive(Deserialize)]
struct Event {
    task: Task,
    /// The task's line after the event.
    #[serde(default)]
    line: String,
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    epoch: String,
    next: u64,
    #[serde(default)]
    missed: bool,
    events: Vec<Event>,
}

/// What a page of events asks of the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// Poll again for events after [`Board::next`].
    Poll,
    /// Events were missed: read the list again first.
    Reload,
}

/// The tasks the panel knows, newest first.
#[derive(Debug, Default)]
pub struct Board {
    tasks: Vec<Task>,
    /// The number of the latest event seen, and the host run it counts in.
    pub next: u64,
    pub epoch: String,
}

impl Board {
    /// Replaces the tasks with `/workers`' answer.
    pub fn load(&mut self, json: &str) -> Result<(), String> {
        let mut tasks: Vec<Task> =
            serde_json::from_str(json).map_err(|e| format!("/workers: {e}"))?;
        tasks.sort_by_key(|t| std::cmp::Reverse(t.started_ms));
        self.tasks = tasks;
        Ok(())
    }

    /// Applies a page of `/workers/events`.
    pub fn apply(&mut self, json: &str) -> Result<Then, String> {
        let page: Page = serde_json::from_str(json).map_err(|e| format!("/workers/events: {e}"))?;
        for event in page.events {
            self.upsert(Task {
                line: event.line,
                ..event.task
            });
        }
        self.next = page.next;
        self.epoch = page.epoch;
        Ok(if page.missed {
            Then::Reload
        } else {
            Then::Poll
        })
    }

    fn upsert(&mut self, task: Task) {
        match self.tasks.iter_mut().find(|t| t.task_id == task.task_id) {
            Some(known) => *known = task,
            None => {
                self.tasks.push(task);
                self.tasks.sort_by_key(|t| std::cmp::Reverse(t.started_ms));
            }
        }
    }

    /// The tasks to show: every running one, then the latest that ended.
    pub fn shown(&self) -> Vec<&Task> {
        let running = self.tasks.iter().filter(|t| t.state == "running");
        let ended = self
            .tasks
            .iter()
            .filter(|t| t.state != "running")
            .take(ENDED_SHOWN);
        running.chain(ended).collect()
    }
}

impl Board {
    /// The URL of the next poll.
    pub fn events_url(&self) -> String {
        format!("/workers/events?epoch={}&after={}", self.epoch, self.next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task_json(id: &str, state: &str, started: u64, progress: Option<u8>, last: &str) -> String {
        serde_json::json!({
            "task_id": id, "state": state, "started_ms": started, "progress": progress,
            "last_report": last, "finished": false, "command": "ignored",
            "line": format!("{id} {state}")
        })
        .to_string()
    }

    #[test]
    fn events_update_the_list_and_ended_tasks_are_capped() {
        let mut board = Board::default();
        let list = format!(
            "[{},{},{},{},{}]",
            task_json("e1", "ended", 1, None, ""),
            task_json("e2", "ended", 2, None, ""),
            task_json("e3", "interrupted", 3, None, ""),
            task_json("e4", "ended", 4, None, ""),
            task_json("r1", "running", 5, Some(10), "starting"),
        );
        board.load(&list).unwrap();
        let ids: Vec<&str> = board.shown().iter().map(|t| t.task_id.as_str()).collect();
        assert_eq!(ids, ["r1", "e4", "e3", "e2"]);

        let page = format!(
            r#"{{"epoch": "e1", "next": 7, "missed": false, "events": [
                {{"event": "report", "task": {}, "report": {{"seq": 2}}, "line": "r1 running 40% · half way"}},
                {{"event": "task", "task": {}, "line": "r2 running"}}
            ]}}"#,
            task_json("r1", "running", 5, Some(40), "half way"),
            task_json("r2", "running", 6, None, ""),
        );
        assert_eq!(board.apply(&page).unwrap(), Then::Poll);
        assert_eq!(board.next, 7);
        assert_eq!(board.events_url(), "/workers/events?epoch=e1&after=7");
        let shown = board.shown();
        assert_eq!(shown[0].task_id, "r2", "newest first");
        assert_eq!(
            shown[1].line, "r1 running 40% · half way",
            "the event's line"
        );
        assert_eq!(shown[1].progress, Some(40));
        assert_eq!(shown[2].line, "e4 ended", "the list's line");
        assert_eq!(
            board
                .apply(r#"{"next": 2, "missed": true, "events": []}"#)
                .unwrap(),
            Then::Reload
        );
        assert!(board.apply("{not json").is_err());
        assert!(board.load("{}").is_err());
        assert_eq!(board.events_url(), "/workers/events?epoch=&after=2");
    }
}
