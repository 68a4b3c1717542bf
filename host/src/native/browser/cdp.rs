//! A DevTools protocol (CDP) connection to one Chromium, over the pipe
//! Chromium opens with `--remote-debugging-pipe`.
//!
//! The protocol is JSON messages, each ended by a NUL byte: Chromium reads
//! commands on its file descriptor 3 and writes answers and events on 4. A
//! command carries an `id` (and, for a page, the `sessionId` it was attached
//! under); its answer carries the same `id` and a `result` or an `error`.
//! Messages without an `id` are events.
//!
//! Only what `browser.*` uses is here, typed at the call sites as plain
//! JSON: a generated binding of the whole protocol was most of the
//! browser's share of the binary (BENCHMARKS.md, "Binary size").
//!
//! A pipe rather than a WebSocket on a port: nothing else on the machine
//! can connect to it, and no port has to be found or read from Chromium's
//! output. When the pipe closes the browser is gone; every command still
//! waiting fails with [`CdpError::Closed`], and every wait for an event
//! ends. When a page goes away (closed, or its renderer crashed) the
//! commands still waiting on it fail the same way.
//!
//! A JavaScript dialog would stop its page until someone answered it, so
//! the connection answers each at once: `alert` and `beforeunload` are
//! accepted, `confirm` and `prompt` dismissed (a page's "are you sure?"
//! is never confirmed on the model's behalf).

use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;
use tokio::sync::{broadcast, mpsc, oneshot};

/// Events kept for a subscriber that falls behind; one that falls further
/// behind misses the oldest (and a wait for one of them runs into its
/// deadline instead).
const EVENT_BACKLOG: usize = 1024;

/// Largest message accepted from Chromium (a full-page screenshot of the
/// largest surface Chromium captures is about 100 MiB of base64).
const MAX_MESSAGE: usize = 256 << 20;

/// Why a command failed.
#[derive(Debug, Clone, PartialEq)]
pub enum CdpError {
    /// Chromium refused the command: its code and message.
    Protocol {
        method: String,
        code: i64,
        message: String,
    },
    /// The connection is gone: the browser exited or crashed.
    Closed,
    /// An answer that does not have the expected shape.
    Decode { method: String, why: String },
    /// A script evaluated in the page threw; the exception's description.
    Script(String),
}

impl std::fmt::Display for CdpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CdpError::Protocol {
                method,
                code,
                message,
            } => write!(f, "{method} failed: {message} ({code})"),
            CdpError::Closed => f.write_str("the connection to the browser is closed"),
            CdpError::Decode { method, why } => {
                write!(f, "the browser's answer to {method} is malformed: {why}")
            }
            CdpError::Script(why) => write!(f, "a script in the page failed: {why}"),
        }
    }
}

impl std::error::Error for CdpError {}

impl CdpError {
    /// The browser's answer to `method` did not have the expected shape.
    pub fn malformed(method: &str, why: impl std::fmt::Display) -> CdpError {
        CdpError::Decode {
            method: method.to_owned(),
            why: why.to_string(),
        }
    }
}

/// An event from the browser: its method and parameters, and the session
/// (page) it came from; `None` for the browser's own events.
#[derive(Debug, Clone)]
pub struct Event {
    pub session: Option<String>,
    pub method: String,
    pub params: Value,
}

type Reply = oneshot::Sender<Result<Value, CdpError>>;

/// A command waiting for its answer.
struct Waiting {
    method: String,
    /// The page it was sent to; `None` for the browser.
    session: Option<String>,
    reply: Reply,
}

/// The connection: cheap to clone, shared by the pool and every page.
#[derive(Clone)]
pub struct Connection {
    shared: Arc<Shared>,
}

