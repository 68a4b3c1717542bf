//! `localStorage`: the client id, the token and the transcript survive a
//! reload. Without storage (a private window that refuses it) the page
//! still works, it just forgets.

use crate::ids::{CLIENT_ID_LEN, client_id_from, is_valid_client_id};
use crate::protocol::token_from_fragment;
use crate::transcript::Transcript;
use web_sys::{Storage, Window};

const CLIENT_ID_KEY: &str = "openpista.client_id";
const TOKEN_KEY: &str = "openpista.token";
const TRANSCRIPT_KEY: &str = "openpista.transcript";

/// The page's `localStorage`, if it has one.
pub(crate) struct Store(Option<Storage>);

impl Store {
    pub(crate) fn open(window: &Window) -> Store {
        Store(window.local_storage().ok().flatten())
    }

    fn get(&self, key: &str) -> Option<String> {
        self.0.as_ref()?.get_item(key).ok().flatten()
    }

    /// Stores `value`; false when storage refused it (full, or none).
    fn set(&self, key: &str, value: &str) -> bool {
        self.0
            .as_ref()
            .is_some_and(|s| s.set_item(key, value).is_ok())
    }

    /// This browser's client id, made and stored the first time.
    pub(crate) fn client_id(&self, window: &Window) -> String {
        if let Some(id) = self.get(CLIENT_ID_KEY).filter(|id| is_valid_client_id(id)) {
            return id;
        }
        let id = client_id_from(&random_bytes(window, CLIENT_ID_LEN));
        self.set(CLIENT_ID_KEY, &id);
        id
    }

    pub(crate) fn token(&self) -> Option<String> {
        self.get(TOKEN_KEY).filter(|t| !t.is_empty())
    }

    pub(crate) fn set_token(&self, token: &str) {
        self.set(TOKEN_KEY, token);
    }

    pub(crate) fn forget_token(&self) {
        if let Some(s) = &self.0 {
            let _ = s.remove_item(TOKEN_KEY);
        }
    }

    pub(crate) fn transcript(&self) -> Transcript {
        Transcript::from_json(self.get(TRANSCRIPT_KEY).as_deref())
    }

    /// Saves the transcript; when storage is full, drops the older half
    /// until it fits.
    pub(crate) fn save_transcript(&self, transcript: &mut Transcript) {
        while !self.set(TRANSCRIPT_KEY, &transcript.to_json()) {
            if self.0.is_none() || transcript.entries().is_empty() {
                return;
            }
            transcript.shrink();
        }
    }
}

/// `n` random bytes from `crypto.getRandomValues`, or `Math.random` where
/// there is no `crypto`.
fn random_bytes(window: &Window, n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    let filled = window
        .crypto()
        .ok()
        .and_then(|c| c.get_random_values_with_u8_array(&mut bytes).ok())
        .is_some();
    if !filled {
        for b in bytes.iter_mut() {
            *b = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    bytes
}

/// The token of a `#token=…` link, removed from the address bar (and so
/// from the history) once read.
pub(crate) fn take_fragment_token(window: &Window) -> Option<String> {
    let location = window.location();
    let token = token_from_fragment(&location.hash().ok()?)?;
    let clean = format!(
        "{}{}",
        location.pathname().unwrap_or_default(),
        location.search().unwrap_or_default()
    );
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&clean));
    }
    Some(token)
}
