//! Tool-call approval: the operator's policy (`[approvals]`), the requests
//! waiting for a person, who may answer them, and what a session has
//! allowed. `docs/APPROVALS.md` says why it works this way.
//!
//! The agent asks [`Approvals::check`] before each call. A call to ask
//! about becomes a [`Request`] with a short id; the front end that carried
//! the turn shows it (an [`Asker`]: the gateway for channels, a prompt in
//! the terminal) and waits; the answer comes back through
//! [`Approvals::answer`], which checks that it came from the place the
//! request was shown and from a person allowed to answer it.
//!
//! - [`policy`]: rules, defaults, glob patterns
//! - [`shell`]: a shell line as the commands it runs
//! - [`display`]: arguments as a person reads them

pub mod display;
pub mod policy;
pub mod shell;

use policy::{Action, Rule, ToolKind};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::oneshot;

/// `[approvals]` in the config.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalSettings {
    /// Seconds a request waits for an answer before it is rejected.
    pub timeout_secs: u64,
    /// `CHANNEL:CONVERSATION` (`telegram:12345`): every request from a
    /// channel is shown there instead of where the turn runs (a private
    /// chat with the owner rather than a group). When it cannot be
    /// reached, the call is rejected.
    pub approver: Option<String>,
    /// `CHANNEL:SENDER` entries who may answer any request shown in their
    /// channel, besides the person who asked.
    pub approvers: Vec<String>,
    /// Rules; among those matching a call, deny beats ask beats auto.
    pub rules: Vec<Rule>,
}

impl Default for ApprovalSettings {
    fn default() -> Self {
        ApprovalSettings {
            timeout_secs: 120,
            approver: None,
            approvers: Vec::new(),
            rules: Vec::new(),
        }
    }
}

impl ApprovalSettings {
    /// Checks what serde cannot: the `CHANNEL:…` forms and the patterns.
    pub fn validate(&self) -> Result<(), String> {
        let target = |what: &str, v: &str| match v.split_once(':') {
            Some((c, rest)) if !c.is_empty() && !rest.is_empty() => Ok(()),
            _ => Err(format!(
                "[approvals] {what} = {v:?}: expected CHANNEL:ID, such as \"telegram:12345\""
            )),
        };
        if let Some(a) = &self.approver {
            target("approver", a)?;
        }
        for a in &self.approvers {
            target("approvers", a)?;
        }
        if self.timeout_secs == 0 {
            return Err("[approvals] timeout_secs must be at least 1".into());
        }
        for (i, r) in self.rules.iter().enumerate() {
            if r.tool.trim().is_empty() {
                return Err(format!("[[approvals.rules]] {}: `tool` is empty", i + 1));
            }
            if r.command.is_some()
                && !["system.run", "container.run", "*"].contains(&r.tool.as_str())
            {
                return Err(format!(
                    "[[approvals.rules]] {}: `command` applies only to system.run and container.run, not {:?}",
                    i + 1,
                    r.tool
                ));
            }
        }
        Ok(())
    }
}

/// A person's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Approve,
    Reject,
    /// Approve, and allow the same call for the rest of the session.
    Allow,
}

impl Choice {
    /// The host command that carries it (`approve ID`…).
    pub fn from_command(name: &str) -> Option<Choice> {
        match name {
            "approve" => Some(Choice::Approve),
            "reject" => Some(Choice::Reject),
            "allow" => Some(Choice::Allow),
            _ => None,
        }
    }
}

/// How a call's approval ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The policy lets it run.
    Auto,
    /// The session allowed this call earlier.
    AllowedBefore,
    Approved,
    /// Approved, and allowed for the rest of the session.
    Allowed,
    Rejected,
    /// Nobody answered in time.
    Expired,
    /// The turn was stopped while it waited.
    Cancelled,
    /// The policy forbids it.
    Denied,
    /// No one could be asked; the reason.
    Unreachable(String),
}

impl Outcome {
    /// Whether the call runs.
    pub fn runs(&self) -> bool {
        matches!(
            self,
            Outcome::Auto | Outcome::AllowedBefore | Outcome::Approved | Outcome::Allowed
        )
    }

