//! GitHub's device flow (RFC 8628) and Copilot's token endpoint.
//!
//! `/github/login/device/code` hands out a device code with an `interval`
//! (1 s here). `/github/login/oauth/access_token` answers polls from a
//! script ([`DeviceStep`]; by default `authorization_pending`, `slow_down`,
//! then the token), with HTTP 200 and an `error` field as GitHub does. A
//! poll that comes before the interval in force has passed (counted from
//! the device code or the previous poll) is answered `slow_down` and
//! counted as too early, whatever the script says: so a client that
//! ignores the interval, or the larger interval `slow_down` announces,
//! never gets its token in the scripted number of polls.
//! `/github/copilot_internal/v2/token` turns a GitHub token
//! (`Authorization: token …`) into a Copilot token.

use super::super::http1::{Answer, Recorded};
use super::{State, form, json_answer};
use serde_json::json;
use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

/// One scripted answer to a device-flow poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceStep {
    Pending,
    /// `slow_down`, with the interval one second longer.
    SlowDown,
    /// The person approved: the access token.
    Token,
    /// `expired_token`: the device code ran out.
    Expired,
    /// `access_denied`: the person refused.
    Denied,
}

pub(super) struct Device {
    pub script: VecDeque<DeviceStep>,
    pub answers: Vec<String>,
    pub too_early: usize,
    pub interval: u64,
    current: Duration,
    last: Option<Instant>,
    codes: HashSet<String>,
    pub tokens: HashSet<String>,
}

impl Default for Device {
    fn default() -> Self {
        Device {
            script: [DeviceStep::Pending, DeviceStep::SlowDown, DeviceStep::Token].into(),
            answers: Vec::new(),
            too_early: 0,
            interval: 1,
            current: Duration::from_secs(1),
            last: None,
            codes: HashSet::new(),
            tokens: HashSet::new(),
        }
    }
}

fn wants_json(req: &Recorded) -> bool {
    req.header("accept")
        .is_some_and(|a| a.contains("application/json"))
}

/// GitHub answers form-encoded unless asked for JSON.
fn github_answer(req: &Recorded, body: serde_json::Value) -> Answer {
    if wants_json(req) {
        return json_answer(200, body);
    }
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in body.as_object().into_iter().flatten() {
        out.append_pair(k, &v.as_str().map(String::from).unwrap_or(v.to_string()));
    }
    Answer::Whole {
        status: 200,
        headers: vec![(
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        )],
        body: out.finish().into_bytes(),
    }
}

pub(super) fn device_code(s: &mut State, req: &Recorded) -> Answer {
    let f = form(req);
    if f.get("client_id").is_none_or(|c| c.is_empty()) {
        return json_answer(400, json!({"error": "unauthorized_client"}));
    }
    let code = s.mint("device");
    let d = &mut s.github;
    d.codes.insert(code.clone());
    d.current = Duration::from_secs(d.interval);
    d.last = Some(Instant::now());
    let verification = format!("http://127.0.0.1:{}/github/login/device", s.port);
    github_answer(
        req,
        json!({
            "device_code": code,
            "user_code": "WDJB-MJHT",
            "verification_uri": verification,
            "expires_in": 900,
            "interval": s.github.interval,
        }),
    )
}

pub(super) fn access_token(s: &mut State, req: &Recorded) -> Answer {
    let f = form(req);
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or_default();
    if get("grant_type") != "urn:ietf:params:oauth:grant-type:device_code" {
        return github_answer(req, json!({"error": "unsupported_grant_type"}));
    }
    if !s.github.codes.contains(get("device_code")) {
        return github_answer(req, json!({"error": "incorrect_device_code"}));
    }
    let d = &mut s.github;
    let now = Instant::now();
    let early = d
        .last
        .is_some_and(|last| now.duration_since(last) < d.current);
    d.last = Some(now);
    let step = if early {
        d.too_early += 1;
        DeviceStep::SlowDown
    } else {
        d.script.pop_front().unwrap_or(DeviceStep::Token)
    };
    let answer = match step {
        DeviceStep::Pending => json!({"error": "authorization_pending",
            "error_description": "The authorization request is still pending."}),
        DeviceStep::SlowDown => {
            d.current += Duration::from_secs(1);
            json!({"error": "slow_down", "interval": d.current.as_secs(),
                "error_description": "Too many requests have been made in the same timeframe."})
        }
        DeviceStep::Expired => json!({"error": "expired_token",
            "error_description": "The device_code has expired."}),
        DeviceStep::Denied => json!({"error": "access_denied",
            "error_description": "The authorization request was denied."}),
        DeviceStep::Token => {
            d.codes.remove(get("device_code"));
            let token = grant_token(s);
            json!({"access_token": token, "token_type": "bearer", "scope": "read:user"})
        }
    };
    let name = if early {
        "slow_down (too early)".to_string()
    } else {
        answer["error"].as_str().unwrap_or("token").to_string()
    };
    s.github.answers.push(name);
    github_answer(req, answer)
}

/// A new GitHub token that the Copilot token endpoint accepts.
pub(super) fn grant_token(s: &mut State) -> String {
    let token = s.mint("gho");
    s.github.tokens.insert(token.clone());
    token
}

pub(super) fn copilot_token(s: &mut State, req: &Recorded) -> Answer {
    let token = req
        .header("authorization")
        .and_then(|a| a.strip_prefix("token "))
        .unwrap_or_default();
    if !s.github.tokens.contains(token) {
        return json_answer(
            401,
            json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}),
        );
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let copilot = s.mint("tid=copilot");
    json_answer(
        200,
        json!({
            "token": format!("{copilot};exp={};sku=free", now + 1800),
            "expires_at": now + 1800,
            "refresh_in": 1500,
            "endpoints": {"api": format!("http://127.0.0.1:{}/copilot-api", s.port)},
        }),
    )
}
