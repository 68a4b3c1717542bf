//! The host is the authority on who a channel is. A channel component
//! names only what is its own:
//!
//! - its **channel id** is its manifest name without a leading `channel-`
//!   (`channel-telegram` → `telegram`), never what it says about itself;
//! - its **sessions** are `ID:…`; an event for any other session is refused;
//! - its **HTTP routes** are `/ID` and paths below `/ID/`, plus the
//!   first-party routes the host itself declares for it (the web page's
//!   `/ws`): a route elsewhere, or one already served, refuses the
//!   component.
//!
//! Each refusal names what was claimed and whose it is, and shows in
//! `openpista component list`.

/// Routes the host declares for first-party channels, outside their
/// prefix, because operators and clients already expect them there:
/// (path, component, the route the component declares for it).
pub const HOST_DECLARED_ROUTES: &[(&str, &str, &str)] = &[("/ws", "channel-web", "ws")];

/// The paths the host serves for `component`'s declared `routes`, each with
/// the route as declared: `/ID/ROUTE` (or `/ID` for the empty route), plus
/// any host-declared path for it. With `absolute` (a 0.1 channel) each
/// route is a path already and must lie under the prefix.
pub fn route_paths(
    component: &str,
    routes: &[String],
    absolute: bool,
) -> Result<Vec<(String, String)>, String> {
    let id = channel_id(component);
    let mut paths = Vec::new();
    for route in routes {
        if absolute {
            check_route(component, route)?;
            paths.push((route.clone(), route.clone()));
            continue;
        }
        if route.starts_with('/')
            || route.split('/').any(|s| s == ".." || s == ".")
            || route.contains(['?', '#', '\\'])
            || route.contains("//")
        {
            return Err(format!(
                "route {route:?} is not a plain path under the channel's prefix /{id}/"
            ));
        }
        let path = if route.is_empty() {
            format!("/{id}")
        } else {
            format!("/{id}/{route}")
        };
        paths.push((path, route.clone()));
        for (alias, owner, declared) in HOST_DECLARED_ROUTES {
            if *owner == component && declared == route {
                paths.push((alias.to_string(), route.clone()));
            }
        }
    }
    Ok(paths)
}

pub use crate::runtime::manifest::channel_id;

/// Whether `route` may be served for `component` (channel id `id`).
pub fn check_route(component: &str, route: &str) -> Result<(), String> {
    let id = channel_id(component);
    if HOST_DECLARED_ROUTES
        .iter()
        .any(|(r, owner, _)| *r == route && *owner == component)
    {
        return Ok(());
    }
    let prefix = format!("/{id}");
    let inside = route == prefix
        || route
            .strip_prefix(&prefix)
            .is_some_and(|rest| rest.starts_with('/'));
    if !inside || route.contains("/../") || route.ends_with("/..") || route.contains('?') {
        return Err(format!(
            "route {route:?} is outside its own prefix {prefix}/ (a channel's routes are /{id} and paths below it)"
        ));
    }
    Ok(())
}

/// Whether `session` belongs to channel `id`: `ID:` and something after.
pub fn check_session(id: &str, session: &str) -> Result<(), String> {
    match session.strip_prefix(id).and_then(|r| r.strip_prefix(':')) {
        Some(rest) if !rest.is_empty() => Ok(()),
        _ => Err(format!(
            "session {session:?} is not one of channel {id}'s (they are {id}:…)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_comes_from_the_manifest_name() {
        assert_eq!(channel_id("channel-telegram"), "telegram");
        assert_eq!(channel_id("matrix"), "matrix");
        assert_eq!(channel_id("channel-"), "channel-");
    }

    #[test]
    fn routes_stay_under_the_prefix_or_are_declared_by_the_host() {
        assert!(check_route("channel-telegram", "/telegram/webhook").is_ok());
        assert!(check_route("channel-telegram", "/telegram").is_ok());
        assert!(check_route("channel-web", "/ws").is_ok());
        for (component, route) in [
            ("channel-evil", "/ws"),
            ("channel-evil", "/"),
            ("channel-evil", "/telegram/webhook"),
            ("channel-evil", "/evilish"),
            ("channel-evil", "/evil/../health"),
            ("channel-evil", "/evil/x?y"),
        ] {
            let e = check_route(component, route).unwrap_err();
            assert!(e.contains("outside its own prefix /evil/"), "{route}: {e}");
        }
    }

    #[test]
    fn relative_routes_live_under_the_prefix_and_aliases_are_the_hosts() {
        let r = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            route_paths("channel-telegram", &r(&["webhook", ""]), false).unwrap(),
            [
                ("/telegram/webhook".to_string(), "webhook".to_string()),
                ("/telegram".to_string(), String::new())
            ]
        );
        assert_eq!(
            route_paths("channel-web", &r(&["ws"]), false).unwrap(),
            [
                ("/web/ws".to_string(), "ws".to_string()),
                ("/ws".to_string(), "ws".to_string())
            ]
        );
        // Only channel-web gets the host's /ws.
        assert_eq!(
            route_paths("channel-evil", &r(&["ws"]), false)
                .unwrap()
                .len(),
            1
        );
        for bad in ["/ws", "../health", "a/../../b", "x?y", "a//b"] {
            let e = route_paths("channel-evil", &r(&[bad]), false).unwrap_err();
            assert!(e.contains("not a plain path"), "{bad}: {e}");
        }
        assert!(route_paths("channel-evil", &r(&["/"]), true).is_err());
        assert!(route_paths("channel-evil", &r(&["/evil/hook"]), true).is_ok());
    }

    #[test]
    fn sessions_are_the_channels_own() {
        assert!(check_session("web", "web:abc").is_ok());
        assert!(check_session("telegram", "telegram:42:7").is_ok());
        for s in ["telegram:42", "web:", "web", "webx:1", ""] {
            assert!(check_session("web", s).is_err(), "{s}");
        }
    }
}
