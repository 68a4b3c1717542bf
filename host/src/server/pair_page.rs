//! `/whatsapp/pair?token=WEB_TOKEN`: the WhatsApp pairing QR code in a
//! browser, beside the chat page, for whoever holds the web chat's token.
//! It shows what the `channel-whatsapp` component recorded in its memory
//! (`bridge/state`): the current QR code as SVG, the pairing code asked
//! for with `openpista whatsapp pair --phone`, or the linked account, and
//! refreshes itself every few seconds while the bridge renews the code.

use super::ServerState;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;

pub const ROUTE: &str = "/whatsapp/pair";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(status: StatusCode, body: &str, refresh: bool) -> Response<Full<Bytes>> {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         {}<title>openpista · WhatsApp pairing</title></head>\
         <body style=\"font-family:sans-serif;text-align:center;margin:2em\">\
         <h1>Link WhatsApp</h1>{body}</body></html>",
        if refresh {
            "<meta http-equiv=\"refresh\" content=\"3\">"
        } else {
            ""
        }
    );
    let mut r = Response::new(Full::new(Bytes::from(html)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    r
}

/// The page for a request with `query`.
pub fn respond(state: &ServerState, query: &str) -> Response<Full<Bytes>> {
    let token = query
        .split('&')
        .find_map(|p| p.strip_prefix("token="))
        .unwrap_or("");
    let agent = state.gateway.agent();
    let secret = "web_token".to_string();
    let allowed = !token.is_empty()
        && agent
            .runtime
            .secrets()
            .grant(std::slice::from_ref(&secret))
            .matches(&secret, token);
    if !allowed {
        return page(
            StatusCode::UNAUTHORIZED,
            "<p>Open this page with the web chat's token: <code>/whatsapp/pair?token=…</code></p>",
            false,
        );
    }
    let state_json = agent
        .memory
        .kv_get(crate::config::whatsapp::COMPONENT, "bridge/state")
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    let Some(s) = state_json else {
        return page(
            StatusCode::OK,
            "<p>The WhatsApp channel has not run yet: enable <code>[channels.whatsapp]</code> and start <code>openpista serve</code>.</p>",
            true,
        );
    };
    if s["state"] == "open" {
        let who = escape(s["jid"].as_str().unwrap_or("?"));
        return page(
            StatusCode::OK,
            &format!("<p>Linked as <b>{who}</b>.</p>"),
            false,
        );
    }
    if let Some(code) = s["pairing_code"].as_str() {
        return page(
            StatusCode::OK,
            &format!(
                "<p>Pairing code: <b style=\"font-size:2em;letter-spacing:.2em\">{}</b></p>\
                 <p>WhatsApp → Linked devices → Link with phone number</p>",
                escape(code)
            ),
            true,
        );
    }
    if let Some(qr) = s["qr"].as_str()
        && let Ok(code) = qrcode::QrCode::new(qr.as_bytes())
    {
        let svg = code
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(280, 280)
            .build();
        // Inline, so the page loads nothing (its CSP allows nothing).
        let svg = &svg[svg.find("<svg").unwrap_or(0)..];
        return page(
            StatusCode::OK,
            &format!(
                "<div role=\"img\" aria-label=\"WhatsApp pairing QR code\">{svg}</div>\
                 <p>Scan with WhatsApp → Linked devices → Link a device. The code renews itself.</p>"
            ),
            true,
        );
    }
    page(
        StatusCode::OK,
        &format!(
            "<p>Waiting for the bridge (state: {}).</p>",
            escape(s["state"].as_str().unwrap_or("unknown"))
        ),
        true,
    )
}
