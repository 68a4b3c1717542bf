//! Every native call is recorded: tool, arguments (secrets redacted),
//! outcome and duration. Records go to the log (`openpista::native`
//! target) and to a small in-memory ring that status commands and tests
//! read.

use crate::runtime::CallContext;
use crate::runtime::bindings::{ToolResult, ToolSpec, WitError, error_text};
use crate::runtime::secrets::SecretStore;
use crate::tools::NativeTool;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Records kept in memory.
const RING: usize = 256;

/// One native call as recorded.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    pub tool: String,
    pub session: Option<String>,
    /// The arguments as the model wrote them, secrets redacted.
    pub arguments: String,
    /// `ok`, `tool error: …` (the tool ran and failed) or `error: …`.
    pub outcome: String,
    pub ok: bool,
    pub duration: Duration,
}

/// The record of native calls.
#[derive(Debug, Default)]
pub struct AuditLog {
    records: Mutex<VecDeque<AuditRecord>>,
}

impl AuditLog {
    pub fn new() -> Arc<AuditLog> {
        Arc::new(AuditLog::default())
    }

    fn push(&self, record: AuditRecord) {
        tracing::info!(
            target: "openpista::native",
            tool = %record.tool,
            session = record.session.as_deref().unwrap_or("-"),
            arguments = %record.arguments,
            ok = record.ok,
            ms = record.duration.as_millis() as u64,
            outcome = %record.outcome,
            "native call"
        );
        let mut records = self.records.lock().unwrap();
        if records.len() == RING {
            records.pop_front();
        }
        records.push_back(record);
    }

    /// The most recent records, oldest first.
    pub fn records(&self) -> Vec<AuditRecord> {
        self.records.lock().unwrap().iter().cloned().collect()
    }
}

/// A native tool whose every call is recorded.
pub struct Audited {
    inner: Arc<dyn NativeTool>,
    log: Arc<AuditLog>,
    secrets: SecretStore,
}

impl Audited {
    pub fn new(inner: Arc<dyn NativeTool>, log: Arc<AuditLog>, secrets: SecretStore) -> Self {
        Audited {
            inner,
            log,
            secrets,
        }
    }
}

/// First line of `text`, at most 200 characters: enough to say what happened.
fn summary(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    let mut s: String = line.chars().take(200).collect();
    if s.len() < line.len() || text.lines().nth(1).is_some() {
        s.push('…');
    }
    s
}

impl NativeTool for Audited {
    fn spec(&self) -> ToolSpec {
        self.inner.spec()
    }

    fn invoke<'a>(
        &'a self,
        arguments: &'a str,
        context: &'a CallContext,
    ) -> Pin<Box<dyn Future<Output = Result<ToolResult, WitError>> + Send + 'a>> {
        Box::pin(async move {
            let started = Instant::now();
            let result = self.inner.invoke(arguments, context).await;
            let (ok, outcome) = match &result {
                Ok(r) if r.is_error => (false, format!("tool error: {}", summary(&r.content))),
                Ok(_) => (true, "ok".to_string()),
                Err(e) => (false, format!("error: {}", error_text(e))),
            };
            self.log.push(AuditRecord {
                tool: self.inner.spec().name,
                session: context.session.clone(),
                arguments: self.secrets.redact(arguments).into_owned(),
                outcome: self.secrets.redact(&outcome).into_owned(),
                ok,
                duration: started.elapsed(),
            });
            result
        })
    }
}
