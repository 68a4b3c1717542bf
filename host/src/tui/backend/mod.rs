//! Where the TUI's effects go: the agent in this process, or a running
//! server. Both report through the same [`Event`](super::Event)s.

pub mod attached;
pub mod local;
pub mod workers;

use super::action::{Action, Effect, Event, HomeInfo, LoginRow, ModelRow, Query};
use std::future::Future;
use std::pin::Pin;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Carries out effects; reports back through the action channel it was
/// made with. `handle` never blocks: work runs on tasks.
pub trait Backend: Send {
    fn handle(&mut self, effect: Effect);
    /// Stops what runs (a turn, the connection) before the process exits.
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()>;
}

/// What the wiring knows and the TUI shows: the facts of Home, the model
/// catalogue, sign-in states, and the panels (components, skills, the
/// channels' states). The command line implements it, from the running
/// server's control socket when there is one.
pub trait Services: Send + Sync + 'static {
    fn home(&self) -> BoxFuture<'_, HomeInfo>;
    /// `provider/model` rows; `current` is what `session` uses.
    fn models(&self, current: Option<String>) -> BoxFuture<'_, Vec<ModelRow>>;
    fn logins(&self) -> BoxFuture<'_, Vec<LoginRow>>;
    /// A panel's title and lines, or an error to show.
    fn panel(&self, query: Query) -> BoxFuture<'_, Result<(String, Vec<String>), String>>;
}

/// Asks `services` for a panel or Home's facts, on a task; the answer
/// comes back as an event. Both back ends answer these alike.
pub fn ask(
    services: &std::sync::Arc<dyn Services>,
    tx: &tokio::sync::mpsc::UnboundedSender<Action>,
    query: Query,
) {
    let services = services.clone();
    let tx = tx.clone();
    tokio::spawn(async move {
        let event = match query {
            Query::Home => Event::Home(services.home().await),
            other => match services.panel(other).await {
                Ok((title, lines)) => Event::Panel { title, lines },
                Err(text) => Event::Message { text, error: true },
            },
        };
        let _ = tx.send(Action::Backend(event));
    });
}

/// The sign-in states, on a task, as [`Event::Logins`].
pub fn logins(
    services: &std::sync::Arc<dyn Services>,
    tx: &tokio::sync::mpsc::UnboundedSender<Action>,
) {
    let services = services.clone();
    let tx = tx.clone();
    tokio::spawn(async move {
        let rows = services.logins().await;
        let _ = tx.send(Action::Backend(Event::Logins(rows)));
    });
}
