//! `fs.search`: lines that contain a text (or match a simple pattern) in
//! the files under a folder, as `file:line: text`.

use crate::grants::{Grants, io_failure, join};
use openpista_sdk::{Error, ToolResult};
use serde::Deserialize;
use std::io::{BufRead, BufReader, Read};

/// Hits one call returns when it names no `max_hits`, and at most.
pub const DEFAULT_HITS: u32 = 100;
pub const MAX_HITS: u32 = 1000;
/// Files larger than this are skipped.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// Files one call reads at most, and how deep it goes.
pub const MAX_FILES: usize = 5000;
pub const MAX_DEPTH: usize = 20;
/// Characters of a matching line shown.
const LINE_CHARS: usize = 200;

/// Arguments of `fs.search`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchArgs {
    /// Text every hit contains.
    #[serde(default)]
    pub query: Option<String>,
    /// A line pattern: `*` any run of characters, `?` one character.
    #[serde(default)]
    pub pattern: Option<String>,
    /// The folder (or one file); the first granted folder when absent.
    #[serde(default)]
    pub path: Option<String>,
    /// Only files whose name matches, such as `*.rs`.
    #[serde(default)]
    pub glob: Option<String>,
    #[serde(default)]
    pub ignore_case: bool,
    #[serde(default)]
    pub max_hits: Option<u32>,
}

/// What a line must match.
enum Matcher {
    Text(String),
    Pattern(Vec<char>),
}

impl Matcher {
    fn matches(&self, line: &str) -> bool {
        match self {
            Matcher::Text(t) => line.contains(t.as_str()),
            Matcher::Pattern(p) => glob(p, &line.chars().collect::<Vec<_>>()),
        }
    }
}

/// One search's running state.
struct Search<'a> {
    grants: &'a Grants,
    matcher: Matcher,
    ignore_case: bool,
    names: Option<Vec<char>>,
    max_hits: usize,
    hits: Vec<String>,
    files: usize,
    files_hit: usize,
    skipped: usize,
    /// Some folder was deeper than [`MAX_DEPTH`].
    too_deep: bool,
    stopped: Option<String>,
}

pub fn search(grants: &Grants, args: SearchArgs) -> Result<ToolResult, Error> {
    let max_hits = args.max_hits.unwrap_or(DEFAULT_HITS);
    if max_hits == 0 || max_hits > MAX_HITS {
        return Err(Error::invalid_input(format!(
            "argument `max_hits`: between 1 and {MAX_HITS}"
        )));
    }
    let fold = |s: &str| {
        if args.ignore_case {
            s.to_lowercase()
        } else {
            s.to_string()
        }
    };
    let (matcher, wanted) = match (&args.query, &args.pattern) {
        (Some(q), None) if !q.is_empty() => (Matcher::Text(fold(q)), q.clone()),
        (None, Some(p)) if !p.is_empty() => {
            let wrapped = format!("*{}*", fold(p));
            (Matcher::Pattern(wrapped.chars().collect()), p.clone())
        }
        _ => {
            return Err(Error::invalid_input(
                "arguments: give exactly one of `query` (text to find) and `pattern` (`*` and `?` wildcards), not empty",
            ));
        }
    };
    let place = grants.place(args.path.as_deref().unwrap_or("."), "path")?;
    let meta = match std::fs::metadata(&place.path) {
        Ok(m) => m,
        Err(e) => return io_failure(&e, &place, "search").map(ToolResult::error),
    };
    let mut s = Search {
        grants,
        matcher,
        ignore_case: args.ignore_case,
        names: args.glob.as_ref().map(|g| g.chars().collect()),
        max_hits: max_hits as usize,
        hits: Vec::new(),
        files: 0,
        files_hit: 0,
        skipped: 0,
        too_deep: false,
        stopped: None,
    };
    if meta.is_dir() {
        if let Err(e) = s.folder(&place.path, 0) {
            return io_failure(&e, &place, "search").map(ToolResult::error);
        }
    } else if let Err(e) = s.file(&place.path, meta.len()) {
        return io_failure(&e, &place, "search").map(ToolResult::error);
    }
    let mut summary = if s.hits.is_empty() {
        format!(
            "no line matches `{wanted}` in {} under `{}`",
            count(s.files, "file"),
            place.shown
        )
    } else {
        format!(
            "{} in {} ({} searched under `{}`)",
            count(s.hits.len(), "hit"),
            count(s.files_hit, "file"),
            count(s.files, "file"),
            place.shown
        )
    };
    if s.skipped > 0 {
        summary.push_str(&format!(
            "; {} binary, unreadable or larger than {MAX_FILE_BYTES} bytes skipped",
            s.skipped
        ));
    }
    if s.too_deep {
        summary.push_str(&format!(
            "; folders more than {MAX_DEPTH} levels down were not searched"
        ));
    }
    if let Some(why) = &s.stopped {
        summary.push_str(&format!("; stopped: {why}"));
    }
    let mut out = s.hits.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(&format!("[{summary}]"));
    Ok(ToolResult::text(out))
}