    /// One word for records and `session show`.
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Auto => "auto",
            Outcome::AllowedBefore => "allowed-earlier",
            Outcome::Approved => "approved",
            Outcome::Allowed => "allowed-for-session",
            Outcome::Rejected => "rejected",
            Outcome::Expired => "expired",
            Outcome::Cancelled => "cancelled",
            Outcome::Denied => "denied",
            Outcome::Unreachable(_) => "unreachable",
        }
    }

    /// What the model is told instead of a result when the call did not
    /// run, in words it can act on.
    pub fn for_model(&self, tool: &str) -> String {
        match self {
            Outcome::Rejected => format!(
                "not run: the user declined to run {tool}. Do not retry it; ask the user what they want instead."
            ),
            Outcome::Expired => format!(
                "not run: {tool} needed the user's approval and nobody answered in time. Tell the user it is waiting for their approval."
            ),
            Outcome::Cancelled => format!("not run: the user stopped the turn before {tool} ran."),
            Outcome::Denied => format!(
                "not run: the operator's approval policy forbids {tool} here. Do not retry it."
            ),
            Outcome::Unreachable(why) => format!(
                "not run: {tool} needs the user's approval and nobody could be asked ({why})."
            ),
            _ => String::new(),
        }
    }
}

/// A call waiting for a person, as front ends show it.
#[derive(Debug, Clone)]
pub struct Request {
    /// Short id (`[a-z0-9]{10}`): fits a Telegram button's data.
    pub id: String,
    pub tool: String,
    /// The arguments for a person: secrets redacted, long values cut.
    pub arguments: String,
    /// The folder the call runs in, when it names one.
    pub folder: Option<String>,
    pub timeout: Duration,
    /// What an allowance for it would cover; `None` when it cannot be
    /// allowed beyond this once (a shell line that hides what it runs).
    binding: Option<String>,
}

impl Request {
    /// Whether "allow for this session" can cover this call again. When
    /// not, an allowance approves it this once.
    pub fn allowable(&self) -> bool {
        self.binding.is_some()
    }
}

/// Where a request is shown and who may answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience {
    /// The channel it is shown in.
    pub channel: String,
    /// The session of the conversation it is shown in.
    pub session: String,
    /// Senders (in the channel's terms) who may answer.
    pub senders: Vec<String>,
}

/// Shows a request to a person and waits for the answer: the gateway for
/// channels, a prompt in the terminal.
pub trait Asker: Send + Sync {
    fn ask<'a>(
        &'a self,
        approvals: &'a Approvals,
        request: &'a Request,
    ) -> Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;
}

/// What [`Approvals::check`] decided.
#[derive(Debug)]
pub enum Check {
    /// Run it ([`Outcome::Auto`] or [`Outcome::AllowedBefore`]).
    Run(Outcome),
    /// Never run it.
    Deny,
    /// Ask a person.
    Ask(Request),
}

struct Waiting {
    audience: Audience,
    answer: oneshot::Sender<Choice>,
}

/// The approval service one host shares between its front ends.
pub struct Approvals {
    settings: ApprovalSettings,
    redact: Box<dyn Fn(&str) -> String + Send + Sync>,
    waiting: Mutex<HashMap<String, Waiting>>,
    /// Bindings each session allowed.
    allowed: Mutex<HashMap<String, HashSet<String>>>,
}

impl std::fmt::Debug for Approvals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Approvals")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Default for Approvals {
    fn default() -> Self {
        Approvals::new(ApprovalSettings::default(), |t| t.to_string())
    }
}

/// What an allowance for a call covers. For the shell tools, the exact
/// call: the command line written canonically (quoting and spacing aside,
/// the same commands run the same way) and every other argument (folder,
/// image, network, limits…), so an allowance for `ls` in a container
/// without network does not cover `ls` with it. `None` for a line that
/// hides what it runs: it is never covered, it asks each time. Other
/// tools: the tool, as "allow this tool for this session" says.
fn binding(tool: &str, arguments: &serde_json::Value) -> Option<String> {
    let Some(line) = policy::command_line(tool, arguments) else {
        return Some(tool.to_string());
    };
    let parsed = shell::parse(line);
    if parsed.opaque.is_some() {
        return None;
    }
    // The other arguments. serde_json's map keeps keys sorted (the
    // `preserve_order` feature is off), so their order in the call does
    // not count; a test pins that.
    let mut rest = arguments.clone();
    if let Some(map) = rest.as_object_mut() {
        map.remove("command");
    }
    Some(format!("{tool}\u{0}{}\u{0}{rest}", parsed.canonical()))
}

