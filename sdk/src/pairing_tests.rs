//! Tests of [`super`], over a [`MapStore`].

use super::*;
use crate::memory::MapStore;

const ANN: &str = "15551234567@s.whatsapp.net";

fn pairings() -> Pairings<MapStore> {
    Pairings::with_store(MapStore::new())
}

/// Random bytes that give the codes `AAAAAAAA`, `BBBBBBBB`... in turn.
fn counting() -> impl FnMut() -> [u8; CODE_LEN] {
    let mut n = 0u8;
    move || {
        n += 1;
        [n - 1; CODE_LEN]
    }
}

fn text(p: &Pairings<MapStore>, key: &str) -> Option<String> {
    let bytes = p.store().get(key).unwrap()?;
    Some(String::from_utf8(bytes).unwrap())
}

#[test]
fn codes_use_the_unambiguous_alphabet() {
    assert_eq!(
        code_from_bytes(&[0, 1, 31, 32, 255, 8, 24, 100]),
        "AB9A9J2E"
    );
    let all: Vec<u8> = (0..=255).collect();
    for chunk in all.chunks(CODE_LEN) {
        let code = code_from_bytes(chunk.try_into().unwrap());
        assert!(is_code(&code), "{code}");
        assert!(!code.contains(['0', 'O', '1', 'I']), "{code}");
    }
    let distinct: std::collections::BTreeSet<_> = ALPHABET.iter().collect();
    assert_eq!(distinct.len(), 32);
    assert!(!is_code("ABCD0345") && !is_code("ABC") && !is_code("abcdefgh"));
}

#[test]
fn codes_are_read_whatever_the_case_and_separators() {
    assert_eq!(normalize("k7qm-xpa2"), "K7QMXPA2");
    assert_eq!(normalize(" K7QM XPA2\n"), "K7QMXPA2");
    assert_eq!(normalize("--"), "");
}

#[test]
fn a_request_is_stored_in_the_layout_channels_always_used() {
    let p = pairings();
    let code = p.code_for(ANN, Some("Ann"), 7, counting()).unwrap();
    assert_eq!(code, "AAAAAAAA");
    let record: serde_json::Value =
        serde_json::from_str(&text(&p, "pairing/pending/AAAAAAAA").unwrap()).unwrap();
    assert_eq!(
        record,
        serde_json::json!({"user_id": ANN, "username": "Ann", "created_ms": 7})
    );
    assert_eq!(
        text(&p, &format!("pairing/user/{ANN}")).as_deref(),
        Some("AAAAAAAA")
    );
    assert!(!p.is_approved(ANN).unwrap());
}

#[test]
fn asking_again_gives_the_same_code_while_it_is_pending() {
    let p = pairings();
    let mut random = counting();
    let first = p.code_for("42", None, 1, &mut random).unwrap();
    assert_eq!(p.code_for("42", None, 2, &mut random).unwrap(), first);
    // Another user gets another code.
    assert_ne!(p.code_for("7", None, 3, &mut random).unwrap(), first);
    // Once the request is gone (approved, say), a new code is drawn.
    p.store()
        .delete(&format!("pairing/pending/{first}"))
        .unwrap();
    let again = p.code_for("42", None, 4, &mut random).unwrap();
    assert_ne!(again, first);
}

#[test]
fn a_code_pointing_at_someone_elses_request_is_not_reused() {
    let p = pairings();
    p.code_for("7", None, 1, counting()).unwrap();
    p.store().set("pairing/user/42", b"AAAAAAAA").unwrap();
    let code = p.code_for("42", None, 2, || [1; CODE_LEN]).unwrap();
    assert_eq!(code, "BBBBBBBB");
    let (requests, _) = p.list().unwrap();
    let users: Vec<&str> = requests.iter().map(|r| r.user.as_str()).collect();
    assert_eq!(users, ["7", "42"]);
}

#[test]
fn a_code_already_pending_is_drawn_again() {
    let p = pairings();
    p.code_for("7", None, 1, || [0; CODE_LEN]).unwrap();
    let mut draws = [[0u8; CODE_LEN], [0; CODE_LEN], [2; CODE_LEN]].into_iter();
    let code = p.code_for("42", None, 2, || draws.next().unwrap()).unwrap();
    assert_eq!(code, "CCCCCCCC");
}

