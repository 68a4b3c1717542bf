//! The one Chromium a host runs for `browser.*`, and the page each session
//! works in.
//!
//! The browser is started on the first call that needs it, never at
//! start-up: most conversations never open a page, and Chromium costs
//! hundreds of megabytes. It runs without the sandbox, since the host often
//! runs as root in a container, where Chromium's sandbox cannot start.
//!
//! How it is launched is in [`super::launch`]. Every session (a
//! conversation) gets its own page in its own browser context, so cookies and logins of one conversation never show up in
//! another. A browser that died (crashed, or killed by the operator or the
//! OOM killer) is noticed on the next call, dropped with all its pages, and
//! started again.

use super::cdp::{CdpError, Connection, Pipes};
use super::launch::{Profile, command, cut, find_executable};
use super::page::Page;
use crate::native::settings::BrowserSettings;
use crate::runtime::bindings::WitError;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::Child;
use tokio::sync::Mutex;

/// How long a graceful close may take before the process is killed.
const CLOSE_GRACE: Duration = Duration::from_secs(3);

/// The session key of calls that belong to no conversation.
const DEFAULT_SESSION: &str = "default";

/// One Chromium per host, started on first use, with a page per session.
///
/// Shared by the `browser.*` tools; [`BrowserPool::shutdown`] closes it
/// when the host stops.
pub struct BrowserPool {
    settings: BrowserSettings,
    state: Mutex<Option<Running>>,
    /// The running browser's process id, 0 when none runs; kept outside
    /// the lock so [`BrowserPool::pid`] never waits for a launch.
    pid: AtomicU32,
    /// Set by [`BrowserPool::shutdown`]; later calls are refused.
    closed: AtomicBool,
}

/// Most of Chromium's own output kept, for the error when it fails to start.
const STDERR_TAIL: usize = 4096;

/// How long that output is waited for after a failed start.
const STDERR_GRACE: Duration = Duration::from_secs(2);

/// A started browser and the pages open in it.
struct Running {
    connection: Connection,
    child: Child,
    pages: HashMap<String, Tab>,
    pid: Option<u32>,
    /// Declared last: removed after the browser is dropped (and killed).
    profile: Profile,
}

/// A session's page, in its own browser context (its own cookies and
/// storage).
struct Tab {
    page: Page,
    context: String,
}

impl BrowserPool {
    /// A pool for `settings`. Nothing starts until a tool needs the browser.
    pub fn new(settings: BrowserSettings) -> Arc<BrowserPool> {
        Arc::new(BrowserPool {
            settings,
            state: Mutex::new(None),
            pid: AtomicU32::new(0),
            closed: AtomicBool::new(false),
        })
    }

    /// The browser's process id, when it runs.
    pub fn pid(&self) -> Option<u32> {
        match self.pid.load(Ordering::SeqCst) {
            0 => None,
            pid => Some(pid),
        }
    }

    /// The settings the pool was made with.
    pub fn settings(&self) -> &BrowserSettings {
        &self.settings
    }

    /// Closes every page and the browser, kills the process if it does not
    /// exit within a few seconds, and removes its profile folder. Calls made
    /// afterwards fail with `Unavailable`.
    pub async fn shutdown(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let running = self.state.lock().await.take();
        if let Some(running) = running {
            self.pid.store(0, Ordering::SeqCst);
            stop(running, true).await;
        }
    }

    /// The session's page for `browser.navigate`: starts the browser when
    /// none runs (or the last one died) and opens the session's page when it
    /// has none.
    pub(crate) async fn open_page(
        &self,
        tool: &str,
        session: Option<&str>,
    ) -> Result<Page, WitError> {
        let mut state = self.state.lock().await;
        self.refuse_when_closed(tool)?;
        if self.reap(&mut state).await {
            tracing::warn!("{tool}: the browser had died; starting a new one");
        }
        if state.is_none() {
            *state = Some(self.start(tool).await?);
        }
        let running = state.as_mut().expect("started above");
        let key = session.unwrap_or(DEFAULT_SESSION);
        if let Some(page) = running.live_page(key).await {
            return Ok(page);
        }
        let tab = new_tab(&running.connection, &self.settings)
            .await
            .map_err(|e| {
                WitError::Unavailable(format!("{tool}: could not open a page in the browser: {e}"))
            })?;
        let page = tab.page.clone();
        running.pages.insert(key.to_string(), tab);
        Ok(page)
    }