fn new_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..10)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

impl Approvals {
    /// The service for `settings`; `redact` hides the secret store's
    /// values in what is shown.
    pub fn new(
        settings: ApprovalSettings,
        redact: impl Fn(&str) -> String + Send + Sync + 'static,
    ) -> Approvals {
        Approvals {
            settings,
            redact: Box::new(redact),
            waiting: Mutex::new(HashMap::new()),
            allowed: Mutex::new(HashMap::new()),
        }
    }

    pub fn settings(&self) -> &ApprovalSettings {
        &self.settings
    }

    /// How long a request waits.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.settings.timeout_secs.max(1))
    }

    /// The approver chat, as channel and conversation, when requests are
    /// routed to one.
    pub fn approver(&self) -> Option<(&str, &str)> {
        self.settings.approver.as_deref()?.split_once(':')
    }

    /// Senders of `channel` the operator named as approvers.
    pub fn approvers_in(&self, channel: &str) -> Vec<String> {
        self.settings
            .approvers
            .iter()
            .filter_map(|a| a.split_once(':'))
            .filter(|(c, _)| *c == channel)
            .map(|(_, s)| s.to_string())
            .collect()
    }

    /// Decides a call of `tool` in `session`, which came through
    /// `channel` ([`policy::TERMINAL`] for the local terminal).
    pub fn check(
        &self,
        session: &str,
        channel: &str,
        tool: &str,
        kind: ToolKind,
        arguments: &str,
    ) -> Check {
        let parsed: serde_json::Value =
            serde_json::from_str(arguments).unwrap_or(serde_json::Value::Null);
        match policy::decide(&self.settings.rules, tool, kind, channel, &parsed) {
            Action::Auto => Check::Run(Outcome::Auto),
            Action::Deny => Check::Deny,
            Action::Ask => {
                let binding = binding(tool, &parsed);
                let allowed = self
                    .allowed
                    .lock()
                    .unwrap()
                    .get(session)
                    .is_some_and(|set| binding.as_ref().is_some_and(|b| set.contains(b)));
                if allowed {
                    return Check::Run(Outcome::AllowedBefore);
                }
                Check::Ask(Request {
                    id: new_id(),
                    tool: tool.to_string(),
                    arguments: display::arguments(arguments, &self.redact),
                    folder: parsed
                        .get("cwd")
                        .and_then(|v| v.as_str())
                        .map(|s| (self.redact)(s)),
                    timeout: self.timeout(),
                    binding,
                })
            }
        }
    }

    /// Opens `request` for answers from `audience`; the receiver gets the
    /// answer. [`Approvals::close`] it when the wait ends otherwise.
    pub fn open(&self, request: &Request, audience: Audience) -> oneshot::Receiver<Choice> {
        let (tx, rx) = oneshot::channel();
        self.waiting.lock().unwrap().insert(
            request.id.clone(),
            Waiting {
                audience,
                answer: tx,
            },
        );
        rx
    }

    /// Stops waiting for `id`.
    pub fn close(&self, id: &str) {
        self.waiting.lock().unwrap().remove(id);
    }

    /// Requests waiting now.
    pub fn waiting(&self) -> usize {
        self.waiting.lock().unwrap().len()
    }

    /// An answer to request `id`, from `sender` in `session` of `channel`.
    /// Refused, with a sentence for the person, when no such request
    /// waits, when it was shown elsewhere, or when the sender may not
    /// answer it.
    pub fn answer(
        &self,
        id: &str,
        channel: &str,
        session: &str,
        sender: &str,
        choice: Choice,
    ) -> Result<(), String> {
        let mut waiting = self.waiting.lock().unwrap();
        let Some(w) = waiting.get(id) else {
            return Err(format!(
                "No approval request {id} is waiting: it was answered, expired or stopped."
            ));
        };
        if w.audience.channel != channel || w.audience.session != session {
            return Err(format!("Approval request {id} was not asked here."));
        }
        if !w.audience.senders.iter().any(|s| s == sender) {
            return Err(format!(
                "Only the person who asked (or an approver) may answer approval request {id}."
            ));
        }
        let w = waiting.remove(id).expect("checked above");
        let _ = w.answer.send(choice);
        Ok(())
    }

    /// Allows `request`'s call for the rest of `session`.
    /// A request that is not [`Request::allowable`] is not remembered.
    pub fn allow(&self, session: &str, request: &Request) {
        let Some(binding) = &request.binding else {
            return;
        };
        self.allowed
            .lock()
            .unwrap()
            .entry(session.to_string())
            .or_default()
            .insert(binding.clone());
    }

    /// Forgets what `session` allowed (a new or cleared session).
    pub fn forget(&self, session: &str) {
        self.allowed.lock().unwrap().remove(session);
    }

    /// Waits for the answer to an opened request under its timeout and
    /// records an allowance; closes it either way.
    pub async fn wait(
        &self,
        session: &str,
        request: &Request,
        answer: oneshot::Receiver<Choice>,
    ) -> Outcome {
        let outcome = match tokio::time::timeout(request.timeout, answer).await {
            Ok(Ok(Choice::Approve)) => Outcome::Approved,
            // Allowing what cannot be allowed again approves it once.
            Ok(Ok(Choice::Allow)) if !request.allowable() => Outcome::Approved,
            Ok(Ok(Choice::Allow)) => {
                self.allow(session, request);
                Outcome::Allowed
            }
            Ok(Ok(Choice::Reject)) => Outcome::Rejected,
            Ok(Err(_)) => Outcome::Cancelled,
            Err(_) => Outcome::Expired,
        };
        self.close(&request.id);
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approvals() -> Approvals {
        Approvals::default()
    }

    fn ask(a: &Approvals, session: &str, line: &str) -> Check {
        let args = serde_json::json!({"command": line}).to_string();
        a.check(session, "web", "system.run", ToolKind::Native, &args)
    }

    fn audience() -> Audience {
        Audience {
            channel: "telegram".into(),
            session: "telegram:-100".into(),
            senders: vec!["7".into()],
        }
    }

    #[tokio::test]
    async fn an_allowance_covers_that_line_only() {
        let a = approvals();
        let Check::Ask(request) = ask(&a, "web:s", "echo hi") else {
            panic!("asks by default from the web")
        };
        assert_eq!(request.id.len(), 10);
        a.allow("web:s", &request);
        assert!(matches!(
            ask(&a, "web:s", "echo   'hi'"),
            Check::Run(Outcome::AllowedBefore)
        ));
        for other in [
            "echo ho",
            "echo hi | sh",
            "echo hi; rm -rf ~",
            "echo hi && curl x",
            "echo hi $(id)",
        ] {
            assert!(matches!(ask(&a, "web:s", other), Check::Ask(_)), "{other}");
        }
        assert!(
            matches!(ask(&a, "web:other", "echo hi"), Check::Ask(_)),
            "another session asks again"
        );
        let in_tmp = serde_json::json!({"command": "echo hi", "cwd": "/tmp"}).to_string();
        assert!(matches!(
            a.check("web:s", "web", "system.run", ToolKind::Native, &in_tmp),
            Check::Ask(_)
        ));
    }

    #[tokio::test]
    async fn quoted_operators_and_redirections_are_not_covered() {
        let a = approvals();
        let Check::Ask(request) = ask(&a, "web:s", "echo 'x ; rm y'") else {
            panic!()
        };
        a.allow("web:s", &request);
        for other in ["echo x ; rm y", "echo x; rm y", "echo x > y"] {
            assert!(matches!(ask(&a, "web:s", other), Check::Ask(_)), "{other}");
        }
        assert!(matches!(
            ask(&a, "web:s", "echo \"x ; rm y\""),
            Check::Run(Outcome::AllowedBefore)
        ));
    }

    #[tokio::test]
    async fn a_line_that_hides_what_it_runs_is_allowed_once_only() {
        let a = approvals();
        for line in ["echo hi | sh", "python3 -c 'print(1)'", "echo $(id)"] {
            let Check::Ask(request) = ask(&a, "web:s", line) else {
                panic!("{line} asks")
            };
            assert!(!request.allowable(), "{line}");
            let rx = a.open(&request, audience());
            a.answer(&request.id, "telegram", "telegram:-100", "7", Choice::Allow)
                .unwrap();
            assert_eq!(a.wait("web:s", &request, rx).await, Outcome::Approved);
            assert!(
                matches!(ask(&a, "web:s", line), Check::Ask(_)),
                "{line} asks again"
            );
        }
    }

    #[test]
    fn a_container_allowance_covers_the_same_arguments_only() {
        let a = approvals();
        let call = |args: serde_json::Value| {
            a.check(
                "web:s",
                "web",
                "container.run",
                ToolKind::Native,
                &args.to_string(),
            )
        };
        let first = serde_json::json!({"command": "ls", "image": "alpine", "network": false});
        let Check::Ask(request) = call(first) else {
            panic!()
        };
        a.allow("web:s", &request);
        assert!(matches!(
            call(serde_json::json!({"network": false, "image": "alpine", "command": "ls"})),
            Check::Run(Outcome::AllowedBefore)
        ));
        for other in [
            serde_json::json!({"command": "ls", "image": "alpine", "network": true}),
            serde_json::json!({"command": "ls", "image": "alpine"}),
            serde_json::json!({"command": "ls", "image": "debian", "network": false}),
            serde_json::json!({"command": "ls", "image": "alpine", "network": false, "memory_mb": 4096}),
        ] {
            assert!(matches!(call(other.clone()), Check::Ask(_)), "{other}");
        }
    }

    #[tokio::test]
    async fn only_the_audience_may_answer_once() {
        let a = approvals();
        let Check::Ask(request) = ask(&a, "telegram:-100", "ls") else {
            panic!()
        };
        let rx = a.open(&request, audience());
        let id = request.id.clone();
        assert!(
            a.answer(&id, "telegram", "telegram:-100", "8", Choice::Approve)
                .unwrap_err()
                .contains("Only the person who asked")
        );
        assert!(
            a.answer(&id, "web", "web:x", "7", Choice::Approve)
                .unwrap_err()
                .contains("not asked here")
        );
        a.answer(&id, "telegram", "telegram:-100", "7", Choice::Allow)
            .unwrap();
        assert!(
            a.answer(&id, "telegram", "telegram:-100", "7", Choice::Approve)
                .unwrap_err()
                .contains("is waiting")
        );
        assert_eq!(
            a.wait("telegram:-100", &request, rx).await,
            Outcome::Allowed
        );
        assert!(matches!(
            ask(&a, "telegram:-100", "ls"),
            Check::Run(Outcome::AllowedBefore)
        ));
    }

    #[tokio::test]
    async fn an_unanswered_request_expires() {
        let a = Approvals::new(
            ApprovalSettings {
                timeout_secs: 1,
                ..Default::default()
            },
            |t| t.to_string(),
        );
        let Check::Ask(request) = ask(&a, "web:s", "ls") else {
            panic!()
        };
        let rx = a.open(&request, audience());
        assert_eq!(a.wait("web:s", &request, rx).await, Outcome::Expired);
        assert_eq!(a.waiting(), 0);
        assert!(
            Outcome::Expired
                .for_model("system.run")
                .contains("nobody answered")
        );
        assert!(
            Outcome::Rejected
                .for_model("system.run")
                .contains("the user declined to run system.run")
        );
    }

    #[test]
    fn settings_are_checked() {
        let bad = ApprovalSettings {
            approver: Some("telegram".into()),
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("CHANNEL:ID"));
        let bad = ApprovalSettings {
            rules: vec![Rule {
                tool: "browser.*".into(),
                channel: "*".into(),
                command: Some("x".into()),
                action: Action::Auto,
            }],
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("applies only to"));
        assert!(ApprovalSettings::default().validate().is_ok());
    }
}
