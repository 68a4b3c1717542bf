//! Files: `files.completeUploadExternal`, the upload URLs and the file
//! host's downloads (bot token required, else the sign-in page).

use std::time::Instant;

use serde_json::{Value, json};

use super::super::http1::multipart;
use super::super::http1::{Answer, Recorded};
use super::answers::{api_error, ok, sign_in_page};
use super::messages::is_channel_id;
use super::{Call, Posted, SlackDouble, Via};

impl SlackDouble {
    pub(super) fn complete_upload(&self, params: &Value) -> Answer {
        // `files` is a JSON array, or (form) a string holding one.
        let files = match &params["files"] {
            Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
            other => other.clone(),
        };
        let Some(files) = files.as_array().filter(|f| !f.is_empty()) else {
            return api_error("invalid_arguments");
        };
        let channel = params["channel_id"]
            .as_str()
            .or(params["channels"].as_str())
            .map(str::to_string);
        if channel.as_deref().is_some_and(|c| !is_channel_id(c)) {
            return api_error("channel_not_found");
        }
        let thread_ts = params["thread_ts"].as_str().map(str::to_string);
        let comment = params["initial_comment"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let mut state = self.state.lock().unwrap();
        let mut out = Vec::new();
        let mut names = Vec::new();
        for f in files {
            let id = f["id"].as_str().unwrap_or_default();
            let Some(upload) = state.uploads.get_mut(id) else {
                return api_error("invalid_file_id");
            };
            let Some(bytes) = &upload.bytes else {
                return api_error("file_upload_not_found");
            };
            if bytes.len() as u64 != upload.length {
                return api_error("file_upload_size_mismatch");
            }
            upload.completed = true;
            let title = f["title"].as_str().unwrap_or(&upload.filename).to_string();
            names.push(upload.filename.clone());
            out.push(
                json!({"id": id, "title": title, "name": upload.filename, "size": upload.length}),
            );
        }
        if let Some(channel) = channel {
            let ts = SlackDouble::next_ts(&mut state);
            state.posted.push(Posted {
                channel,
                ts,
                thread_ts,
                text: comment,
                blocks: Value::Null,
                via: Via::File,
                user: None,
                files: names,
                edits: 0,
                at: Instant::now(),
            });
        }
        ok(json!({"files": out}))
    }

    pub(super) fn upload(&self, file_id: &str, request: &Recorded) -> Answer {
        let content_type = request.header("content-type").unwrap_or_default();
        let bytes = match content_type.split("boundary=").nth(1) {
            Some(boundary) => multipart(&request.raw, boundary.trim_matches('"'))
                .into_iter()
                .find(|part| part.filename.is_some())
                .or_else(|| {
                    multipart(&request.raw, boundary.trim_matches('"'))
                        .into_iter()
                        .next()
                })
                .map(|part| part.data)
                .unwrap_or_default(),
            None => request.raw.clone(),
        };
        let mut state = self.state.lock().unwrap();
        let Some(upload) = state.uploads.get_mut(file_id) else {
            return Answer::Whole {
                status: 404,
                headers: vec![("content-type".into(), "text/plain".into())],
                body: b"Not Found".to_vec(),
            };
        };
        let n = bytes.len();
        upload.bytes = Some(bytes);
        Answer::Whole {
            status: 200,
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            body: format!("OK - {n}").into_bytes(),
        }
    }

    pub(super) fn download(&self, file: &str, request: &Recorded) -> Answer {
        let path = file.split('?').next().unwrap_or("");
        let token = request
            .header("authorization")
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim);
        {
            let mut state = self.state.lock().unwrap();
            state.calls.push(Call {
                method: "files.download".into(),
                http_method: request.method.clone(),
                headers: request.headers.clone(),
                params: json!({"path": path}),
                encoding: "none",
                token: token.map(str::to_string),
                raw: Vec::new(),
                at: request.at,
                status: 200,
                error: (token != Some(self.bot_token.as_str())).then(|| "sign-in page".into()),
            });
        }
        if token != Some(self.bot_token.as_str()) {
            return sign_in_page();
        }
        match self.state.lock().unwrap().files.get(path) {
            Some((mimetype, bytes)) => Answer::Whole {
                status: 200,
                headers: vec![("content-type".into(), mimetype.clone())],
                body: bytes.clone(),
            },
            None => Answer::Whole {
                status: 404,
                headers: vec![("content-type".into(), "text/plain".into())],
                body: b"Not Found".to_vec(),
            },
        }
    }
}