    /// The session's open page, for every tool but `browser.navigate`. Never
    /// starts a browser for a session without a page; when the browser
    /// died under the session's page, restarts it and says the page is gone.
    pub(crate) async fn page(&self, tool: &str, session: Option<&str>) -> Result<Page, WitError> {
        let key = session.unwrap_or(DEFAULT_SESSION);
        let mut state = self.state.lock().await;
        self.refuse_when_closed(tool)?;
        let had_page = state.as_ref().is_some_and(|r| r.pages.contains_key(key));
        if self.reap(&mut state).await && had_page {
            return Err(self.restart(tool, &mut state).await);
        }
        let Some(running) = state.as_mut() else {
            return Err(no_page(tool));
        };
        running.live_page(key).await.ok_or_else(|| no_page(tool))
    }

    /// After a call failed or timed out: when the browser turns out to be
    /// dead, drops it (with every page), starts a new one when `restart`,
    /// and returns the error to report. `None` when the browser is fine.
    pub(crate) async fn check_crash(&self, tool: &str, restart: bool) -> Option<WitError> {
        let mut state = self.state.lock().await;
        if !self.reap(&mut state).await {
            return None;
        }
        if restart && !self.closed.load(Ordering::SeqCst) {
            return Some(self.restart(tool, &mut state).await);
        }
        Some(WitError::Unavailable(format!(
            "{tool}: the browser crashed; it is started again on the next call, and the page is gone: call browser.navigate again"
        )))
    }

    /// Closes the session's page (and its browser context), when it is
    /// still `page`; used when a navigation never finished, since such a
    /// page would hold up the next one.
    pub(crate) async fn discard(&self, session: Option<&str>, page: &Page) {
        let mut state = self.state.lock().await;
        let Some(running) = state.as_mut() else {
            return;
        };
        let key = session.unwrap_or(DEFAULT_SESSION);
        if running
            .pages
            .get(key)
            .is_some_and(|t| t.page.target_id() == page.target_id())
        {
            let tab = running.pages.remove(key).expect("checked above");
            close_tab(&running.connection, tab).await;
        }
    }

