//! A stand-in for the Telegram Bot API on 127.0.0.1, written from the Bot
//! API reference: `/bot<TOKEN>/<method>` with JSON, query-string or
//! multipart parameters, answers `{"ok":true,"result":...}` or
//! `{"ok":false,"error_code":N,"description":...,"parameters":{...}}`,
//! `/file/bot<TOKEN>/<path>` for downloads.
//!
//! It behaves like the real service where the channel depends on it:
//! - a wrong token is `401 Unauthorized`;
//! - `getUpdates` long-polls (answers as soon as an update is queued, or
//!   after `timeout` seconds), drops the updates below `offset` as
//!   confirmed, and is `409 Conflict` while a webhook is set;
//! - `sendMessage` with `parse_mode: MarkdownV2` is refused with
//!   "can't parse entities" when a reserved character is not escaped or an
//!   entity is not closed, and any text over 4096 characters with "message
//!   is too long";
//! - failures can be scripted per method (429 with `retry_after`, 5xx,
//!   malformed bodies).
//!
//! Every request is recorded, so a test can check what the component sent.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Notify;

use super::http1::{Answer, Recorded, read_request, write_answer};

/// The bot the double plays.
pub const BOT_ID: i64 = 777_000;
pub const BOT_USERNAME: &str = "pista_bot";

/// One Bot API call as received.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    /// JSON body, query string or multipart fields, as one object.
    pub params: Value,
    pub raw: Vec<u8>,
    pub at: Instant,
}

#[derive(Default)]
struct State {
    updates: VecDeque<Value>,
    calls: Vec<Call>,
    failures: BTreeMap<String, VecDeque<Answer>>,
    files: BTreeMap<String, (String, Vec<u8>)>,
    webhook: Option<String>,
    next_message_id: i64,
    delivered: Vec<Delivered>,
}

/// A message the double accepted, as the user sees it.
#[derive(Clone, Debug)]
pub struct Delivered {
    pub chat_id: i64,
    pub thread_id: Option<i64>,
    /// The text without its MarkdownV2 markup; a file's name for files.
    pub text: String,
    pub method: String,
}

/// The double. Cloning shares it.
#[derive(Clone)]
pub struct TelegramDouble {
    pub addr: SocketAddr,
    token: String,
    state: Arc<Mutex<State>>,
    queued: Arc<Notify>,
}

fn ok(result: Value) -> Answer {
    json_answer(200, json!({"ok": true, "result": result}))
}

