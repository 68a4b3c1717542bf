//! `system.notify`: a desktop notification through the freedesktop
//! notification service, `org.freedesktop.Notifications.Notify` on the
//! session bus, with a title (the summary), a body, an urgency (the
//! `urgency` hint byte: 0 low, 1 normal, 2 critical) and an optional
//! expiry. It returns the id the service gave the notification.
//!
//! It speaks D-Bus through `zbus`, which implements the protocol in Rust:
//! a binding to libdbus would need its headers and library at build time,
//! which a machine with only rustup lacks (the reasoning `screen.rs` gives
//! for `x11rb`). The bus is the configured `bus_address`, else
//! `$DBUS_SESSION_BUS_ADDRESS`, else `$XDG_RUNTIME_DIR/bus`; a connection
//! is made per call, since notifications are rare.

use super::args;
use super::settings::NotifySettings;
use crate::runtime::CallContext;
use crate::runtime::bindings::{ToolResult, ToolSpec, WitError};
use crate::tools::NativeTool;
use serde::Deserialize;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use zbus::Variant;

pub const NAME: &str = "system.notify";

/// The well-known name, object and interface of the notification service.
pub const SERVICE: &str = "org.freedesktop.Notifications";
const PATH: &str = "/org/freedesktop/Notifications";

/// Longest title and body accepted, in characters.
const TITLE_CHARS: usize = 1_000;
const BODY_CHARS: usize = 20_000;
/// How long connecting to the bus may take.
const CONNECT_DEADLINE: Duration = Duration::from_secs(10);
/// How long the service may take to answer (the bus may have to start it:
/// dbus-daemon's own activation deadline is 25 s).
const CALL_DEADLINE: Duration = Duration::from_secs(30);

/// How urgent a notification is: the spec's `urgency` hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Urgency {
    Low,
    #[default]
    Normal,
    Critical,
}

impl Urgency {
    /// The hint's byte value.
    pub fn byte(self) -> u8 {
        match self {
            Urgency::Low => 0,
            Urgency::Normal => 1,
            Urgency::Critical => 2,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    urgency: Urgency,
    /// Seconds the notification stays; 0 keeps it until dismissed.
    #[serde(default)]
    timeout_secs: Option<f64>,
}

/// The `expire_timeout` argument of `Notify` in milliseconds: -1 leaves it
/// to the service, 0 never expires.
pub fn expire_timeout(secs: Option<f64>) -> Result<i32, String> {
    match secs {
        None => Ok(-1),
        Some(s) if s.is_finite() && s >= 0.0 => {
            Ok((s * 1000.0).round().min(i32::MAX as f64) as i32)
        }
        Some(s) => Err(format!(
            "timeout_secs must be 0 (until dismissed) or more seconds, not {s}"
        )),
    }
}

/// The `system.notify` tool.
pub struct SystemNotify {
    settings: NotifySettings,
}

impl SystemNotify {
    pub fn new(settings: NotifySettings) -> SystemNotify {
        SystemNotify { settings }
    }

    /// The bus address to use and how to name it in errors.
    fn address(&self) -> (Option<String>, String) {
        if let Some(a) = self.settings.bus_address.clone().filter(|a| !a.is_empty()) {
            let shown = format!("{a} ([native.notify] bus_address)");
            return (Some(a), shown);
        }
        match std::env::var("DBUS_SESSION_BUS_ADDRESS") {
            Ok(a) if !a.is_empty() => {
                let shown = format!("{a} (DBUS_SESSION_BUS_ADDRESS)");
                (Some(a), shown)
            }
            _ => {
                let dir = std::env::var("XDG_RUNTIME_DIR")
                    .unwrap_or_else(|_| format!("/run/user/{}", uid()));
                (
                    None,
                    format!(
                        "unix:path={dir}/bus (DBUS_SESSION_BUS_ADDRESS is unset, so the default)"
                    ),
                )
            }
        }
    }

    async fn connect(&self) -> Result<zbus::Connection, WitError> {
        let (address, shown) = self.address();
        let builder = match &address {
            Some(a) => zbus::connection::Builder::address(a.as_str()),
            None => zbus::connection::Builder::session(),
        };
        let no_bus = |why: String| {
            WitError::Unavailable(format!(
                "{NAME}: no session bus at {shown}: {why}; this machine may have no desktop session (set DBUS_SESSION_BUS_ADDRESS or [native.notify] bus_address)"
            ))
        };
        match tokio::time::timeout(
            CONNECT_DEADLINE,
            builder.method_timeout(CALL_DEADLINE).build(),
        )
        .await
        {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(no_bus(e.to_string())),
            Err(_) => Err(no_bus(format!(
                "no answer within {} s",
                CONNECT_DEADLINE.as_secs()
            ))),
        }
    }
}

/// Our user id, for the default bus path.
fn uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// A `Notify` failure in words the model can act on.
fn call_error(e: zbus::Error) -> WitError {
    let name = match &e {
        zbus::Error::FDO(fdo) => Some(zbus::DBusError::name(fdo.as_ref()).to_string()),
        zbus::Error::MethodError(name, _, _) => Some(name.to_string()),
        _ => None,
    };
    let absent = name.as_deref().is_some_and(|n| {
        n == "org.freedesktop.DBus.Error.ServiceUnknown"
            || n == "org.freedesktop.DBus.Error.NameHasNoOwner"
            || n.starts_with("org.freedesktop.DBus.Error.Spawn.")
    });
    if absent {
        return WitError::Unavailable(format!(
            "{NAME}: no notification service on the session bus ({SERVICE}): {e}. \
             Start a notification daemon (the desktop's own, dunst, mako) in the session"
        ));
    }
    match e {
        zbus::Error::InputOutput(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            WitError::Timeout(format!(
                "{NAME}: the notification service ({SERVICE}) did not answer within {} s",
                CALL_DEADLINE.as_secs()
            ))
        }
        other => WitError::Unavailable(format!("{NAME}: {SERVICE}.Notify failed: {other}")),
    }
}

impl NativeTool for SystemNotify {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: NAME.into(),
            description: "Show a desktop notification to the person at the computer (title, body, urgency) and return its id.".into(),
            parameters: serde_json::json!({
                "type": "object",
                "properties": {
                    "title": {"type": "string", "description": "One-line summary."},
                    "body": {"type": "string", "description": "More text; may be empty."},
                    "urgency": {"type": "string", "enum": ["low", "normal", "critical"], "description": "Default normal; critical stays until dismissed on most desktops."},
                    "timeout_secs": {"type": "number", "minimum": 0, "description": "Seconds it stays on screen; 0 until dismissed; the desktop's default when omitted."}
                },
                "required": ["title"],
                "additionalProperties": false
            })
            .to_string(),
        }
    }

