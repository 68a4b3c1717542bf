//! A local stand-in for the sign-in endpoints of OpenAI, Anthropic,
//! OpenRouter and GitHub (Copilot), on one loopback server (127.0.0.1, a
//! port from the OS), each under its own path prefix:
//!
//! - `/openai/oauth/authorize`, `/openai/oauth/token` (authorisation code,
//!   refresh and token exchange grants, form-encoded);
//! - `/anthropic/oauth/authorize`, `/anthropic/v1/oauth/token` (JSON) and
//!   `/anthropic/oauth/code/callback`, the page that shows `code#state`;
//! - `/openrouter/auth`, `/openrouter/api/v1/auth/keys`;
//! - `/github/login/device/code`, `/github/login/oauth/access_token`,
//!   `/github/copilot_internal/v2/token`.
//!
//! The authorize endpoints answer a consent page with an Allow button
//! (`<button id="allow">`); its form leads to `/consent`, which issues a
//! code bound to the client id, redirect URI and S256 challenge it was
//! asked with, and redirects (302) to the redirect URI with `code` and
//! `state`. The token endpoints check all of it, as the real ones do, with
//! their real error shapes: a wrong `code_verifier`, a reused code, another
//! redirect URI or client id is `400 invalid_grant`. Every request is
//! recorded; refresh grants are counted per provider.

mod anthropic;
mod github;
mod openai;
mod openrouter;

use super::http1::{Answer, Recorded, serve};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

pub use github::DeviceStep;

/// The double. Cheap to clone; clones share the state.
#[derive(Clone)]
pub struct OAuthDouble {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

/// One authorisation request waiting for the person's consent.
#[derive(Clone, Debug)]
struct Pending {
    provider: &'static str,
    client_id: String,
    redirect_uri: String,
    challenge: String,
    state: Option<String>,
}

/// An issued authorisation code.
#[derive(Clone, Debug)]
struct Code {
    grant: Pending,
    used: bool,
}

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    next: u64,
    port: u16,
    pending: HashMap<String, Pending>,
    codes: HashMap<String, Code>,
    /// Live refresh tokens → provider.
    refresh_tokens: HashMap<String, &'static str>,
    /// Providers whose refresh tokens are all treated as expired.
    refresh_expired: HashSet<&'static str>,
    refresh_grants: HashMap<&'static str, usize>,
    /// Issued OpenAI id_tokens (subject tokens of the token exchange).
    id_tokens: HashSet<String>,
    /// Redirect with this `state` instead of the one asked for.
    forged_state: Option<String>,
    github: github::Device,
}

impl State {
    /// A fresh token-like value: `prefix`, the double's port, a counter.
    fn mint(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}_{}_{}_q7Zk", self.port, self.next)
    }
}