fn json_answer(status: u16, body: Value) -> Answer {
    Answer::Whole {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}

/// A Bot API error answer.
pub fn api_error(code: u16, description: &str) -> Answer {
    json_answer(
        code,
        json!({"ok": false, "error_code": code, "description": description}),
    )
}

/// `429 Too Many Requests` asking to wait `secs`.
pub fn too_many_requests(secs: u64) -> Answer {
    json_answer(
        429,
        json!({
            "ok": false,
            "error_code": 429,
            "description": format!("Too Many Requests: retry after {secs}"),
            "parameters": {"retry_after": secs},
        }),
    )
}

/// A 200 whose body is not JSON.
pub fn malformed() -> Answer {
    Answer::Whole {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: b"{\"ok\":tru".to_vec(),
    }
}

impl TelegramDouble {
    /// Serves the bot whose token is `token`.
    pub async fn start(token: &str) -> TelegramDouble {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let double = TelegramDouble {
            addr: listener.local_addr().unwrap(),
            token: token.to_string(),
            state: Arc::new(Mutex::new(State {
                next_message_id: 1000,
                ..State::default()
            })),
            queued: Arc::new(Notify::new()),
        };
        let server = double.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let server = server.clone();
                tokio::spawn(async move {
                    if let Ok(Some(request)) = read_request(&mut stream).await {
                        let answer = server.answer(request).await;
                        let _ = write_answer(&mut stream, answer).await;
                    }
                });
            }
        });
        double
    }

    /// `http://127.0.0.1:PORT`, for `[channels.telegram] api_url`.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The configuration of an in-process host in `root` whose only
    /// channel is Telegram on this double (bot `token`, `allowed_users`),
    /// answered by the offline echo provider, plus `extra` (TOML).
    pub fn host_config(
        &self,
        root: &std::path::Path,
        token: &str,
        allowed_users: &[i64],
        extra: &str,
    ) -> openpista::config::Config {
        let allowed: Vec<String> = allowed_users.iter().map(i64::to_string).collect();
        let text = format!(
            "[agent]\nprovider = \"echo\"\n[runtime]\nplugin_dirs = []\ncache_dir = \"{root}/cache\"\n\
             [memory]\npath = \"{root}/memory.redb\"\n[server]\nenabled = false\n\
             [channels.web]\nenabled = false\n[channels.telegram]\nenabled = true\n\
             token = \"{token}\"\napi_url = \"{api}\"\nallowed_users = [{allowed}]\n{extra}\n",
            root = root.display(),
            api = self.api_url(),
            allowed = allowed.join(", "),
        );
        openpista::config::Config::parse(&text, "test config").unwrap()
    }

    /// Queues an update for `getUpdates`.
    pub fn push_update(&self, update: Value) {
        self.state.lock().unwrap().updates.push_back(update);
        self.queued.notify_waiters();
    }

    /// The next call of `method` gets `answer` instead of its result.
    pub fn fail_next(&self, method: &str, answer: Answer) {
        self.state
            .lock()
            .unwrap()
            .failures
            .entry(method.into())
            .or_default()
            .push_back(answer);
    }

    /// A file `getFile` and the download URL know, as `file_id`.
    pub fn add_file(&self, file_id: &str, path: &str, bytes: Vec<u8>) {
        self.state
            .lock()
            .unwrap()
            .files
            .insert(file_id.into(), (path.into(), bytes));
    }

    /// Sets a webhook as if another deployment had (getUpdates → 409).
    pub fn set_webhook(&self, url: &str) {
        self.state.lock().unwrap().webhook = Some(url.into());
    }

    pub fn webhook(&self) -> Option<String> {
        self.state.lock().unwrap().webhook.clone()
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    /// The calls of `method`.
    pub fn calls_of(&self, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method)
            .collect()
    }

    /// Waits until `pred` holds for the calls of `method` (at most `secs`).
    pub async fn wait_for(
        &self,
        method: &str,
        secs: u64,
        pred: impl Fn(&[Call]) -> bool,
    ) -> Vec<Call> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let calls = self.calls_of(method);
            if pred(&calls) {
                return calls;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {method}; calls so far: {:?}",
                self.calls()
                    .iter()
                    .map(|c| format!("{} {}", c.method, c.params))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn answer(&self, request: Recorded) -> Answer {
        let path = request.path.split('?').next().unwrap_or("").to_string();
        if let Some(rest) = path.strip_prefix("/file/bot") {
            return self.download(rest);
        }
        let Some((token, method)) = path
            .strip_prefix("/bot")
            .and_then(|rest| rest.split_once('/'))
        else {
            return api_error(404, "Not Found");
        };
        if token != self.token {
            return api_error(401, "Unauthorized");
        }
        let params = params(&request);
        let failure = {
            let mut state = self.state.lock().unwrap();
            state.calls.push(Call {
                method: method.to_string(),
                params: params.clone(),
                raw: request.raw.clone(),
                at: request.at,
            });
            state.failures.get_mut(method).and_then(VecDeque::pop_front)
        };
        if let Some(answer) = failure {
            return answer;
        }
        match method {
            "getMe" => ok(json!({
                "id": BOT_ID, "is_bot": true, "first_name": "Pista",
                "username": BOT_USERNAME, "can_join_groups": true,
                "can_read_all_group_messages": false, "supports_inline_queries": false,
            })),
            "getUpdates" => self.get_updates(&params).await,
            "setMyCommands" | "sendChatAction" | "answerCallbackQuery" => ok(json!(true)),
            "setWebhook" => match params["url"].as_str() {
                Some(url) if url.starts_with("https://") => {
                    self.state.lock().unwrap().webhook = Some(url.into());
                    ok(json!(true))
                }
                _ => api_error(
                    400,
                    "Bad Request: bad webhook: An HTTPS URL must be provided for webhook",
                ),
            },
            "deleteWebhook" => {
                self.state.lock().unwrap().webhook = None;
                ok(json!(true))
            }
            "getFile" => self.get_file(&params),
            "sendMessage" => self.send_message(&params),
            "editMessageText" => self.edit_message_text(&params),
            "sendPhoto" | "sendDocument" => {
                let field = if method == "sendPhoto" {
                    "photo"
                } else {
                    "document"
                };
                let name = params[field]["filename"].as_str().unwrap_or_default();
                if params[field]["bytes"].as_u64().unwrap_or(0) == 0 {
                    return api_error(400, "Bad Request: file must be non-empty");
                }
                self.deliver(method, &params, name.to_string())
            }
            other => api_error(404, &format!("Not Found: method {other} not found")),
        }
    }

    async fn get_updates(&self, params: &Value) -> Answer {
        if self.state.lock().unwrap().webhook.is_some() {
            return api_error(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
            );
        }
        let offset = params["offset"].as_i64().unwrap_or(0);
        let timeout = params["timeout"].as_u64().unwrap_or(0).min(60);
        let deadline = Instant::now() + Duration::from_secs(timeout);
        loop {
            let notified = self.queued.notified();
            {
                let mut state = self.state.lock().unwrap();
                // Updates below the offset are confirmed: gone for good.
                state
                    .updates
                    .retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
                if !state.updates.is_empty() || Instant::now() >= deadline {
                    let updates: Vec<Value> = state.updates.iter().cloned().collect();
                    return ok(Value::Array(updates));
                }
            }
            let _ = tokio::time::timeout_at(deadline.into(), notified).await;
        }
    }

    fn get_file(&self, params: &Value) -> Answer {
        let id = params["file_id"].as_str().unwrap_or_default();
        match self.state.lock().unwrap().files.get(id) {
            Some((path, bytes)) => ok(json!({
                "file_id": id, "file_unique_id": format!("u{id}"),
                "file_size": bytes.len(), "file_path": path,
            })),
            None => api_error(400, "Bad Request: invalid file_id"),
        }
    }

    fn download(&self, rest: &str) -> Answer {
        let Some((token, path)) = rest.split_once('/') else {
            return api_error(404, "Not Found");
        };
        if token != self.token {
            return api_error(401, "Unauthorized");
        }
        let state = self.state.lock().unwrap();
        match state.files.values().find(|(p, _)| p == path) {
            Some((_, bytes)) => Answer::Whole {
                status: 200,
                headers: vec![("content-type".into(), "application/octet-stream".into())],
                body: bytes.clone(),
            },
            None => api_error(404, "Not Found"),
        }
    }

    fn send_message(&self, params: &Value) -> Answer {
        let text = params["text"].as_str().unwrap_or_default();
        if text.is_empty() {
            return api_error(400, "Bad Request: message text is empty");
        }
        let entities_text = if params["parse_mode"] == "MarkdownV2" {
            match check_markdown_v2(text) {
                Ok(plain) => plain,
                Err(e) => {
                    return api_error(400, &format!("Bad Request: can't parse entities: {e}"));
                }
            }
        } else {
            text.to_string()
        };
        if entities_text.encode_utf16().count() > 4096 {
            return api_error(400, "Bad Request: message is too long");
        }
        self.deliver("sendMessage", params, entities_text)
    }

    /// `editMessageText`: the message must be one the bot sent; the new
    /// text is checked as `sendMessage` checks it. The edit is seen in
    /// [`TelegramDouble::calls_of`].
    fn edit_message_text(&self, params: &Value) -> Answer {
        let Some(message_id) = params["message_id"].as_i64() else {
            return api_error(400, "Bad Request: message identifier is not specified");
        };
        if message_id < 1 || message_id > self.state.lock().unwrap().next_message_id {
            return api_error(400, "Bad Request: message to edit not found");
        }
        let text = params["text"].as_str().unwrap_or_default();
        if text.is_empty() {
            return api_error(400, "Bad Request: message text is empty");
        }
        if text.encode_utf16().count() > 4096 {
            return api_error(400, "Bad Request: MESSAGE_TOO_LONG");
        }
        ok(json!({
            "message_id": message_id, "date": 1_700_000_000, "edit_date": 1_700_000_001,
            "chat": {"id": chat_id(params)}, "text": text,
        }))
    }

    /// Messages accepted for `chat_id`, in order.
    pub fn delivered(&self, chat_id: i64) -> Vec<Delivered> {
        self.state
            .lock()
            .unwrap()
            .delivered
            .iter()
            .filter(|d| d.chat_id == chat_id)
            .cloned()
            .collect()
    }

    /// Records a message the bot sent and answers with it as a `Message`.
    fn deliver(&self, method: &str, params: &Value, text: String) -> Answer {
        let chat = chat_id(params);
        let thread_id = match &params["message_thread_id"] {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        };
        let id = {
            let mut state = self.state.lock().unwrap();
            state.next_message_id += 1;
            state.delivered.push(Delivered {
                chat_id: chat,
                thread_id,
                text: text.clone(),
                method: method.into(),
            });
            state.next_message_id
        };
        let extra = json!({"text": text});
        let mut m = json!({
            "message_id": id, "date": 1_700_000_000,
            "chat": {"id": chat, "type": if chat < 0 { "supergroup" } else { "private" }},
            "from": {"id": BOT_ID, "is_bot": true, "first_name": "Pista", "username": BOT_USERNAME},
        });
        if let (Some(m), Some(extra)) = (m.as_object_mut(), extra.as_object()) {
            m.extend(extra.clone());
        }
        ok(m)
    }
}