    fn invoke<'a>(
        &'a self,
        arguments: &'a str,
        _context: &'a CallContext,
    ) -> Pin<Box<dyn Future<Output = Result<ToolResult, WitError>> + Send + 'a>> {
        Box::pin(async move {
            let a: Args = args::parse(NAME, arguments)?;
            let bad = |m: String| WitError::InvalidInput(format!("{NAME}: {m}"));
            if a.title.trim().is_empty() {
                return Err(bad("title is empty".into()));
            }
            if a.title.chars().count() > TITLE_CHARS {
                return Err(bad(format!(
                    "title is longer than {TITLE_CHARS} characters"
                )));
            }
            if a.body.chars().count() > BODY_CHARS {
                return Err(bad(format!("body is longer than {BODY_CHARS} characters")));
            }
            let timeout = expire_timeout(a.timeout_secs).map_err(bad)?;
            let conn = self.connect().await?;
            let hints = HashMap::from([("urgency", Variant::U8(a.urgency.byte()))]);
            let actions: Vec<&str> = Vec::new();
            let body = (
                self.settings.app_name.as_str(),
                0u32, // replaces_id: a new notification
                "",   // app_icon
                a.title.as_str(),
                a.body.as_str(),
                actions,
                hints,
                timeout,
            );
            let reply = conn
                .call_method(Some(SERVICE), PATH, Some(SERVICE), "Notify", &body)
                .await
                .map_err(call_error)?;
            let id: u32 = reply.body().deserialize().map_err(|e| {
                WitError::Internal(format!("{NAME}: unexpected reply to Notify: {e}"))
            })?;
            Ok(args::text(format!(
                "Notification {id} shown: {:?} ({} urgency).",
                a.title,
                match a.urgency {
                    Urgency::Low => "low",
                    Urgency::Normal => "normal",
                    Urgency::Critical => "critical",
                }
            )))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urgency_bytes_and_timeouts() {
        assert_eq!(
            [Urgency::Low, Urgency::Normal, Urgency::Critical].map(Urgency::byte),
            [0, 1, 2]
        );
        assert_eq!(expire_timeout(None), Ok(-1));
        assert_eq!(expire_timeout(Some(0.0)), Ok(0));
        assert_eq!(expire_timeout(Some(2.5)), Ok(2500));
        assert_eq!(expire_timeout(Some(1e12)), Ok(i32::MAX));
        assert!(expire_timeout(Some(-1.0)).is_err());
        assert!(expire_timeout(Some(f64::NAN)).is_err());
    }

    #[tokio::test]
    async fn bad_arguments_say_why() {
        let tool = SystemNotify::new(NotifySettings::default());
        let ctx = CallContext {
            session: None,
            call_id: "c".into(),
        };
        for (args, want) in [
            (r#"{"title":"  "}"#, "title is empty"),
            (
                r#"{"title":"x","urgency":"urgent"}"#,
                "unknown variant `urgent`",
            ),
            (
                r#"{"title":"x","timeout_secs":-3}"#,
                "timeout_secs must be 0",
            ),
            (r#"{"body":"x"}"#, "missing field `title`"),
        ] {
            let e = tool.invoke(args, &ctx).await.unwrap_err();
            assert!(
                matches!(&e, WitError::InvalidInput(m) if m.starts_with(NAME) && m.contains(want)),
                "{args}: {e:?}"
            );
        }
    }
}
