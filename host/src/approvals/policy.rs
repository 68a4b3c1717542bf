//! `[approvals]`: which tool calls run at once, which wait for a person,
//! which never run. Rules match a tool name pattern and a channel; among
//! the rules that match a call the strictest wins (deny, then ask, then
//! auto), and a call no rule matches gets the default: tools that act
//! outside the sandbox ask when the request came through a messenger or
//! the web page, everything else runs.

use super::shell;
pub use crate::tools::ToolKind;
use serde::Deserialize;

/// What happens to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Runs without asking.
    Auto,
    /// Waits for a person's approval.
    Ask,
    /// Never runs.
    Deny,
}

/// One `[[approvals.rules]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Tool name pattern; `*` matches any run of characters
    /// (`browser.*`).
    pub tool: String,
    /// Channel pattern: a channel id (`telegram`, `web`), `terminal` for
    /// the local `chat` and `run`, `*` (the default) for all.
    #[serde(default = "any")]
    pub channel: String,
    /// For `system.run` and `container.run`: a command pattern each
    /// segment of the shell line is judged against (`git *`). An `auto` or
    /// `ask` rule with one matches only when every segment matches and the
    /// line hides nothing (no `$(…)`, backticks, `sh -c`, `python -c`…); a
    /// `deny` rule matches when any segment does.
    #[serde(default)]
    pub command: Option<String>,
    pub action: Action,
}

fn any() -> String {
    "*".into()
}

/// The channel name the local terminal's turns (`chat`, `run`) carry.
pub const TERMINAL: &str = "terminal";

/// `*`-patterns: `*` matches any run of characters, everything else
/// itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

/// The tool's default when no rule matches.
pub fn default_action(kind: ToolKind, channel: &str) -> Action {
    let outside = match kind {
        ToolKind::Component => false,
        ToolKind::Native => true,
        ToolKind::Skill { outside_sandbox } => outside_sandbox,
    };
    if outside && channel != TERMINAL {
        Action::Ask
    } else {
        Action::Auto
    }
}

/// The command line a call of `tool` runs, for rules with `command`.
pub fn command_line<'a>(tool: &str, arguments: &'a serde_json::Value) -> Option<&'a str> {
    match tool {
        "system.run" | "container.run" => arguments.get("command")?.as_str(),
        _ => None,
    }
}

impl Rule {
    fn matches(&self, tool: &str, channel: &str, arguments: &serde_json::Value) -> bool {
        if !glob(&self.tool, tool) || !glob(&self.channel, channel) {
            return false;
        }
        let Some(pattern) = &self.command else {
            return true;
        };
        let Some(line) = command_line(tool, arguments) else {
            return false;
        };
        let parsed = shell::parse(line);
        let judged = |segment: &shell::Segment| glob(pattern, &segment.words.join(" "));
        if self.action == Action::Deny {
            // Deny when any part could be it, and when the line hides
            // what it runs.
            parsed.opaque.is_some() || parsed.segments.iter().any(judged)
        } else {
            parsed.opaque.is_none()
                && !parsed.segments.is_empty()
                && parsed.segments.iter().all(judged)
        }
    }
}

/// Decides a call: the strictest matching rule, else the default.
pub fn decide(
    rules: &[Rule],
    tool: &str,
    kind: ToolKind,
    channel: &str,
    arguments: &serde_json::Value,
) -> Action {
    rules
        .iter()
        .filter(|r| r.matches(tool, channel, arguments))
        .map(|r| r.action)
        .max()
        .unwrap_or_else(|| default_action(kind, channel))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(tool: &str, channel: &str, command: Option<&str>, action: Action) -> Rule {
        Rule {
            tool: tool.into(),
            channel: channel.into(),
            command: command.map(Into::into),
            action,
        }
    }

    #[test]
    fn globs() {
        assert!(glob("browser.*", "browser.open"));
        assert!(glob("*", ""));
        assert!(glob("a*c*e", "abcde"));
        assert!(!glob("a*c*e", "abde"));
        assert!(!glob("browser.*", "system.run"));
        assert!(glob("system.run", "system.run"));
        assert!(!glob("ab*ba", "aba"), "prefix and suffix may not overlap");
    }

    #[test]
    fn the_defaults_ask_for_outside_tools_from_messengers_only() {
        let args = json!({"command": "ls"});
        let none: &[Rule] = &[];
        for (tool, kind) in [
            ("system.run", ToolKind::Native),
            ("browser.open", ToolKind::Native),
            (
                "skill.deploy",
                ToolKind::Skill {
                    outside_sandbox: true,
                },
            ),
        ] {
            assert_eq!(
                decide(none, tool, kind, "web", &args),
                Action::Ask,
                "{tool}"
            );
            assert_eq!(decide(none, tool, kind, "telegram", &args), Action::Ask);
            assert_eq!(decide(none, tool, kind, TERMINAL, &args), Action::Auto);
        }
        for kind in [
            ToolKind::Component,
            ToolKind::Skill {
                outside_sandbox: false,
            },
        ] {
            assert_eq!(decide(none, "time.now", kind, "web", &args), Action::Auto);
        }
    }

    #[test]
    fn deny_wins_and_rules_override_the_default() {
        let args = json!({"command": "ls"});
        let rules = [
            rule("system.run", "*", None, Action::Auto),
            rule("system.*", "telegram", None, Action::Deny),
            rule("time.*", "*", None, Action::Ask),
        ];
        assert_eq!(
            decide(&rules, "system.run", ToolKind::Native, "web", &args),
            Action::Auto
        );
        assert_eq!(
            decide(&rules, "system.run", ToolKind::Native, "telegram", &args),
            Action::Deny
        );
        assert_eq!(
            decide(&rules, "time.now", ToolKind::Component, TERMINAL, &args),
            Action::Ask
        );
    }

    #[test]
    fn command_rules_judge_every_segment() {
        let auto = rule("system.run", "*", Some("git *"), Action::Auto);
        let deny = rule("system.run", "*", Some("rm *"), Action::Deny);
        let run = |rules: &[Rule], line: &str| {
            decide(
                rules,
                "system.run",
                ToolKind::Native,
                "web",
                &json!({"command": line}),
            )
        };
        let only_auto = [auto.clone()];
        assert_eq!(run(&only_auto, "git status"), Action::Auto);
        assert_eq!(run(&only_auto, "git status && git log -1"), Action::Auto);
        assert_eq!(
            run(&only_auto, "git status | sh"),
            Action::Ask,
            "sh is not git"
        );
        assert_eq!(run(&only_auto, "git status; curl x"), Action::Ask);
        assert_eq!(
            run(&only_auto, "git $(curl x)"),
            Action::Ask,
            "hides what it runs"
        );
        let both = [auto, deny];
        assert_eq!(run(&both, "git status"), Action::Auto);
        assert_eq!(run(&both, "git log && rm -rf /"), Action::Deny);
        assert_eq!(
            run(&both, "echo `rm -rf /`"),
            Action::Deny,
            "an opaque line never passes a deny rule"
        );
        assert_eq!(run(&both, "git status | sh"), Action::Deny);
    }
}
