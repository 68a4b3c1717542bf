//! Reading a shell line as the commands it runs, so that a rule or an
//! approval for one command never covers another hidden beside it.
//!
//! The line is cut into segments at `;`, `&`, `|`, `&&`, `||` and new
//! lines, outside quotes. A line is *opaque* when what it runs cannot be
//! read from its words: command substitution (`$(…)`, backticks),
//! process substitution, subshells and groups, and segments whose program
//! runs other programs or code (`sh`, `python -c`, `eval`, `xargs`,
//! `sudo`…). An opaque line is never covered by an allowance or an `auto`
//! command rule: it always asks.

/// One simple command of a line: its words, quotes removed, leading
/// `NAME=value` assignments kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub words: Vec<String>,
}

/// A parsed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub segments: Vec<Segment>,
    /// Why what the line runs cannot be judged, when it cannot.
    pub opaque: Option<String>,
}

impl Line {
    /// The line written canonically: segments' words joined by single
    /// spaces, segments by ` ; `. Two lines that run the same words the
    /// same way read the same, whatever their quoting and spacing.
    pub fn canonical(&self) -> String {
        self.segments
            .iter()
            .map(|s| s.words.join(" "))
            .collect::<Vec<_>>()
            .join(" ; ")
    }
}

/// Programs that run other programs or code given to them.
const RUNNERS: &[&str] = &[
    "sh", "bash", "zsh", "dash", "ksh", "fish", "csh", "tcsh", "python", "python2", "python3",
    "perl", "ruby", "node", "nodejs", "deno", "bun", "php", "lua", "tclsh", "eval", "exec",
    "source", ".", "sudo", "doas", "su", "env", "xargs", "nohup", "timeout", "nice", "command",
    "builtin", "watch", "parallel", "ssh", "script", "busybox", "chroot", "setsid", "stdbuf",
];

/// Parses `line` into segments.
pub fn parse(line: &str) -> Line {
    let mut segments = Vec::new();
    let mut opaque: Option<String> = None;
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    let hide = |why: &str, opaque: &mut Option<String>| {
        if opaque.is_none() {
            *opaque = Some(why.to_string());
        }
    };
    let end_word = |word: &mut String, in_word: &mut bool, words: &mut Vec<String>| {
        if *in_word {
            words.push(std::mem::take(word));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                in_word = true;
                if let Some(next) = chars.next()
                    && next != '\n'
                {
                    word.push(next);
                }
            }
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => {
                            if let Some(next) = chars.next() {
                                word.push(next);
                            }
                        }
                        '`' => {
                            hide("it uses command substitution (`…`)", &mut opaque);
                            word.push(q);
                        }
                        '$' if chars.peek() == Some(&'(') => {
                            hide("it uses command substitution ($(…))", &mut opaque);
                            word.push(q);
                        }
                        _ => word.push(q),
                    }
                }
            }
            '`' => {
                hide("it uses command substitution (`…`)", &mut opaque);
                in_word = true;
                word.push(c);
            }
            '$' if chars.peek() == Some(&'(') => {
                hide("it uses command substitution ($(…))", &mut opaque);
                in_word = true;
                word.push(c);
            }
            '<' | '>' if chars.peek() == Some(&'(') => {
                hide("it uses process substitution", &mut opaque);
                in_word = true;
                word.push(c);
            }
            '(' | ')' | '{' | '}' if !in_word => {
                hide("it runs a subshell or a group", &mut opaque);
                end_word(&mut word, &mut in_word, &mut words);
            }
            ';' | '&' | '|' | '\n' => {
                end_word(&mut word, &mut in_word, &mut words);
                if !words.is_empty() {
                    segments.push(Segment {
                        words: std::mem::take(&mut words),
                    });
                }
            }
            c if c.is_whitespace() => end_word(&mut word, &mut in_word, &mut words),
            _ => {
                in_word = true;
                word.push(c);
            }
        }
    }
    end_word(&mut word, &mut in_word, &mut words);
    if !words.is_empty() {
        segments.push(Segment { words });
    }
    for segment in &segments {
        if let Some(program) = program(segment) {
            let base = program.rsplit('/').next().unwrap_or(program);
            let base = base.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
            if RUNNERS.contains(&base) || RUNNERS.contains(&program) {
                hide(&format!("`{program}` runs other programs"), &mut opaque);
            }
            if segment
                .words
                .iter()
                .any(|w| w == "-exec" || w == "-execdir" || w == "-ok")
            {
                hide(&format!("`{program}` runs other programs"), &mut opaque);
            }
        }
    }
    Line { segments, opaque }
}

/// The program a segment runs: its first word after `NAME=value`
/// assignments.
fn program(segment: &Segment) -> Option<&str> {
    segment
        .words
        .iter()
        .find(|w| {
            !w.split_once('=')
                .is_some_and(|(name, _)| !name.is_empty() && !name.contains('/'))
        })
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<Vec<String>> {
        parse(line).segments.into_iter().map(|s| s.words).collect()
    }

    #[test]
    fn splits_at_operators_outside_quotes() {
        assert_eq!(
            words("echo x | wc -l"),
            vec![vec!["echo", "x"], vec!["wc", "-l"]]
        );
        assert_eq!(
            words("a && b || c; d & e\nf"),
            vec![
                vec!["a"],
                vec!["b"],
                vec!["c"],
                vec!["d"],
                vec!["e"],
                vec!["f"]
            ]
        );
        assert_eq!(
            words("echo 'a | b' \"c;d\""),
            vec![vec!["echo", "a | b", "c;d"]]
        );
        assert_eq!(words(r"echo a\;b"), vec![vec!["echo", "a;b"]]);
    }

    #[test]
    fn canonical_ignores_quoting_and_spacing() {
        assert_eq!(
            parse("echo   'hello'  world").canonical(),
            parse("echo hello \"world\"").canonical()
        );
        assert_ne!(
            parse("echo x").canonical(),
            parse("echo x | sh").canonical()
        );
        assert_ne!(
            parse("echo x").canonical(),
            parse("echo x; rm y").canonical()
        );
    }

    #[test]
    fn hidden_commands_make_the_line_opaque() {
        for line in [
            "echo $(rm -rf /)",
            "echo `id`",
            "echo \"$(id)\"",
            "diff <(ls a) <(ls b)",
            "(cd /; rm x)",
            "{ rm x; }",
            "echo x | sh",
            "python3 -c 'import os'",
            "/usr/bin/python3.12 script.py",
            "bash",
            "FOO=1 sudo ls",
            "eval ls",
            "find . -exec rm {} +",
            "xargs rm",
        ] {
            assert!(parse(line).opaque.is_some(), "{line} should be opaque");
        }
        for line in [
            "ls -la",
            "git status && git diff",
            "echo '$(not run)'",
            "A=1 make",
        ] {
            assert_eq!(parse(line).opaque, None, "{line}");
        }
    }
}
