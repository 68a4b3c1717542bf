//! What the channel says about itself (`report.describe`), for
//! `openpista whatsapp status|pair` and the link page `/whatsapp/pair`:
//! the state the bridge last reported, the QR code or pairing code waiting
//! to be used, and the linked account, all from `bridge/state` (and the
//! count of rejected lines from `bridge/rejected`). The host may ask a
//! fresh instance, so this only reads what memory holds; the glue passes
//! it in. Nothing here calls the host.

use openpista_sdk::ChannelReport;

use crate::bridge_state::{BridgeState, Rejected};
use crate::jid::Jid;

/// The report of `state` (`None` before the channel ever ran) and
/// `rejected`.
pub fn describe(state: Option<&BridgeState>, rejected: Option<&Rejected>) -> ChannelReport {
    let Some(s) = state else {
        return ChannelReport::new("stopped")
            .with_detail("bridge", "unknown until the channel has run once");
    };
    let linking = s.qr.is_some() || s.pairing_code.is_some();
    let word = match s.state.as_str() {
        "open" => "connected",
        "qr" => "linking",
        "starting" | "connecting" if linking => "linking",
        "closed" if !s.last_disconnect.as_ref().is_some_and(|d| d.reconnect) => "stopped",
        "logged_out" => "unconfigured",
        "bridge_down" => "stopped",
        _ => "connecting",
    };
    let mut report = ChannelReport::new(word);
    if let Some(jid) = &s.jid {
        report = report.with_account(account(jid));
    }
    if word == "linking" {
        report = report.with_link(s.qr.clone(), s.pairing_code.clone());
    }
    report = report.with_detail("bridge state", s.state.as_str());
    if let Some(jid) = &s.jid {
        report = report.with_detail("jid", jid.as_str());
    }
    if let Some(name) = &s.name {
        report = report.with_detail("name", name.as_str());
    }
    if let Some(pid) = s.bridge_pid {
        report = report.with_detail("bridge pid", pid.to_string());
    }
    report = report.with_detail("bridge restarts", s.bridge_restarts.to_string());
    if let Some(d) = &s.last_disconnect {
        let code = d
            .code
            .map_or("no code".to_string(), |c| format!("code {c}"));
        let then = if d.reconnect {
            format!("reconnecting after {} ms", d.delay_ms)
        } else {
            "not reconnecting".to_string()
        };
        report = report.with_detail("last disconnect", format!("{} ({code}), {then}", d.reason));
    }
    if let Some(r) = rejected.filter(|r| r.count > 0) {
        report = report.with_detail(
            "rejected lines",
            format!("{}, the latest: {}", r.count, r.last),
        );
    }
    report
}

/// Who the channel speaks as: `+DIGITS` for a phone-number JID, the JID
/// itself otherwise (a LID).
fn account(jid: &str) -> String {
    match Jid::parse(jid).and_then(|j| j.phone()) {
        Some(digits) => format!("+{digits}"),
        None => jid.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge_state::LastDisconnect;

    fn state(word: &str) -> BridgeState {
        BridgeState {
            state: word.into(),
            ..BridgeState::default()
        }
    }

    #[test]
    fn a_linked_account_is_connected() {
        let s = BridgeState {
            jid: Some("15551234567@s.whatsapp.net".into()),
            name: Some("Me".into()),
            bridge_pid: Some(100),
            ..state("open")
        };
        let report = describe(Some(&s), None);
        assert_eq!(report.state, "connected");
        assert_eq!(report.account.as_deref(), Some("+15551234567"));
        assert!(report.link.is_none());
        assert_eq!(report.detail("name"), Some("Me"));
        assert_eq!(report.detail("bridge pid"), Some("100"));
        assert_eq!(report.detail("bridge state"), Some("open"));
        assert_eq!(report.detail("rejected lines"), None);
    }

    #[test]
    fn a_waiting_qr_or_code_is_a_link_request() {
        let s = BridgeState {
            qr: Some("2@abc".into()),
            ..state("qr")
        };
        let report = describe(Some(&s), None);
        assert_eq!(report.state, "linking");
        let link = report.link.unwrap();
        assert_eq!((link.qr.as_deref(), link.code), (Some("2@abc"), None));
        let s = BridgeState {
            pairing_code: Some("ABCD1234".into()),
            ..state("connecting")
        };
        let report = describe(Some(&s), None);
        assert_eq!(report.state, "linking");
        assert_eq!(report.link.unwrap().code.as_deref(), Some("ABCD1234"));
    }

    #[test]
    fn the_bridge_states_become_one_word() {
        let closed = |reconnect| BridgeState {
            last_disconnect: Some(LastDisconnect {
                reason: "timed_out".into(),
                code: Some(408),
                reconnect,
                delay_ms: 1000,
            }),
            ..state("closed")
        };
        for (s, word) in [
            (state("starting"), "connecting"),
            (state("connecting"), "connecting"),
            (closed(true), "connecting"),
            (closed(false), "stopped"),
            (state("logged_out"), "unconfigured"),
            (state("bridge_down"), "stopped"),
        ] {
            assert_eq!(describe(Some(&s), None).state, word, "{}", s.state);
        }
        let report = describe(Some(&closed(true)), None);
        assert_eq!(
            report.detail("last disconnect"),
            Some("timed_out (code 408), reconnecting after 1000 ms")
        );
        assert!(report.link.is_none() && report.account.is_none());
    }

    #[test]
    fn nothing_stored_yet_and_rejected_lines() {
        let report = describe(None, None);
        assert_eq!(report.state, "stopped");
        assert!(report.detail("bridge").unwrap().contains("run once"));
        let rejected = Rejected {
            count: 3,
            last: "not JSON".into(),
            at_ms: 5,
        };
        let s = BridgeState {
            jid: Some("12345@lid".into()),
            ..state("open")
        };
        let report = describe(Some(&s), Some(&rejected));
        assert_eq!(report.account.as_deref(), Some("12345@lid"));
        assert_eq!(
            report.detail("rejected lines"),
            Some("3, the latest: not JSON")
        );
    }
}