    fn refuse_when_closed(&self, tool: &str) -> Result<(), WitError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(WitError::Unavailable(format!(
                "{tool}: the browser was shut down with the host"
            )));
        }
        Ok(())
    }

    /// Drops a dead browser from `state`; true when there was one.
    async fn reap(&self, state: &mut Option<Running>) -> bool {
        if state.as_mut().is_none_or(|r| r.alive()) {
            return false;
        }
        let dead = state.take().expect("checked above");
        self.pid.store(0, Ordering::SeqCst);
        tracing::warn!(
            "the browser (pid {:?}) died; dropping it and its {} page(s)",
            dead.pid,
            dead.pages.len()
        );
        stop(dead, false).await;
        true
    }

    /// Starts a browser after a crash and builds the error for the call
    /// that found it.
    async fn restart(&self, tool: &str, state: &mut Option<Running>) -> WitError {
        match self.start(tool).await {
            Ok(running) => {
                *state = Some(running);
                WitError::Unavailable(format!(
                    "{tool}: the browser had crashed and was restarted; the page is gone, call browser.navigate again"
                ))
            }
            Err(e) => {
                let why = super::message(&e);
                let why = why.strip_prefix(&format!("{tool}: ")).unwrap_or(&why);
                WitError::Unavailable(format!(
                    "{tool}: the browser had crashed and could not be restarted: {why}"
                ))
            }
        }
    }

    /// Launches Chromium and spawns the loop driving its connection.
    async fn start(&self, tool: &str) -> Result<Running, WitError> {
        let executable = find_executable(&self.settings, std::env::var_os("PATH"))
            .map_err(|e| WitError::Unavailable(format!("{tool}: {e}")))?;
        let profile = Profile::create().map_err(|e| {
            WitError::Internal(format!(
                "{tool}: cannot create a browser profile folder in {}: {e}",
                std::env::temp_dir().display()
            ))
        })?;
        let pipes = Pipes::new().map_err(|e| {
            WitError::Internal(format!("{tool}: cannot open the browser's pipes: {e}"))
        })?;
        let mut command = command(&self.settings, &executable, &profile.path)
            .map_err(|e| WitError::Internal(format!("{tool}: browser configuration: {e}")))?;
        pipes.install(&mut command);
        let mut child = command.spawn().map_err(|e| {
            WitError::Unavailable(format!(
                "{tool}: could not start {}: {e}",
                executable.display()
            ))
        })?;
        let Pipes {
            to_browser,
            from_browser,
            child_in,
            child_out,
        } = pipes;
        // Only Chromium may hold its ends now: the pipe closes when it exits.
        drop((child_in, child_out));
        let pid = child.id();
        let stderr = keep_tail(child.stderr.take());
        let started = match Connection::start(to_browser, from_browser) {
            Ok(connection) => {
                // The first answer says the browser is up. A browser that
                // exits instead ends the wait at once; the tool's deadline
                // bounds the rest.
                let up = {
                    let version = connection.call(None, "Browser.getVersion", json!({}));
                    tokio::select! {
                        answer = version => answer.map(drop).map_err(|e| e.to_string()),
                        status = child.wait() => Err(match status {
                            Ok(status) => format!("it exited at once ({status})"),
                            Err(e) => format!("it could not be waited for: {e}"),
                        }),
                    }
                };
                up.map(|()| connection)
            }
            Err(e) => Err(format!("cannot use the browser's pipes: {e}")),
        };
        let connection = match started {
            Ok(connection) => connection,
            Err(why) => {
                let _ = child.kill().await;
                // The reader ends with the process, unless a helper process
                // of Chromium's still holds the stream.
                let output = match tokio::time::timeout(STDERR_GRACE, stderr).await {
                    Ok(Ok(text)) if !text.trim().is_empty() => {
                        format!("; it printed: {}", text.trim())
                    }
                    _ => String::new(),
                };
                profile.remove().await;
                return Err(WitError::Unavailable(format!(
                    "{tool}: could not start {}: {why}{}",
                    executable.display(),
                    cut(&output, 1500)
                )));
            }
        };
        self.pid.store(pid.unwrap_or(0), Ordering::SeqCst);
        tracing::info!(
            "started {} (pid {pid:?}, profile {})",
            executable.display(),
            profile.path.display()
        );
        Ok(Running {
            connection,
            child,
            pages: HashMap::new(),
            pid,
            profile,
        })
    }
}

/// Drains Chromium's standard error (a full pipe would stall it), logging
/// it at debug level; the task's result is the last [`STDERR_TAIL`] bytes.
fn keep_tail(stderr: Option<tokio::process::ChildStderr>) -> tokio::task::JoinHandle<String> {
    tokio::spawn(async move {
        let Some(mut stderr) = stderr else {
            return String::new();
        };
        let mut tail: Vec<u8> = Vec::new();
        let mut chunk = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            tracing::debug!(
                "browser: {}",
                String::from_utf8_lossy(&chunk[..n]).trim_end()
            );
            tail.extend_from_slice(&chunk[..n]);
            if tail.len() > STDERR_TAIL {
                tail.drain(..tail.len() - STDERR_TAIL);
            }
        }
        String::from_utf8_lossy(&tail).into_owned()
    })
}

