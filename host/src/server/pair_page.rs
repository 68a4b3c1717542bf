//! `/whatsapp/pair?token=WEB_TOKEN`: the WhatsApp pairing QR code in a
//! browser, beside the chat page, for whoever holds the web chat's token.
//! It shows what the `channel-whatsapp` component reports (its `report`
//! export): the current QR code as SVG, the pairing code asked
//! for with `openpista whatsapp pair --phone`, or the linked account, and
//! refreshes itself every few seconds while the bridge renews the code.

use super::ServerState;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;

pub const ROUTE: &str = "/whatsapp/pair";

/// The component whose report this page shows.
pub const COMPONENT: &str = "channel-whatsapp";

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
pub async fn respond(state: &ServerState, query: &str) -> Response<Full<Bytes>> {
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
    let report = match agent.runtime.get(COMPONENT) {
        None => None,
        Some(c) => crate::gateway::channels::with_fresh(&c, async |i| i.describe().await)
            .await
            .ok(),
    };
    let Some(s) = report else {
        return page(
            StatusCode::OK,
            "<p>The WhatsApp channel is not running: enable <code>[channels.whatsapp]</code> and start <code>openpista serve</code>.</p>",
            true,
        );
    };
    if s.state == "connected" {
        let who = escape(s.account.as_deref().unwrap_or("?"));
        return page(
            StatusCode::OK,
            &format!("<p>Linked as <b>{who}</b>.</p>"),
            false,
        );
    }
    let link = s.link.unwrap_or(
        crate::runtime::bindings::channel::exports::openpista::plugin::report::LinkRequest {
            qr: None,
            code: None,
        },
    );
    if let Some(code) = &link.code {
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
    if let Some(qr) = &link.qr
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
            escape(&s.state)
        ),
        true,
    )
}
