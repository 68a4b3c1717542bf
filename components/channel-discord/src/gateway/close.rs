//! What a closed Gateway connection means, from its close code.
//!
//! Discord's codes (Gateway close event codes): some say the bot cannot
//! connect as configured, and reconnecting would only be refused again;
//! 4007 and 4009 end the session but a fresh Identify works; everything
//! else (network failures are reported as 1006) is resumable.

/// What to do after a close.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AfterClose {
    /// Reconnect and Resume the session (Identify when there is none).
    Resume,
    /// Forget the session, reconnect and Identify.
    Identify,
    /// Stop: reconnecting cannot help. The reason says what to fix.
    Fatal(String),
}

/// The decision for close `code`.
pub fn classify(code: u16) -> AfterClose {
    let fatal = |why: &str| AfterClose::Fatal(format!("Gateway closed with {code}: {why}"));
    match code {
        4004 => fatal("authentication failed; check the discord_bot_token secret"),
        4010 => fatal("invalid shard"),
        4011 => fatal("sharding required: the bot is in too many guilds for one connection"),
        4012 => fatal("invalid API version"),
        4013 => fatal("invalid intents; check the `intents` setting"),
        4014 => fatal(
            "disallowed intents: enable the Message Content intent for the bot in the \
             Discord developer portal, or set `intents` without it",
        ),
        4007 | 4009 => AfterClose::Identify,
        _ => AfterClose::Resume,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_and_sharding_failures_are_fatal() {
        for code in [4004, 4010, 4011, 4012, 4013, 4014] {
            assert!(
                matches!(classify(code), AfterClose::Fatal(ref why) if why.contains(&code.to_string())),
                "{code}"
            );
        }
        let AfterClose::Fatal(why) = classify(4004) else {
            panic!()
        };
        assert!(why.contains("discord_bot_token"));
    }

    #[test]
    fn bad_sequence_and_timeouts_identify_afresh() {
        assert_eq!(classify(4007), AfterClose::Identify);
        assert_eq!(classify(4009), AfterClose::Identify);
    }

    #[test]
    fn everything_else_resumes() {
        for code in [1000, 1001, 1006, 4000, 4001, 4002, 4003, 4005, 4008] {
            assert_eq!(classify(code), AfterClose::Resume, "{code}");
        }
    }
}