impl Search<'_> {
    fn full(&self) -> bool {
        self.stopped.is_some()
    }

    /// Searches the files under `dir` in name order. Symbolic links and
    /// `.git` folders are passed over.
    fn folder(&mut self, dir: &str, depth: usize) -> std::io::Result<()> {
        let mut children: Vec<(String, std::fs::FileType)> = std::fs::read_dir(dir)?
            .filter_map(Result::ok)
            .filter_map(|e| Some((e.file_name().into_string().ok()?, e.file_type().ok()?)))
            .collect();
        children.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, kind) in children {
            if self.full() {
                return Ok(());
            }
            let path = join(dir, &name);
            if kind.is_dir() && name != ".git" {
                if depth + 1 >= MAX_DEPTH {
                    self.too_deep = true;
                    continue;
                }
                if self.folder(&path, depth + 1).is_err() {
                    self.skipped += 1;
                }
            } else if kind.is_file() {
                if let Some(g) = &self.names
                    && !glob(g, &name.chars().collect::<Vec<_>>())
                {
                    continue;
                }
                let size = std::fs::symlink_metadata(&path).map_or(0, |m| m.len());
                if self.file(&path, size).is_err() {
                    self.skipped += 1;
                }
            }
        }
        Ok(())
    }

    /// Searches one file, unless it is large or binary.
    fn file(&mut self, path: &str, size: u64) -> std::io::Result<()> {
        if self.files >= MAX_FILES {
            self.stopped = Some(format!(
                "{MAX_FILES} files read; search a subfolder or narrow `glob`"
            ));
            return Ok(());
        }
        self.files += 1;
        if size > MAX_FILE_BYTES {
            self.skipped += 1;
            return Ok(());
        }
        let mut reader = BufReader::new(std::fs::File::open(path)?);
        if reader.fill_buf()?.iter().take(8192).any(|b| *b == 0) {
            self.skipped += 1;
            return Ok(());
        }
        let shown = self.grants.show(path);
        let mut hit = false;
        let mut bytes = Vec::new();
        let mut number = 0;
        let mut reader = reader.take(MAX_FILE_BYTES);
        loop {
            bytes.clear();
            if reader.read_until(b'\n', &mut bytes)? == 0 {
                break;
            }
            number += 1;
            let line = String::from_utf8_lossy(&bytes);
            let line = line.trim_end_matches(['\n', '\r']);
            let matched = if self.ignore_case {
                self.matcher.matches(&line.to_lowercase())
            } else {
                self.matcher.matches(line)
            };
            if !matched {
                continue;
            }
            hit = true;
            self.hits.push(format!("{shown}:{number}: {}", clip(line)));
            if self.hits.len() >= self.max_hits {
                self.stopped = Some(format!(
                    "the first {} hits are shown (`max_hits`, at most {MAX_HITS})",
                    self.max_hits
                ));
                break;
            }
        }
        if hit {
            self.files_hit += 1;
        }
        Ok(())
    }
}

/// `1 file`, `2 files`.
fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// `line` cut to [`LINE_CHARS`] characters, marked when cut.
fn clip(line: &str) -> String {
    match line.char_indices().nth(LINE_CHARS) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_string(),
    }
}

/// Whether all of `text` matches `pattern`: `*` any run of characters
/// (none too), `?` exactly one, anything else itself.
pub fn glob(pattern: &[char], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was, and the text position it stands at.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            // Let the last `*` take one more character.
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(p: &str, t: &str) -> bool {
        glob(
            &p.chars().collect::<Vec<_>>(),
            &t.chars().collect::<Vec<_>>(),
        )
    }

    #[test]
    fn globs() {
        assert!(g("*.rs", "main.rs"));
        assert!(!g("*.rs", "main.rsx"));
        assert!(g("a?c", "abc") && !g("a?c", "ac"));
        assert!(g("*fn *(*)*", "pub fn main() {"));
        assert!(g("*", "") && g("**", "x"));
        assert!(!g("*x*", "abc"));
        assert!(g("*é*", "café"));
    }

    #[test]
    fn long_lines_are_clipped() {
        let long = "x".repeat(300);
        let c = clip(&long);
        assert_eq!(c.chars().count(), LINE_CHARS + 1);
        assert!(c.ends_with('…'));
        assert_eq!(clip("short"), "short");
    }
}