struct Shared {
    next_id: AtomicU64,
    /// Commands sent and not yet answered, by id.
    pending: Mutex<HashMap<u64, Waiting>>,
    /// Messages for the writer task, which ends each with a NUL.
    outgoing: mpsc::UnboundedSender<Vec<u8>>,
    /// Taken when the connection closes, which ends every subscription.
    events: Mutex<Option<broadcast::Sender<Arc<Event>>>>,
    /// Sessions whose page went away (closed, crashed, detached) and that
    /// the pool has not forgotten yet.
    detached: Mutex<HashSet<String>>,
    closed: AtomicBool,
}

impl Connection {
    /// Starts the tasks that write to `to_browser` and read `from_browser`
    /// (the parent's ends of the two pipes). Call within a tokio runtime.
    pub fn start(to_browser: OwnedFd, from_browser: OwnedFd) -> std::io::Result<Connection> {
        let writer = pipe::Sender::from_owned_fd(to_browser)?;
        let reader = pipe::Receiver::from_owned_fd(from_browser)?;
        let (outgoing, queue) = mpsc::unbounded_channel();
        let (events, _) = broadcast::channel(EVENT_BACKLOG);
        let shared = Arc::new(Shared {
            next_id: AtomicU64::new(1),
            pending: Mutex::new(HashMap::new()),
            outgoing,
            events: Mutex::new(Some(events)),
            detached: Mutex::new(HashSet::new()),
            closed: AtomicBool::new(false),
        });
        tokio::spawn(write_loop(writer, queue));
        tokio::spawn(read_loop(reader, Arc::downgrade(&shared)));
        Ok(Connection { shared })
    }

    /// Whether the browser's end of the connection is gone.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }

    /// Whether the page attached as `session` has gone away.
    pub fn is_detached(&self, session: &str) -> bool {
        self.is_closed() || lock(&self.shared.detached).contains(session)
    }

    /// Events from now on. Subscribe before the command whose events are
    /// awaited, so none is missed.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        match &*lock(&self.shared.events) {
            Some(events) => events.subscribe(),
            // Closed already: a receiver that says so at once.
            None => broadcast::channel(1).1,
        }
    }

    /// Forgets a page the pool has closed: its session id is not reused.
    pub fn forget(&self, session: &str) {
        lock(&self.shared.detached).remove(session);
    }

    /// Sends `method` with `params` to the browser (`session` `None`) or to
    /// an attached page, and waits for the answer's `result`.
    pub async fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, CdpError> {
        if self.is_closed() {
            return Err(CdpError::Closed);
        }
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = Value::String(session.to_owned());
        }
        let (reply, answer) = oneshot::channel();
        let waiting = Waiting {
            method: method.to_owned(),
            session: session.map(str::to_owned),
            reply,
        };
        lock(&self.shared.pending).insert(id, waiting);
        // A page that is gone answers nothing; the detach event that said
        // so may have come before this command was registered.
        if session.is_some_and(|s| lock(&self.shared.detached).contains(s)) {
            lock(&self.shared.pending).remove(&id);
            return Err(CdpError::Closed);
        }
        let bytes = serde_json::to_vec(&message).expect("a JSON value serialises");
        if self.shared.outgoing.send(bytes).is_err() || self.is_closed() {
            lock(&self.shared.pending).remove(&id);
            return Err(CdpError::Closed);
        }
        // Dropped unanswered only when the reader ended: the browser is gone.
        answer.await.unwrap_or(Err(CdpError::Closed))
    }

    /// [`Connection::call`], decoding the result as `T`.
    pub async fn call_as<T: DeserializeOwned>(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<T, CdpError> {
        let result = self.call(session, method, params).await?;
        serde_json::from_value(result).map_err(|e| CdpError::malformed(method, e))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn write_loop(mut writer: pipe::Sender, mut queue: mpsc::UnboundedReceiver<Vec<u8>>) {
    while let Some(mut bytes) = queue.recv().await {
        bytes.push(0);
        if let Err(e) = writer.write_all(&bytes).await {
            tracing::debug!("writing to the browser: {e}");
            return;
        }
    }
}

/// Reads NUL-ended messages until the pipe closes, then fails every
/// command still waiting. Holds the shared state weakly, so a connection
/// dropped by the pool is freed even while Chromium keeps the pipe open.
async fn read_loop(mut reader: pipe::Receiver, shared: std::sync::Weak<Shared>) {
    let mut buffer = Vec::with_capacity(64 << 10);
    let mut chunk = vec![0u8; 64 << 10];
    let mut scanned = 0;
    'read: loop {
        let n = match reader.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                tracing::debug!("reading from the browser: {e}");
                break;
            }
        };
        buffer.extend_from_slice(&chunk[..n]);
        while let Some(end) = buffer[scanned..].iter().position(|b| *b == 0) {
            let end = scanned + end;
            let Some(shared) = shared.upgrade() else {
                return;
            };
            dispatch(&shared, &buffer[..end]);
            buffer.drain(..=end);
            scanned = 0;
        }
        scanned = buffer.len();
        if buffer.len() > MAX_MESSAGE {
            tracing::warn!(
                "the browser sent a message of over {} MiB; closing the connection",
                MAX_MESSAGE >> 20
            );
            break 'read;
        }
    }
    if let Some(shared) = shared.upgrade() {
        shared.closed.store(true, Ordering::SeqCst);
        for (_, waiting) in lock(&shared.pending).drain() {
            let _ = waiting.reply.send(Err(CdpError::Closed));
        }
        // Dropping the sender ends every subscriber's wait.
        lock(&shared.events).take();
    }
}

