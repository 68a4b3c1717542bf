//! Running one call in a fresh store: the deadline (epochs plus a tokio
//! timeout as a backstop), optional fuel, and turning traps into errors
//! that say what the guest did.

use super::bindings::WitError;
use super::state::CallState;
use std::time::{Duration, Instant};
use wasmtime::{Store, Trap, UpdateDeadline};

/// How a component call failed.
#[derive(Debug, Clone)]
pub enum CallError {
    /// The component returned an error value.
    Guest(WitError),
    /// The call ran past its deadline and was stopped.
    Timeout { component: String, ms: u64 },
    /// The guest tried to grow memory past its cap.
    MemoryLimit { component: String, mb: u64 },
    /// The guest's stack overflowed (runaway recursion).
    StackOverflow { component: String },
    /// The guest used up its fuel.
    OutOfFuel { component: String },
    /// The guest panicked or hit `unreachable`.
    Panic { component: String, message: String },
    /// Any other trap or host failure.
    Trap { component: String, message: String },
    /// The component (or tool) is not loaded.
    NotLoaded(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Guest(e) => f.write_str(&super::bindings::error_text(e)),
            CallError::Timeout { component, ms } => {
                write!(
                    f,
                    "component {component} ran past its deadline of {ms} ms and was stopped"
                )
            }
            CallError::MemoryLimit { component, mb } => write!(
                f,
                "component {component} tried to use more than its memory limit of {mb} MiB and was stopped"
            ),
            CallError::StackOverflow { component } => write!(
                f,
                "component {component} overflowed its stack (runaway recursion) and was stopped"
            ),
            CallError::OutOfFuel { component } => {
                write!(f, "component {component} used up its fuel and was stopped")
            }
            CallError::Panic { component, message } => {
                write!(f, "component {component} panicked: {message}")
            }
            CallError::Trap { component, message } => {
                write!(f, "component {component} failed: {message}")
            }
            CallError::NotLoaded(what) => write!(f, "{what} is not loaded"),
        }
    }
}

impl std::error::Error for CallError {}

/// Arms a store's deadline: the guest yields to the executor every epoch
/// tick and traps once `timeout` has passed. Fuel, when metered, is set too.
/// The call counts as under way (the epoch ticker runs) while the returned
/// guard lives: hold it across the call, so a call abandoned at an await
/// (its future dropped) gives it back too.
#[must_use = "the epoch ticker runs only while the guard lives"]
pub fn arm(
    store: &mut Store<CallState>,
    timeout: Duration,
    fuel: u64,
    metered: bool,
) -> super::engine::GuestCall {
    let running = super::engine::GuestCall::begin();
    let deadline = Instant::now() + timeout;
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline {
            Ok(UpdateDeadline::Interrupt)
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
    });
    if metered {
        let _ = store.set_fuel(if fuel == 0 { u64::MAX } else { fuel });
    }
    running
}

/// A store made for more than one call (a channel's instance, a stream, a
/// reused tool) has been instantiated: the guard it was made with, which
/// covered the instantiation, ends. Each later call arms its own.
pub fn settle(store: &mut Store<CallState>) {
    store.data_mut().call = None;
}

/// Classifies a wasmtime error from a call of `component`, and counts it
/// in the trap metrics.
pub fn classify(
    err: wasmtime::Error,
    state: &CallState,
    timeout_ms: u64,
    memory_mb: u64,
) -> CallError {
    let error = classify_trap(err, state, timeout_ms, memory_mb);
    count_trap(&error);
    error
}

/// Counts `error` in `openpista_component_traps_total` under its kind.
fn count_trap(error: &CallError) {
    let (component, kind) = match error {
        CallError::Timeout { component, .. } => (component, "timeout"),
        CallError::MemoryLimit { component, .. } => (component, "memory_limit"),
        CallError::StackOverflow { component } => (component, "stack_overflow"),
        CallError::OutOfFuel { component } => (component, "out_of_fuel"),
        CallError::Panic { component, .. } => (component, "panic"),
        CallError::Trap { component, .. } => (component, "trap"),
        CallError::Guest(_) | CallError::NotLoaded(_) => return,
    };
    crate::telemetry::metrics::trap(component, kind);
}

fn classify_trap(
    err: wasmtime::Error,
    state: &CallState,
    timeout_ms: u64,
    memory_mb: u64,
) -> CallError {
    let component = state.ctx.name.to_string();
    let redact = |s: &str| state.ctx.grants.outbound.secrets.redact(s).into_owned();
    match err.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => {
            return CallError::Timeout {
                component,
                ms: timeout_ms,
            };
        }
        Some(Trap::StackOverflow) => return CallError::StackOverflow { component },
        Some(Trap::OutOfFuel) => return CallError::OutOfFuel { component },
        Some(Trap::UnreachableCodeReached) => {
            let message = panic_message(&state.stderr.text())
                .unwrap_or_else(|| "the guest reached `unreachable` (a panic or abort)".into());
            return CallError::Panic {
                component,
                message: redact(&message),
            };
        }
        // Rust and C guests keep a second stack in linear memory; when it
        // runs out the stack pointer wraps below zero and the next access
        // faults at the top of the 32-bit address space.
        Some(Trap::MemoryOutOfBounds) if shadow_stack_fault(&format!("{err:#}")) => {
            return CallError::StackOverflow { component };
        }
        _ => {}
    }
    let text = format!("{err:#}");
    if text.contains("growing memory") || text.contains("memory minimum size") {
        return CallError::MemoryLimit {
            component,
            mb: memory_mb,
        };
    }
    CallError::Trap {
        component,
        message: redact(&text),
    }
}

/// The panic message a Rust guest printed to stderr, with its location:
/// `thread '..' panicked at src/lib.rs:3:5:\nboom` becomes `boom (at src/lib.rs:3:5)`.
fn panic_message(stderr: &str) -> Option<String> {
    let lines: Vec<&str> = stderr.lines().collect();
    let at = lines.iter().rposition(|l| l.contains("panicked at"))?;
    let location = lines[at]
        .split("panicked at")
        .nth(1)
        .map(|l| l.trim().trim_end_matches(':').to_string())
        .unwrap_or_default();
    let message: Vec<&str> = lines[at + 1..]
        .iter()
        .take_while(|l| !l.starts_with("note:"))
        .copied()
        .collect();
    let message = message.join("\n");
    Some(if message.is_empty() {
        format!("panicked at {location}")
    } else {
        format!("{message} (at {location})")
    })
}

fn shadow_stack_fault(text: &str) -> bool {
    text.split("wasm address 0x")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_hexdigit()).next())
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .is_some_and(|addr| (0xfff0_0000..=0xffff_ffff).contains(&addr))
}

/// `CallError::Timeout` for a call the tokio backstop had to cancel (the
/// guest was blocked in a host call rather than running).
pub fn backstop_timeout(component: &str, ms: u64) -> CallError {
    let error = CallError::Timeout {
        component: component.to_string(),
        ms,
    };
    count_trap(&error);
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages_are_extracted() {
        let stderr = "\nthread '<unnamed>' (1) panicked at src/lib.rs:73:32:\nhostile panic: boom\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(
            panic_message(stderr).unwrap(),
            "hostile panic: boom (at src/lib.rs:73:32)"
        );
        assert_eq!(panic_message("no panic here"), None);
    }

    #[test]
    fn shadow_stack_faults_are_recognised() {
        assert!(shadow_stack_fault(
            "memory fault at wasm address 0xffffffc0 in linear memory of size 0x110000"
        ));
        assert!(!shadow_stack_fault(
            "memory fault at wasm address 0x1000 in linear memory"
        ));
    }
}
