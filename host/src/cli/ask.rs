//! Asking for approval in the terminal (`chat`, `run`): the request on
//! stderr, a y/n/a answer read from stdin. Without a terminal on stdin
//! (a pipe, CI) nobody can be asked, and a call that needs approval is
//! not run.

use crate::agent::{TurnControl, TurnInput};
use crate::approvals::{Approvals, Asker, Outcome, Request};
use std::future::Future;
use std::io::IsTerminal;
use std::pin::Pin;
use std::sync::Arc;

/// Asks on the terminal for the turns of one session.
pub struct TerminalAsker {
    session: String,
}

/// A turn typed in the terminal, with an asker when stdin is a terminal.
pub fn terminal_input(session: &str, text: &str) -> TurnInput {
    let asker: Option<Arc<dyn Asker>> = if std::io::stdin().is_terminal() {
        Some(Arc::new(TerminalAsker {
            session: session.to_string(),
        }))
    } else {
        None
    };
    TurnInput {
        control: TurnControl {
            channel: None,
            asker,
        },
        ..TurnInput::text(text)
    }
}

/// Reads the answer: `y` approves, `a` allows for the session, anything
/// else (and end of input) rejects.
fn read_choice() -> Outcome {
    let mut line = String::new();
    match std::io::stdin().read_line(&mut line) {
        Ok(0) | Err(_) => Outcome::Rejected,
        Ok(_) => match line.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" => Outcome::Approved,
            "a" | "allow" => Outcome::Allowed,
            _ => Outcome::Rejected,
        },
    }
}

impl Asker for TerminalAsker {
    fn ask<'a>(
        &'a self,
        approvals: &'a Approvals,
        request: &'a Request,
    ) -> Pin<Box<dyn Future<Output = Outcome> + Send + 'a>> {
        Box::pin(async move {
            eprintln!("\napproval needed: {}", request.tool);
            for line in request.arguments.lines() {
                eprintln!("    {line}");
            }
            if let Some(folder) = &request.folder {
                eprintln!("    in {folder}");
            }
            eprint!("run it? [y]es / [n]o / [a]llow for this session: ");
            let read = tokio::task::spawn_blocking(read_choice);
            let outcome = match tokio::time::timeout(request.timeout, read).await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(_)) => Outcome::Rejected,
                Err(_) => {
                    eprintln!("(no answer in {} s: rejected)", request.timeout.as_secs());
                    Outcome::Expired
                }
            };
            if outcome == Outcome::Allowed {
                approvals.allow(&self.session, request);
            }
            outcome
        })
    }
}