/// Routes one message: an answer to its command, an event to subscribers.
fn dispatch(shared: &Shared, bytes: &[u8]) {
    let mut message: Value = match serde_json::from_slice(bytes) {
        Ok(m) => m,
        Err(e) => {
            tracing::debug!("skipping a malformed message from the browser: {e}");
            return;
        }
    };
    if let Some(id) = message.get("id").and_then(Value::as_u64) {
        let Some(Waiting { method, reply, .. }) = lock(&shared.pending).remove(&id) else {
            return;
        };
        let answer = match message.get_mut("error") {
            Some(error) => Err(CdpError::Protocol {
                code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: match error.get("data").and_then(Value::as_str) {
                    Some(data) => format!(
                        "{}: {data}",
                        error.get("message").and_then(Value::as_str).unwrap_or("")
                    ),
                    None => error
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("(no message)")
                        .to_owned(),
                },
                method,
            }),
            None => Ok(message
                .get_mut("result")
                .map(Value::take)
                .unwrap_or(Value::Null)),
        };
        let _ = reply.send(answer);
        return;
    }
    let Some(method) = message.get("method").and_then(Value::as_str) else {
        return;
    };
    let event = Event {
        method: method.to_owned(),
        session: message
            .get("sessionId")
            .and_then(Value::as_str)
            .map(str::to_owned),
        params: message
            .get_mut("params")
            .map(Value::take)
            .unwrap_or_default(),
    };
    let gone = match event.method.as_str() {
        "Target.detachedFromTarget" => event.params.get("sessionId").and_then(Value::as_str),
        // The page's renderer died: nothing it is asked will be answered.
        "Inspector.targetCrashed" => event.session.as_deref(),
        _ => None,
    };
    if let Some(session) = gone {
        page_gone(shared, session);
    }
    if event.method == "Page.javascriptDialogOpening" {
        answer_dialog(shared, &event);
    }
    // No subscriber is fine: most events are not awaited.
    if let Some(events) = &*lock(&shared.events) {
        let _ = events.send(Arc::new(event));
    }
}

/// Marks `session` gone and fails the commands still waiting on it.
fn page_gone(shared: &Shared, session: &str) {
    lock(&shared.detached).insert(session.to_owned());
    let mut pending = lock(&shared.pending);
    let ids: Vec<u64> = pending
        .iter()
        .filter(|(_, w)| w.session.as_deref() == Some(session))
        .map(|(id, _)| *id)
        .collect();
    for id in ids {
        if let Some(waiting) = pending.remove(&id) {
            let _ = waiting.reply.send(Err(CdpError::Closed));
        }
    }
}