#[test]
fn approving_moves_the_sender_to_approved() {
    let p = pairings();
    let code = p.code_for("42", Some("ann"), 5, counting()).unwrap();
    let request = p.approve("aaaa-aaaa", 99).unwrap();
    assert_eq!(
        request,
        PairingRequest {
            code: code.clone(),
            user: "42".into(),
            name: Some("ann".into()),
            created_ms: 5,
        }
    );
    assert!(p.is_approved("42").unwrap());
    let record: serde_json::Value =
        serde_json::from_str(&text(&p, "pairing/approved/42").unwrap()).unwrap();
    assert_eq!(
        record,
        serde_json::json!({"user_id": "42", "approved_ms": 99, "username": "ann"})
    );
    assert_eq!(p.store().keys(), ["pairing/approved/42"]);
    let (requests, approved) = p.list().unwrap();
    assert!(requests.is_empty());
    assert_eq!(
        approved,
        [PairedUser {
            user: "42".into(),
            name: Some("ann".into()),
            approved_ms: 99,
        }]
    );
}

#[test]
fn an_unknown_code_is_not_found_and_the_pending_ones_named() {
    let p = pairings();
    let e = p.approve("ZZZZ", 1).unwrap_err();
    assert_eq!(e.kind(), "not-found");
    assert!(e.message().contains("(pending: none)"), "{e}");
    p.code_for("1", None, 1, counting()).unwrap();
    let e = p.approve("zz-zz", 1).unwrap_err();
    assert!(
        e.message().contains("`ZZZZ`") && e.message().contains("AAAAAAAA"),
        "{e}"
    );
    assert!(p.list().unwrap().1.is_empty(), "nobody approved");
}

#[test]
fn revoking_withdraws_an_approval_once() {
    let p = pairings();
    p.code_for(ANN, None, 1, counting()).unwrap();
    p.approve("AAAAAAAA", 2).unwrap();
    assert!(p.revoke(&format!(" {ANN} ")).unwrap());
    assert!(!p.is_approved(ANN).unwrap());
    assert!(!p.revoke(ANN).unwrap());
}

#[test]
fn records_of_earlier_versions_are_read() {
    let p = pairings();
    // Telegram wrote numbers, with a chat id; the host wrote approvals.
    let old = r#"{"user_id":42,"chat_id":42,"username":null,"created_ms":7}"#;
    p.store()
        .set("pairing/pending/K7QMXPA2", old.as_bytes())
        .unwrap();
    p.store().set("pairing/user/42", b"K7QMXPA2\n").unwrap();
    p.store()
        .set(
            "pairing/approved/-100",
            br#"{"approved_ms":3,"username":"bob"}"#,
        )
        .unwrap();
    p.store().set("pairing/approved/9", b"yes").unwrap();
    assert_eq!(p.code_for("42", None, 8, counting()).unwrap(), "K7QMXPA2");
    let (requests, approved) = p.list().unwrap();
    assert_eq!(requests[0].user, "42");
    assert_eq!(requests[0].created_ms, 7);
    let users: Vec<(&str, u64)> = approved
        .iter()
        .map(|a| (a.user.as_str(), a.approved_ms))
        .collect();
    assert_eq!(users, [("-100", 3), ("9", 0)]);
    assert!(
        p.is_approved("9").unwrap(),
        "an unreadable approval still counts"
    );
    assert_eq!(p.approve("k7qmxpa2", 10).unwrap().user, "42");
}

#[test]
fn a_broken_pending_record_is_named() {
    let p = pairings();
    p.store().set("pairing/pending/AAAAAAAA", b"{").unwrap();
    let e = p.approve("AAAAAAAA", 1).unwrap_err();
    assert_eq!(e.kind(), "internal");
    assert!(e.message().contains("`pairing/pending/AAAAAAAA`"), "{e}");
}

#[test]
fn the_owner_is_told_the_command() {
    assert_eq!(
        ask_owner("telegram", "ABCD2345"),
        "Your pairing code is ABCD2345. Ask the owner to run: \
         openpista pairing approve telegram ABCD2345"
    );
}