impl OAuthDouble {
    /// Starts the double on 127.0.0.1 at a free port.
    pub async fn start() -> OAuthDouble {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let addr = serve(Arc::new(move |req: Recorded| {
            let mut s = shared.lock().unwrap();
            s.requests.push(req.clone());
            route(&mut s, &req)
        }))
        .await;
        state.lock().unwrap().port = addr.port();
        OAuthDouble { addr, state }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `[auth.*]` tables pointing every provider at this double, with the
    /// loopback redirects on any free port (`redirect_port = 0`).
    pub fn auth_config(&self) -> String {
        format!(
            r#"
[auth.openai]
authorize_url = "{u}/openai/oauth/authorize"
token_url = "{u}/openai/oauth/token"
redirect_port = 0
login_timeout_secs = 60

[auth.anthropic]
authorize_url = "{u}/anthropic/oauth/authorize"
token_url = "{u}/anthropic/v1/oauth/token"
redirect_uri = "{u}/anthropic/oauth/code/callback"

[auth.openrouter]
authorize_url = "{u}/openrouter/auth"
keys_url = "{u}/openrouter/api/v1/auth/keys"
redirect_port = 0
login_timeout_secs = 60

[auth.copilot]
device_code_url = "{u}/github/login/device/code"
token_url = "{u}/github/login/oauth/access_token"
copilot_token_url = "{u}/github/copilot_internal/v2/token"
"#,
            u = self.url("")
        )
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// How many requests went to `path` (without the query).
    pub fn count(&self, path: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.path.split('?').next() == Some(path))
            .count()
    }

    /// Refresh grants `provider`'s token endpoint answered (successfully
    /// or not): "exactly one refresh" is checked on this.
    pub fn refresh_grants(&self, provider: &str) -> usize {
        let s = self.state.lock().unwrap();
        s.refresh_grants
            .iter()
            .filter(|(p, _)| **p == provider)
            .map(|(_, n)| *n)
            .sum()
    }

    /// From now on `provider`'s refresh tokens are expired: refresh grants
    /// get `400 invalid_grant`.
    pub fn expire_refresh_tokens(&self, provider: &str) {
        let p = provider_name(provider);
        self.state.lock().unwrap().refresh_expired.insert(p);
    }

    /// Consent redirects carry `state` instead of the requested one (a
    /// forged or crossed callback).
    pub fn forge_state(&self, state: &str) {
        self.state.lock().unwrap().forged_state = Some(state.to_string());
    }

    /// A credential as a completed sign-in to `provider` (openai,
    /// anthropic or copilot) would store it, with a refresh token this
    /// double accepts and the access token expiring at `expires_at`.
    pub fn signed_in(&self, provider: &str, expires_at: i64) -> openpista::auth::Credential {
        let mut s = self.state.lock().unwrap();
        let p = provider_name(provider);
        let refresh = if p == "copilot" {
            github::grant_token(&mut s)
        } else {
            let r = s.mint(&format!("{p}_rt"));
            s.refresh_tokens.insert(r.clone(), p);
            r
        };
        openpista::auth::Credential {
            method: openpista::auth::Method::OAuth,
            access_token: s.mint(&format!("{p}_at")),
            refresh_token: Some(refresh),
            expires_at: Some(expires_at),
            account_id: Some(format!("{p}-account")),
            email: Some("person@example.com".into()),
            extra: Default::default(),
        }
    }

    /// Scripts the answers of the device-flow token endpoint; see
    /// [`DeviceStep`]. The default is one `authorization_pending`, one
    /// `slow_down`, then the token.
    pub fn script_device_flow(&self, steps: Vec<DeviceStep>) {
        self.state.lock().unwrap().github.script = steps.into();
    }

    /// The device poll answers given, in order (`authorization_pending`,
    /// `slow_down`, `token`, ...), and how many polls came before the
    /// interval then in force had passed.
    pub fn device_polls(&self) -> (Vec<String>, usize) {
        let s = self.state.lock().unwrap();
        (s.github.answers.clone(), s.github.too_early)
    }

    /// The Copilot device flow's interval, in seconds (default 1).
    pub fn set_device_interval(&self, secs: u64) {
        self.state.lock().unwrap().github.interval = secs;
    }

    /// Revokes every GitHub token: the Copilot token endpoint answers 401.
    pub fn revoke_github_tokens(&self) {
        self.state.lock().unwrap().github.tokens.clear();
    }
}

/// The `&'static str` of a provider name this double plays.
fn provider_name(p: &str) -> &'static str {
    match p {
        "openai" => "openai",
        "anthropic" => "anthropic",
        "openrouter" => "openrouter",
        "copilot" => "copilot",
        other => panic!("the OAuth double does not play {other:?}"),
    }
}

fn route(s: &mut State, req: &Recorded) -> Answer {
    let path = req.path.split('?').next().unwrap_or_default();
    match (req.method.as_str(), path) {
        ("GET", "/openai/oauth/authorize") => authorize(s, req, "openai"),
        ("GET", "/anthropic/oauth/authorize") => authorize(s, req, "anthropic"),
        ("GET", "/openrouter/auth") => authorize(s, req, "openrouter"),
        ("GET", "/consent") => consent(s, req),
        ("GET", "/anthropic/oauth/code/callback") => code_page(req),
        ("POST", "/openai/oauth/token") => openai::token(s, req),
        ("POST", "/anthropic/v1/oauth/token") => anthropic::token(s, req),
        ("POST", "/openrouter/api/v1/auth/keys") => openrouter::keys(s, req),
        ("POST", "/github/login/device/code") => github::device_code(s, req),
        ("POST", "/github/login/oauth/access_token") => github::access_token(s, req),
        ("GET", "/github/copilot_internal/v2/token") => github::copilot_token(s, req),
        _ => json_answer(
            404,
            json!({"error": "not_found", "error_description": path}),
        ),
    }
}

/// The query parameters of a request.
pub(crate) fn query(req: &Recorded) -> HashMap<String, String> {
    let q = req.path.split_once('?').map(|(_, q)| q).unwrap_or_default();
    url::form_urlencoded::parse(q.as_bytes())
        .into_owned()
        .collect()
}

/// The form-encoded body of a request.
pub(crate) fn form(req: &Recorded) -> HashMap<String, String> {
    url::form_urlencoded::parse(&req.raw).into_owned().collect()
}