/// Answers a JavaScript dialog so its page goes on: accepts `alert` and
/// `beforeunload`, dismisses `confirm` and `prompt`. The answer to this
/// command is not awaited.
fn answer_dialog(shared: &Shared, event: &Event) {
    let Some(session) = &event.session else {
        return;
    };
    let accept = matches!(
        event.params.get("type").and_then(Value::as_str),
        Some("alert" | "beforeunload")
    );
    tracing::debug!(
        "answering a {} dialog ({}): {:?}",
        event.params["type"],
        if accept { "accepted" } else { "dismissed" },
        event.params["message"]
    );
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let message = json!({
        "id": id,
        "sessionId": session,
        "method": "Page.handleJavaScriptDialog",
        "params": { "accept": accept },
    });
    let _ = shared
        .outgoing
        .send(serde_json::to_vec(&message).expect("a JSON value serialises"));
}

/// The two pipes of `--remote-debugging-pipe`: the child's ends, to be put
/// at descriptors 3 and 4, and the parent's.
pub struct Pipes {
    /// Chromium reads commands here (its descriptor 3).
    pub child_in: OwnedFd,
    /// Chromium writes answers and events here (its descriptor 4).
    pub child_out: OwnedFd,
    pub to_browser: OwnedFd,
    pub from_browser: OwnedFd,
}

impl Pipes {
    pub fn new() -> std::io::Result<Pipes> {
        let (child_in, to_browser) = pipe_pair()?;
        let (from_browser, child_out) = pipe_pair()?;
        Ok(Pipes {
            child_in,
            child_out,
            to_browser,
            from_browser,
        })
    }

    /// Makes the child's ends descriptors 3 and 4 of the process
    /// `command` starts; every other descriptor of ours is close-on-exec.
    pub fn install(&self, command: &mut tokio::process::Command) {
        use std::os::fd::AsRawFd;
        let (input, output) = (self.child_in.as_raw_fd(), self.child_out.as_raw_fd());
        // SAFETY: between fork and exec only async-signal-safe calls are
        // made (fcntl, dup2), on descriptors that stay open in the parent
        // until the child is spawned.
        unsafe {
            command.pre_exec(move || {
                // Move both out of the way first: either may be 3 or 4.
                let input = cvt(libc::fcntl(input, libc::F_DUPFD_CLOEXEC, 10))?;
                let output = cvt(libc::fcntl(output, libc::F_DUPFD_CLOEXEC, 10))?;
                // dup2 clears close-on-exec on the new descriptor.
                cvt(libc::dup2(input, 3))?;
                cvt(libc::dup2(output, 4))?;
                Ok(())
            });
        }
    }
}