impl Drop for BrowserPool {
    fn drop(&mut self) {
        // Without `shutdown` (a panic, say): kill the browser and give it a
        // moment to exit, so that removing the profile is not undone by a
        // helper process still writing its cache.
        if let Some(mut running) = self.state.get_mut().take() {
            let _ = running.child.start_kill();
            for _ in 0..20 {
                if !matches!(running.child.try_wait(), Ok(None)) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

impl Running {
    /// Whether the connection and the process are both still there.
    fn alive(&mut self) -> bool {
        !self.connection.is_closed() && matches!(self.child.try_wait(), Ok(None))
    }

    /// The session's page, unless it has none or its page was closed in
    /// the meantime (by a script's `window.close()`, say), which forgets it.
    async fn live_page(&mut self, key: &str) -> Option<Page> {
        // Answered by the connection's own bookkeeping, not by Chromium.
        if !self.pages.get(key)?.page.is_gone() {
            return self.pages.get(key).map(|tab| tab.page.clone());
        }
        let tab = self.pages.remove(key)?;
        tracing::debug!("the browser page of session {key} was closed");
        close_tab(&self.connection, tab).await;
        None
    }
}

fn no_page(tool: &str) -> WitError {
    WitError::NotFound(format!(
        "{tool}: no page is open in this conversation; call browser.navigate with a URL first"
    ))
}

/// Closes the browser (politely when `graceful`), makes sure the process is
/// gone and reaped, and removes the profile.
async fn stop(mut running: Running, graceful: bool) {
    if graceful && running.alive() {
        // Closing the browser closes every page with it.
        let close = running.connection.call(None, "Browser.close", json!({}));
        let _ = tokio::time::timeout(CLOSE_GRACE, close).await;
        let _ = tokio::time::timeout(CLOSE_GRACE, running.child.wait()).await;
    }
    if !matches!(running.child.try_wait(), Ok(Some(_))) {
        // Kills (SIGKILL) and waits for the exit.
        let _ = running.child.kill().await;
    }
    let Running {
        connection,
        profile,
        ..
    } = running;
    drop(connection);
    profile.remove().await;
}

/// A page in a fresh browser context, sized by the settings.
async fn new_tab(connection: &Connection, settings: &BrowserSettings) -> Result<Tab, CdpError> {
    let context: String = connection
        .call(None, "Target.createBrowserContext", json!({}))
        .await?["browserContextId"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| CdpError::malformed("Target.createBrowserContext", "no browserContextId"))?;
    let opened = async {
        let target = connection
            .call(
                None,
                "Target.createTarget",
                json!({ "url": "about:blank", "browserContextId": &context }),
            )
            .await?;
        let target = target["targetId"]
            .as_str()
            .ok_or_else(|| CdpError::malformed("Target.createTarget", "no targetId"))?;
        Page::attach(connection, target, settings.width, settings.height).await
    };
    match opened.await {
        Ok(page) => Ok(Tab { page, context }),
        Err(e) => {
            let _ = dispose(connection, &context).await;
            Err(e)
        }
    }
}

/// Closes a page by disposing of its context (which closes the page even
/// when it hangs), within a short grace.
async fn close_tab(connection: &Connection, tab: Tab) {
    if let Ok(Err(e)) = tokio::time::timeout(CLOSE_GRACE, dispose(connection, &tab.context)).await {
        tracing::debug!("closing a browser page: {e}");
    }
    connection.forget(tab.page.session());
}

async fn dispose(connection: &Connection, context: &str) -> Result<(), CdpError> {
    connection
        .call(
            None,
            "Target.disposeBrowserContext",
            json!({ "browserContextId": context }),
        )
        .await
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_browser_that_exits_at_once_is_reported_with_what_it_printed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("chromium");
        std::fs::write(
            &fake,
            "#!/bin/sh\necho 'cannot open display: :99' >&2\nexit 3\n",
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let pool = BrowserPool::new(BrowserSettings {
            executable: Some(fake.display().to_string()),
            timeout_secs: 60,
            ..BrowserSettings::default()
        });
        // Far below the 60 s deadline: the exit ends the wait, not a timer.
        let opened = tokio::time::timeout(
            Duration::from_secs(20),
            pool.open_page("browser.navigate", Some("s")),
        )
        .await
        .expect("the exit is noticed without waiting for the deadline");
        match opened {
            Err(WitError::Unavailable(m)) => {
                assert!(m.starts_with("browser.navigate: could not start"), "{m}");
                assert!(m.contains("cannot open display: :99"), "{m}");
            }
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("a page from a browser that exited"),
        }
        assert_eq!(pool.pid(), None);
    }
}