pub(crate) fn json_answer(status: u16, body: Value) -> Answer {
    Answer::Whole {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}

pub(crate) fn oauth_error(status: u16, error: &str, description: &str) -> Answer {
    json_answer(
        status,
        json!({"error": error, "error_description": description}),
    )
}

fn html(status: u16, body: String) -> Answer {
    Answer::Whole {
        status,
        headers: vec![("content-type".into(), "text/html; charset=utf-8".into())],
        body: format!("<!doctype html><html><body>{body}</body></html>").into_bytes(),
    }
}

/// The authorize endpoint: checks the request's parameters and shows the
/// consent page. OpenRouter names its redirect `callback_url` and has no
/// `client_id` or `state`.
fn authorize(s: &mut State, req: &Recorded, provider: &'static str) -> Answer {
    let q = query(req);
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let redirect_uri = if provider == "openrouter" {
        get("callback_url")
    } else {
        get("redirect_uri")
    };
    let mut missing: Vec<&str> = Vec::new();
    if redirect_uri.is_empty() {
        missing.push("redirect_uri");
    }
    if get("code_challenge").is_empty() {
        missing.push("code_challenge");
    }
    if provider != "openrouter" {
        for k in ["client_id", "state", "scope"] {
            if get(k).is_empty() {
                missing.push(k);
            }
        }
        if get("response_type") != "code" {
            missing.push("response_type=code");
        }
    }
    if get("code_challenge_method") != "S256" {
        missing.push("code_challenge_method=S256");
    }
    if provider == "anthropic" && get("code") != "true" {
        missing.push("code=true");
    }
    if !missing.is_empty() {
        return html(
            400,
            format!(
                "<p id=\"error\">invalid_request: missing {}</p>",
                missing.join(", ")
            ),
        );
    }
    let id = s.mint("consent");
    s.pending.insert(
        id.clone(),
        Pending {
            provider,
            client_id: get("client_id"),
            redirect_uri,
            challenge: get("code_challenge"),
            state: q.get("state").cloned(),
        },
    );
    html(
        200,
        format!(
            "<h1>Sign in to {provider}</h1><p>openpista wants to use your account.</p>\
             <form method=\"get\" action=\"/consent\"><input type=\"hidden\" name=\"request\" value=\"{id}\">\
             <button id=\"allow\" type=\"submit\">Allow</button></form>"
        ),
    )
}

/// The Allow button's target: issues the code and redirects.
fn consent(s: &mut State, req: &Recorded) -> Answer {
    let id = query(req).remove("request").unwrap_or_default();
    let Some(grant) = s.pending.remove(&id) else {
        return html(
            400,
            "<p id=\"error\">unknown or used consent request</p>".into(),
        );
    };
    let code = s.mint(&format!("{}_code", grant.provider));
    let mut target = url::Url::parse(&grant.redirect_uri).expect("checked redirect URI");
    {
        let mut pairs = target.query_pairs_mut();
        pairs.append_pair("code", &code);
        let state = s.forged_state.clone().or_else(|| grant.state.clone());
        if let Some(state) = state {
            pairs.append_pair("state", &state);
        }
    }
    s.codes.insert(code, Code { grant, used: false });
    Answer::Whole {
        status: 302,
        headers: vec![("location".into(), target.to_string())],
        body: Vec::new(),
    }
}

/// Anthropic's redirect page: shows `code#state` for the person to copy.
fn code_page(req: &Recorded) -> Answer {
    let q = query(req);
    let (code, state) = (
        q.get("code").cloned().unwrap_or_default(),
        q.get("state").cloned().unwrap_or_default(),
    );
    html(
        200,
        format!(
            "<p>Paste this code into your terminal:</p><code id=\"code\">{code}#{state}</code>"
        ),
    )
}

/// Redeems `code` for `provider` with the exchange's parameters: the
/// grant, or the OAuth error answer the real endpoint gives.
fn redeem(
    s: &mut State,
    provider: &str,
    code: &str,
    client_id: Option<&str>,
    redirect_uri: Option<&str>,
    verifier: &str,
) -> Result<Pending, Answer> {
    let Some(entry) = s
        .codes
        .get_mut(code)
        .filter(|c| c.grant.provider == provider)
    else {
        return Err(oauth_error(
            400,
            "invalid_grant",
            "unknown authorization code",
        ));
    };
    if entry.used {
        return Err(oauth_error(
            400,
            "invalid_grant",
            "authorization code already used",
        ));
    }
    entry.used = true;
    let g = entry.grant.clone();
    if client_id.is_some_and(|c| c != g.client_id) {
        return Err(oauth_error(
            400,
            "invalid_grant",
            "client_id does not match the code",
        ));
    }
    if redirect_uri.is_some_and(|r| r != g.redirect_uri) {
        return Err(oauth_error(
            400,
            "invalid_grant",
            "redirect_uri does not match the code",
        ));
    }
    if s256(verifier) != g.challenge {
        return Err(oauth_error(
            400,
            "invalid_grant",
            "code_verifier does not match the code_challenge",
        ));
    }
    Ok(g)
}

/// base64url(SHA-256(verifier)), the S256 method of RFC 7636.
pub(crate) fn s256(verifier: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// The refresh grant: `400 invalid_grant` for unknown or expired tokens,
/// otherwise the provider it belongs to (the token is rotated).
fn take_refresh_token(s: &mut State, provider: &'static str, token: &str) -> Result<(), Answer> {
    *s.refresh_grants.entry(provider).or_default() += 1;
    if s.refresh_expired.contains(provider) {
        return Err(oauth_error(400, "invalid_grant", "refresh token expired"));
    }
    match s.refresh_tokens.get(token) {
        Some(p) if *p == provider => {
            s.refresh_tokens.remove(token);
            Ok(())
        }
        _ => Err(oauth_error(400, "invalid_grant", "unknown refresh token")),
    }
}

/// A new refresh token of `provider`.
fn new_refresh_token(s: &mut State, provider: &'static str) -> String {
    let r = s.mint(&format!("{provider}_rt"));
    s.refresh_tokens.insert(r.clone(), provider);
    r
}