fn cvt(result: libc::c_int) -> std::io::Result<libc::c_int> {
    if result < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

/// A pipe's read and write ends, both close-on-exec.
fn pipe_pair() -> std::io::Result<(OwnedFd, OwnedFd)> {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 succeeded, so both are open descriptors owned by no one else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    /// A connection whose "browser" is the test, on the other ends of the pipes.
    fn pair() -> (Connection, pipe::Receiver, pipe::Sender) {
        let pipes = Pipes::new().unwrap();
        let connection = Connection::start(pipes.to_browser, pipes.from_browser).unwrap();
        let commands = pipe::Receiver::from_owned_fd(pipes.child_in).unwrap();
        let answers = pipe::Sender::from_owned_fd(pipes.child_out).unwrap();
        (connection, commands, answers)
    }

    async fn next_command(commands: &mut pipe::Receiver) -> Value {
        let mut bytes = Vec::new();
        loop {
            let b = commands.read_u8().await.unwrap();
            if b == 0 {
                return serde_json::from_slice(&bytes).unwrap();
            }
            bytes.push(b);
        }
    }

    async fn send(answers: &mut pipe::Sender, message: Value) {
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        answers.write_all(&bytes).await.unwrap();
    }

    #[tokio::test]
    async fn answers_reach_their_commands_and_errors_say_what_failed() {
        let (connection, mut commands, mut answers) = pair();
        let c = connection.clone();
        let first =
            tokio::spawn(async move { c.call(None, "Browser.getVersion", json!({})).await });
        let c = connection.clone();
        let second = tokio::spawn(async move {
            c.call(Some("S1"), "Page.navigate", json!({ "url": "x" }))
                .await
        });
        let a = next_command(&mut commands).await;
        let b = next_command(&mut commands).await;
        let (version, navigate) = if a["method"] == "Browser.getVersion" {
            (a, b)
        } else {
            (b, a)
        };
        assert_eq!(navigate["sessionId"], "S1");
        assert_eq!(navigate["params"]["url"], "x");
        assert!(version.get("sessionId").is_none());
        // Answered out of order, in one write, with an event between.
        let mut bytes = Vec::new();
        for message in [
            json!({ "id": navigate["id"], "error": { "code": -32000, "message": "Cannot navigate", "data": "bad url" } }),
            json!({ "method": "Page.loadEventFired", "params": {} }),
            json!({ "id": version["id"], "result": { "product": "Chrome/1" } }),
        ] {
            bytes.extend(serde_json::to_vec(&message).unwrap());
            bytes.push(0);
        }
        answers.write_all(&bytes).await.unwrap();
        assert_eq!(
            first.await.unwrap().unwrap(),
            json!({ "product": "Chrome/1" })
        );
        let error = second.await.unwrap().unwrap_err();
        assert_eq!(
            error,
            CdpError::Protocol {
                method: "Page.navigate".into(),
                code: -32000,
                message: "Cannot navigate: bad url".into()
            }
        );
        assert!(
            error.to_string().contains("Page.navigate failed"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn events_reach_subscribers_and_detaching_is_remembered() {
        let (connection, _commands, mut answers) = pair();
        let mut events = connection.subscribe();
        assert!(!connection.is_detached("S1"));
        // Garbage between messages is skipped, not fatal.
        answers.write_all(b"{not json\0").await.unwrap();
        send(
            &mut answers,
            json!({ "method": "Page.frameStartedLoading", "sessionId": "S1", "params": { "frameId": "F" } }),
        )
        .await;
        send(
            &mut answers,
            json!({ "method": "Target.detachedFromTarget", "params": { "sessionId": "S1" } }),
        )
        .await;
        let event = events.recv().await.unwrap();
        assert_eq!(event.method, "Page.frameStartedLoading");
        assert_eq!(event.session.as_deref(), Some("S1"));
        assert_eq!(event.params["frameId"], "F");
        let event = events.recv().await.unwrap();
        assert_eq!(event.method, "Target.detachedFromTarget");
        assert!(connection.is_detached("S1"));
        assert!(!connection.is_detached("S2"));
    }

    #[tokio::test]
    async fn a_closed_pipe_fails_waiting_and_later_commands() {
        let (connection, mut commands, answers) = pair();
        let c = connection.clone();
        let waiting = tokio::spawn(async move { c.call(None, "Browser.close", json!({})).await });
        next_command(&mut commands).await;
        drop(answers);
        assert_eq!(waiting.await.unwrap(), Err(CdpError::Closed));
        assert!(connection.is_closed());
        assert!(connection.is_detached("any"));
        assert_eq!(
            connection.call(None, "Browser.getVersion", json!({})).await,
            Err(CdpError::Closed)
        );
    }

    #[tokio::test]
    async fn malformed_results_are_decode_errors() {
        let (connection, mut commands, mut answers) = pair();
        let c = connection.clone();
        let call = tokio::spawn(async move {
            c.call_as::<u32>(None, "Target.createTarget", json!({}))
                .await
        });
        let command = next_command(&mut commands).await;
        send(
            &mut answers,
            json!({ "id": command["id"], "result": { "targetId": "T" } }),
        )
        .await;
        match call.await.unwrap() {
            Err(CdpError::Decode { method, .. }) => assert_eq!(method, "Target.createTarget"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_closed_pipe_ends_every_wait_for_an_event() {
        let (connection, _commands, answers) = pair();
        let mut early = connection.subscribe();
        drop(answers);
        assert_eq!(
            early.recv().await.unwrap_err(),
            broadcast::error::RecvError::Closed
        );
        // A subscription made afterwards says so at once too.
        assert_eq!(
            connection.subscribe().recv().await.unwrap_err(),
            broadcast::error::RecvError::Closed
        );
    }

    #[tokio::test]
    async fn a_page_that_goes_away_fails_its_own_commands_only() {
        let (connection, mut commands, mut answers) = pair();
        let c = connection.clone();
        let on_page =
            tokio::spawn(async move { c.call(Some("S1"), "Runtime.evaluate", json!({})).await });
        let c = connection.clone();
        let on_browser =
            tokio::spawn(async move { c.call(None, "Target.getTargets", json!({})).await });
        let first = next_command(&mut commands).await;
        let second = next_command(&mut commands).await;
        let browser_id = if first["method"] == "Target.getTargets" {
            &first["id"]
        } else {
            &second["id"]
        };
        // The renderer crashed: its session is gone.
        send(
            &mut answers,
            json!({ "method": "Inspector.targetCrashed", "sessionId": "S1", "params": {} }),
        )
        .await;
        assert_eq!(on_page.await.unwrap(), Err(CdpError::Closed));
        assert!(connection.is_detached("S1"));
        // Later commands to it fail at once; the browser's still get answers.
        assert_eq!(
            connection.call(Some("S1"), "Page.enable", json!({})).await,
            Err(CdpError::Closed)
        );
        send(&mut answers, json!({ "id": browser_id, "result": {} })).await;
        assert_eq!(on_browser.await.unwrap(), Ok(json!({})));
        connection.forget("S1");
        assert!(!connection.is_detached("S1"));
    }

    #[tokio::test]
    async fn dialogs_are_answered_and_confirmations_never_accepted() {
        let (_connection, mut commands, mut answers) = pair();
        for (kind, accept) in [
            ("alert", true),
            ("confirm", false),
            ("prompt", false),
            ("beforeunload", true),
        ] {
            send(
                &mut answers,
                json!({ "method": "Page.javascriptDialogOpening", "sessionId": "S1",
                        "params": { "type": kind, "message": "sure?" } }),
            )
            .await;
            let answer = next_command(&mut commands).await;
            assert_eq!(answer["method"], "Page.handleJavaScriptDialog", "{kind}");
            assert_eq!(answer["sessionId"], "S1");
            assert_eq!(answer["params"]["accept"], accept, "{kind}");
        }
    }

    #[test]
    fn pipes_are_close_on_exec_until_installed() {
        let pipes = Pipes::new().unwrap();
        for fd in [
            pipes.child_in.as_raw_fd(),
            pipes.child_out.as_raw_fd(),
            pipes.to_browser.as_raw_fd(),
            pipes.from_browser.as_raw_fd(),
        ] {
            let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
            assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC, "fd {fd}");
        }
    }

    #[tokio::test]
    async fn a_child_reads_and_writes_through_descriptors_3_and_4() {
        // `sh` echoes what it reads on 3 to 4: the same wiring Chromium gets.
        let pipes = Pipes::new().unwrap();
        let mut command = tokio::process::Command::new("sh");
        command.args(["-c", "cat <&3 >&4"]);
        pipes.install(&mut command);
        let mut child = command.spawn().unwrap();
        let Pipes {
            to_browser,
            from_browser,
            ..
        } = pipes;
        let connection = Connection::start(to_browser, from_browser).unwrap();
        // The command comes back as itself: a message with its id and no
        // error, so an answer without a result.
        let answer = connection.call(None, "Echo.ping", json!({ "n": 1 })).await;
        assert_eq!(answer, Ok(Value::Null));
        let _ = child.kill().await;
    }
}
