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
    /// The line written canonically (see [`Line::canonical`]).
    canonical: String,
}

impl Line {
    /// The line written canonically: runs of blanks become one space,
    /// and every quoted or escaped character that is not plain
    /// (`[A-Za-z0-9_./:=@%+,-]`) is written with a backslash, while
    /// unquoted operators and redirections stay as they were. Two lines
    /// read the same only when the shell runs them the same way: quoting
    /// style and spacing do not count, but `echo 'x; rm y'` is not
    /// `echo x; rm y`, `a | b` is not `a ; b`, and `echo '>' f` is not
    /// `echo > f`.
    pub fn canonical(&self) -> &str {
        &self.canonical
    }
}

/// Characters that mean the same quoted or not.
fn plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_./:=@%+,-".contains(c)
}

/// Builds [`Line::canonical`] while the line is read.
#[derive(Default)]
struct Canonical {
    text: String,
    /// The current word so far.
    word: String,
    /// Blanks were seen since the last token.
    blank: bool,
}

impl Canonical {
    /// A character of a word, `quoted` when it came inside quotes or
    /// after a backslash.
    fn push(&mut self, c: char, quoted: bool) {
        if quoted && !plain(c) {
            self.word.push('\\');
        }
        self.word.push(c);
    }

    /// Ends the current word (an empty quoted word `''` is kept).
    fn end_word(&mut self, had_word: bool) {
        if had_word {
            let word = std::mem::take(&mut self.word);
            self.token(if word.is_empty() { "''" } else { &word });
        }
    }

    /// An unquoted operator character, glued to the token before it
    /// unless blanks came between.
    fn operator(&mut self, c: char) {
        self.token(c.encode_utf8(&mut [0; 4]));
    }

    fn token(&mut self, token: &str) {
        if self.blank && !self.text.is_empty() {
            self.text.push(' ');
        }
        self.blank = false;
        self.text.push_str(token);
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
    let mut canon = Canonical::default();
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
            '\\' => match chars.next() {
                // A line continuation: nothing.
                Some('\n') => {}
                Some(next) => {
                    in_word = true;
                    word.push(next);
                    canon.push(next, true);
                }
                None => {
                    in_word = true;
                    canon.push('\\', true);
                }
            },
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                    canon.push(q, true);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        // Inside double quotes a backslash escapes only
                        // these; before anything else it stays.
                        '\\' => match chars.next() {
                            Some('\n') => {}
                            Some(next @ ('$' | '`' | '"' | '\\')) => {
                                word.push(next);
                                canon.push(next, true);
                            }
                            Some(next) => {
                                word.push('\\');
                                word.push(next);
                                canon.push('\\', true);
                                canon.push(next, true);
                            }
                            None => {
                                word.push('\\');
                                canon.push('\\', true);
                            }
                        },
                        '`' => {
                            hide("it uses command substitution (`…`)", &mut opaque);
                            word.push(q);
                            canon.push(q, false);
                        }
                        '$' => {
                            if chars.peek() == Some(&'(') {
                                hide("it uses command substitution ($(…))", &mut opaque);
                            }
                            // Expanded inside double quotes, as outside.
                            word.push(q);
                            canon.push(q, false);
                        }
                        _ => {
                            word.push(q);
                            canon.push(q, true);
                        }
                    }
                }
            }
            '`' => {
                hide("it uses command substitution (`…`)", &mut opaque);
                in_word = true;
                word.push(c);
                canon.push(c, false);
            }
            '$' if chars.peek() == Some(&'(') => {
                hide("it uses command substitution ($(…))", &mut opaque);
                in_word = true;
                word.push(c);
                canon.push(c, false);
            }
            '<' | '>' if chars.peek() == Some(&'(') => {
                hide("it uses process substitution", &mut opaque);
                in_word = true;
                word.push(c);
                canon.push(c, false);
            }
            '(' | ')' | '{' | '}' if !in_word => {
                hide("it runs a subshell or a group", &mut opaque);
                canon.end_word(in_word);
                end_word(&mut word, &mut in_word, &mut words);
                canon.operator(c);
            }
            ';' | '&' | '|' | '\n' => {
                canon.end_word(in_word);
                end_word(&mut word, &mut in_word, &mut words);
                canon.operator(c);
                if !words.is_empty() {
                    segments.push(Segment {
                        words: std::mem::take(&mut words),
                    });
                }
            }
            c if c.is_whitespace() => {
                canon.end_word(in_word);
                end_word(&mut word, &mut in_word, &mut words);
                canon.blank = true;
            }
            _ => {
                in_word = true;
                word.push(c);
                canon.push(c, false);
            }
        }
    }
    canon.end_word(in_word);
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
    Line {
        segments,
        opaque,
        canonical: canon.text,
    }
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
        for (a, b) in [
            ("echo   'hello'  world", "echo hello \"world\""),
            ("echo 'a b'", "echo a\\ b"),
            ("echo \"a b\"", "echo 'a b'"),
            ("ls -la ; pwd", "ls -la ;  pwd"),
            ("git status", "  git status  "),
        ] {
            assert_eq!(parse(a).canonical(), parse(b).canonical(), "{a} ~ {b}");
        }
    }

    #[test]
    fn canonical_keeps_what_changes_what_runs() {
        for (a, b) in [
            ("echo x", "echo x | sh"),
            ("echo x", "echo x; rm y"),
            // Quoted operators are arguments; unquoted ones run commands.
            ("echo 'x ; rm y'", "echo x; rm y"),
            ("echo \"x && rm y\"", "echo x && rm y"),
            ("echo 'a|b'", "echo a|b"),
            ("a | b", "a ; b"),
            ("a && b", "a & & b"),
            ("a || b", "a | | b"),
            // Redirections.
            ("echo '>' f", "echo > f"),
            ("echo 'x >/etc/passwd'", "echo x >/etc/passwd"),
            ("echo x 2>f", "echo x 2 >f"),
            ("cat '<' f", "cat < f"),
            // A quoted $ is not expanded.
            ("echo '$HOME'", "echo $HOME"),
            // Words split differently.
            ("rm 'a b'", "rm a b"),
            ("echo ''", "echo"),
            ("echo \"a\\b\"", "echo ab"),
        ] {
            assert_ne!(parse(a).canonical(), parse(b).canonical(), "{a} !~ {b}");
        }
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
