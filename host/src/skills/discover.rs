//! Finding SKILL.md files: each root is walked recursively, skipping hidden
//! folders and build output, within bounds so a large workspace cannot
//! stall start-up.

use std::path::{Path, PathBuf};

/// How deep below a root a SKILL.md may sit.
const MAX_DEPTH: usize = 5;
/// Folders looked at per root, at most.
const MAX_DIRS: usize = 5_000;
/// Folders that never hold skills and can be huge.
const SKIP: &[&str] = &["node_modules", "target", "__pycache__", "venv"];

/// Every `SKILL.md` below the roots, sorted, each once.
pub fn find(roots: &[PathBuf]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for root in roots {
        let mut budget = MAX_DIRS;
        walk(root, 0, &mut budget, &mut found);
    }
    found.sort();
    found.dedup();
    found
}

fn walk(dir: &Path, depth: usize, budget: &mut usize, found: &mut Vec<PathBuf>) {
    if *budget == 0 {
        tracing::warn!(
            "skills: stopped looking below {} after {MAX_DIRS} folders",
            dir.display()
        );
        return;
    }
    *budget -= 1;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut subdirs = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_file() && name == "SKILL.md" {
            found.push(entry.path());
        } else if kind.is_dir() && !name.starts_with('.') && !SKIP.contains(&name.as_ref()) {
            subdirs.push(entry.path());
        }
    }
    if depth < MAX_DEPTH {
        subdirs.sort();
        for sub in subdirs {
            walk(&sub, depth + 1, budget, found);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skills_are_found_below_the_roots_but_not_in_build_output() {
        let root = tempfile::tempdir().unwrap();
        let p = root.path();
        for dir in ["a", "b/c", "node_modules/x", ".hidden", "target/y"] {
            std::fs::create_dir_all(p.join(dir)).unwrap();
            std::fs::write(p.join(dir).join("SKILL.md"), "x").unwrap();
        }
        std::fs::create_dir_all(p.join("a/1/2/3/4/5/6")).unwrap();
        std::fs::write(p.join("a/1/2/3/4/5/6/SKILL.md"), "too deep").unwrap();
        let found = find(&[p.to_path_buf(), p.join("a")]);
        assert_eq!(found, vec![p.join("a/SKILL.md"), p.join("b/c/SKILL.md")]);
    }
}