fn chat_id(params: &Value) -> i64 {
    match &params["chat_id"] {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

/// The call's parameters: the JSON body, else the query string, else the
/// multipart text fields (files as `{"filename", "bytes"}`).
fn params(request: &Recorded) -> Value {
    if request.body.is_object() {
        return request.body.clone();
    }
    let mut out = serde_json::Map::new();
    if let Some((_, query)) = request.path.split_once('?') {
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            out.insert(percent_decode(k), Value::String(percent_decode(v)));
        }
    }
    let content_type = request.header("content-type").unwrap_or_default();
    if let Some(boundary) = content_type.split("boundary=").nth(1) {
        for super::http1::FormPart {
            name,
            filename,
            data: bytes,
            ..
        } in super::http1::multipart(&request.raw, boundary.trim_matches('"'))
        {
            let value = match filename {
                Some(f) => json!({"filename": f, "bytes": bytes.len()}),
                None => Value::String(String::from_utf8_lossy(&bytes).into_owned()),
            };
            out.insert(name, value);
        }
    }
    Value::Object(out)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
                continue;
            }
            (b'+', _) => out.push(b' '),
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Checks `text` as Telegram parses MarkdownV2 and returns the text without
/// its markup. The rules: every character of `_*[]()~`>#+-=|{}.!` that is
/// not markup must be escaped with `\`; `*bold*`, `_italic_`, `__underline__`,
/// `~strike~`, `||spoiler||`, `` `code` ``, ```` ```pre``` ```` and
/// `[text](url)` must be closed; inside code only `` ` `` and `\` are
/// escaped, inside a link's URL only `)` and `\`.
pub fn check_markdown_v2(text: &str) -> Result<String, String> {
    const RESERVED: &str = "_*[]()~`>#+-=|{}.!";
    let chars: Vec<char> = text.chars().collect();
    let mut plain = String::new();
    let mut open: Vec<(&'static str, usize)> = Vec::new();
    let mut i = 0;
    let byte_at = |i: usize| chars[..i].iter().map(|c| c.len_utf8()).sum::<usize>();
    while i < chars.len() {
        let c = chars[i];
        let at = |s: &str| {
            chars[i..]
                .iter()
                .take(s.chars().count())
                .copied()
                .eq(s.chars())
        };
        if c == '\\' {
            match chars.get(i + 1) {
                Some(&n) if (n as u32) < 127 => {
                    plain.push(n);
                    i += 2;
                    continue;
                }
                _ => {
                    return Err(
                        "Character '\\' is reserved and must be escaped with the preceding '\\'"
                            .to_string(),
                    );
                }
            }
        }
        if at("```") {
            let start = i;
            i += 3;
            let mut closed = false;
            while i < chars.len() {
                if chars[i] == '\\' {
                    i += 2;
                    continue;
                }
                if chars[i..].starts_with(&['`', '`', '`']) {
                    closed = true;
                    i += 3;
                    break;
                }
                plain.push(chars[i]);
                i += 1;
            }
            if !closed {
                return Err(format!(
                    "Can't find end of Pre entity at byte offset {}",
                    byte_at(start)
                ));
            }
            continue;
        }
        if c == '`' {
            let start = i;
            i += 1;
            let mut closed = false;
            while i < chars.len() {
                match chars[i] {
                    '\\' => {
                        if let Some(&n) = chars.get(i + 1) {
                            plain.push(n);
                        }
                        i += 2;
                    }
                    '`' => {
                        closed = true;
                        i += 1;
                        break;
                    }
                    other => {
                        plain.push(other);
                        i += 1;
                    }
                }
            }
            if !closed {
                return Err(format!(
                    "Can't find end of Code entity at byte offset {}",
                    byte_at(start)
                ));
            }
            continue;
        }
        if c == ']' && open.last().is_some_and(|(m, _)| *m == "[") {
            open.pop();
            if chars.get(i + 1) != Some(&'(') {
                return Err(
                    "Character ']' is reserved and must be escaped with the preceding '\\'"
                        .to_string(),
                );
            }
            i += 2;
            let mut closed = false;
            while i < chars.len() {
                match chars[i] {
                    '\\' => i += 2,
                    ')' => {
                        closed = true;
                        i += 1;
                        break;
                    }
                    _ => i += 1,
                }
            }
            if !closed {
                return Err("Can't find end of a URL".into());
            }
            continue;
        }
        let marker: Option<&'static str> = if at("||") {
            Some("||")
        } else if at("__") {
            Some("__")
        } else {
            match c {
                '*' => Some("*"),
                '_' => Some("_"),
                '~' => Some("~"),
                '[' => Some("["),
                _ => None,
            }
        };
        if let Some(m) = marker {
            if open.last().is_some_and(|(o, _)| *o == m) && m != "[" {
                open.pop();
            } else {
                open.push((m, byte_at(i)));
            }
            i += m.chars().count();
            continue;
        }
        if RESERVED.contains(c) {
            return Err(format!(
                "Character '{c}' is reserved and must be escaped with the preceding '\\'"
            ));
        }
        plain.push(c);
        i += 1;
    }
    if let Some((_, offset)) = open.first() {
        return Err(format!(
            "Can't find end of the entity starting at byte offset {offset}"
        ));
    }
    Ok(plain)
}

/// Updates as Telegram sends them.
pub mod updates {
    use serde_json::{Value, json};

    fn user(id: i64) -> Value {
        json!({"id": id, "is_bot": false, "first_name": format!("User{id}"), "username": format!("user{id}"), "language_code": "en"})
    }

    fn chat(id: i64) -> Value {
        if id < 0 {
            json!({"id": id, "type": "supergroup", "title": "The group", "is_forum": true})
        } else {
            json!({"id": id, "type": "private", "first_name": format!("User{id}"), "username": format!("user{id}")})
        }
    }

    /// A message from `from` in `chat` with `fields` (text, photo...).
    pub fn message(update_id: i64, chat_id: i64, from: i64, fields: Value) -> Value {
        let mut m = json!({
            "message_id": update_id * 10,
            "date": 1_700_000_000 + update_id,
            "chat": chat(chat_id),
            "from": user(from),
        });
        if let (Some(m), Some(f)) = (m.as_object_mut(), fields.as_object()) {
            m.extend(f.clone());
        }
        json!({"update_id": update_id, "message": m})
    }

    /// A text message in a private chat.
    pub fn text(update_id: i64, from: i64, text: &str) -> Value {
        message(update_id, from, from, json!({"text": text}))
    }

    /// A button press on a message the bot sent to `chat_id`.
    pub fn callback(update_id: i64, chat_id: i64, from: i64, data: &str) -> Value {
        json!({
            "update_id": update_id,
            "callback_query": {
                "id": format!("cb{update_id}"),
                "from": user(from),
                "chat_instance": "ci1",
                "data": data,
                "message": {
                    "message_id": 5, "date": 1_700_000_000, "chat": chat(chat_id),
                    "from": {"id": super::BOT_ID, "is_bot": true, "first_name": "Pista", "username": super::BOT_USERNAME},
                    "text": "Proceed?",
                },
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::check_markdown_v2;

    #[test]
    fn markdown_v2_is_checked_as_telegram_does() {
        assert_eq!(check_markdown_v2("*bold* and \\.").unwrap(), "bold and .");
        assert_eq!(
            check_markdown_v2("`a.b` [x](http://a.b/\\))").unwrap(),
            "a.b x"
        );
        assert!(check_markdown_v2("1.5").unwrap_err().contains("'.'"));
        assert!(
            check_markdown_v2("*open")
                .unwrap_err()
                .contains("end of the entity")
        );
        assert!(check_markdown_v2("```never closed").is_err());
        assert_eq!(
            check_markdown_v2("```rust\nfn a() {}\n```").unwrap(),
            "rust\nfn a() {}\n"
        );
    }
}
