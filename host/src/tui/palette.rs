//! The slash commands, and the fuzzy match the pickers filter with.

/// Every command the TUI knows, with a line of help.
pub const COMMANDS: &[(&str, &str)] = &[
    ("/help", "the keys and commands"),
    ("/new", "start a new session"),
    ("/session", "browse sessions: open, rename, delete"),
    ("/model", "pick the model of this session"),
    ("/login", "sign in to a provider"),
    ("/clear", "forget this session's messages"),
    ("/stop", "cancel the running turn"),
    ("/copy", "copy the selected or last answer"),
    ("/components", "components and their state"),
    ("/skills", "skills and whether each is available"),
    ("/workers", "container workers: their state and reports"),
    ("/telegram status", "the Telegram bot's state"),
    ("/whatsapp status", "the WhatsApp link's state"),
    ("/whatsapp pair", "link WhatsApp: the QR code"),
    ("/home", "the landing screen"),
    ("/quit", "leave (also /exit, Ctrl+C)"),
];

/// A fuzzy score of `candidate` for `query`: `None` when the query's
/// characters do not all appear in order (case-insensitive); higher is
/// better (consecutive and word-start matches count more).
pub fn score(query: &str, candidate: &str) -> Option<i32> {
    let query: Vec<char> = query
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '/')
        .flat_map(char::to_lowercase)
        .collect();
    if query.is_empty() {
        return Some(0);
    }
    let chars: Vec<char> = candidate.chars().flat_map(char::to_lowercase).collect();
    let mut qi = 0;
    let mut total = 0;
    let mut prev: Option<usize> = None;
    for (i, c) in chars.iter().enumerate() {
        if qi < query.len() && *c == query[qi] {
            total += 1;
            if prev.is_some_and(|p| p + 1 == i) {
                total += 4;
            }
            if i == 0 || !chars[i - 1].is_alphanumeric() {
                total += 3;
            }
            prev = Some(i);
            qi += 1;
        }
    }
    // Shorter candidates win ties: "/new" before "/whatsapp pair".
    (qi == query.len()).then_some(total * 100 - chars.len() as i32)
}

/// Indexes of `items` matching `query`, best first (stable for ties).
pub fn filter<'a>(query: &str, items: impl Iterator<Item = &'a str>) -> Vec<usize> {
    let mut scored: Vec<(i32, usize)> = items
        .enumerate()
        .filter_map(|(i, s)| score(query, s).map(|sc| (sc, i)))
        .collect();
    if query.trim().is_empty() {
        return scored.into_iter().map(|(_, i)| i).collect();
    }
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().map(|(_, i)| i).collect()
}

/// The palette's entries for `query`.
pub fn commands(query: &str) -> Vec<(&'static str, &'static str)> {
    filter(query, COMMANDS.iter().map(|(c, _)| *c))
        .into_iter()
        .map(|i| COMMANDS[i])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_in_order_match_and_the_best_comes_first() {
        assert_eq!(commands("new")[0].0, "/new");
        assert_eq!(commands("wap")[0].0, "/whatsapp pair");
        assert_eq!(commands("ses")[0].0, "/session");
        assert_eq!(commands("/qu")[0].0, "/quit");
        assert!(commands("zzz").is_empty());
        assert_eq!(commands("").len(), COMMANDS.len());
    }

    #[test]
    fn the_match_ignores_case_and_needs_the_order() {
        assert!(score("TG", "/telegram status").is_some());
        assert!(score("gt", "/telegram status").is_some());
        assert!(score("xt", "/telegram status").is_none());
        assert!(score("mod", "/model") > score("mod", "/components"));
    }
}
