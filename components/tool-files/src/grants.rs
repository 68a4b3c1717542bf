//! The folders this instance may touch, and where a path the model wrote
//! lands among them.
//!
//! The folders are the instance's WASI preopens: the host opens exactly the
//! operator's grants, nothing else, read-only unless granted writable. The
//! sandbox (wasmtime's cap-std) refuses any way out of them by itself; this
//! module places paths first so that a refusal can say, in words, which
//! path was outside and what is granted.

use openpista_sdk::Error;
use std::io;

/// One granted folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// Absolute, without `.`/`..` and without a trailing `/` (except `/`).
    pub root: String,
    pub writable: bool,
}

/// Every granted folder, in the operator's order (read grants, then
/// writable ones); the first is where relative paths start.
#[derive(Clone, Debug, Default)]
pub struct Grants(Vec<Grant>);

/// A path placed inside a grant.
#[derive(Clone, Debug)]
pub struct Place {
    /// Absolute and normalised: what the file system is asked for.
    pub path: String,
    /// The grant that holds it (the deepest one, as WASI picks it).
    pub root: String,
    pub writable: bool,
    /// How answers name it (see [`Grants::show`]).
    pub shown: String,
}

impl Grants {
    /// The folders the host preopened for this call.
    #[cfg(target_arch = "wasm32")]
    pub fn from_preopens() -> Grants {
        use wasip2::filesystem::{preopens, types::DescriptorFlags};
        Grants::new(
            preopens::get_directories()
                .into_iter()
                .map(|(dir, path)| {
                    let writable = dir
                        .get_flags()
                        .is_ok_and(|f| f.contains(DescriptorFlags::MUTATE_DIRECTORY));
                    (path, writable)
                })
                .collect(),
        )
    }

    /// Outside WebAssembly (the unit tests) nothing is granted.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_preopens() -> Grants {
        Grants::new(Vec::new())
    }

    /// Grants from `(folder, writable)` pairs; a folder granted twice (read
    /// and write) keeps its first place and is writable.
    pub fn new(list: Vec<(String, bool)>) -> Grants {
        let mut grants: Vec<Grant> = Vec::new();
        for (path, writable) in list {
            if !path.starts_with('/') {
                continue;
            }
            let root = normalize(&path);
            match grants.iter_mut().find(|g| g.root == root) {
                Some(g) => g.writable |= writable,
                None => grants.push(Grant { root, writable }),
            }
        }
        Grants(grants)
    }

    pub fn list(&self) -> &[Grant] {
        &self.0
    }

    /// The grants in words: `/a (read-only), /b (writable)`.
    pub fn describe(&self) -> String {
        self.0
            .iter()
            .map(|g| {
                let access = if g.writable { "writable" } else { "read-only" };
                format!("{} ({access})", g.root)
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The first grant; an error the model can read when there is none.
    fn first(&self) -> Result<&Grant, Error> {
        self.0.first().ok_or_else(|| {
            Error::Unavailable(
                "no folders are granted to tool-files, so it can reach no file at all. \
                 The operator grants folders in the config: [components.tool-files] \
                 paths = [\"/some/folder\"] to read, writable_paths = [...] to write too"
                    .into(),
            )
        })
    }

    /// Places `raw`, the path argument `arg` of a call: absolute paths as
    /// written, relative ones under the first grant, `.` and `..` resolved
    /// by their text. Anything that does not land inside a grant is denied.
    pub fn place(&self, raw: &str, arg: &str) -> Result<Place, Error> {
        let first = self.first()?;
        if raw.trim().is_empty() {
            return Err(Error::invalid_input(format!(
                "argument `{arg}` is empty: give a path inside {}",
                self.describe()
            )));
        }
        if raw.contains('\0') {
            return Err(Error::invalid_input(format!(
                "argument `{arg}` contains a NUL character"
            )));
        }
        let joined = if raw.starts_with('/') {
            raw.to_string()
        } else {
            format!("{}/{raw}", first.root)
        };
        let path = normalize(&joined);
        let grant = self
            .0
            .iter()
            .filter(|g| within(&g.root, &path))
            .max_by_key(|g| g.root.len());
        let Some(grant) = grant else {
            let resolved = if path == raw {
                String::new()
            } else {
                format!(" (it resolves to `{path}`)")
            };
            return Err(Error::denied(format!(
                "`{raw}` is outside the granted folders{resolved}; tool-files may use only {}",
                self.describe()
            )));
        };
        Ok(Place {
            shown: self.show(&path),
            root: grant.root.clone(),
            writable: grant.writable,
            path,
        })
    }

    /// How answers name an absolute path: relative to the first grant when
    /// inside it (the form a later call can pass back), else absolute.
    pub fn show(&self, path: &str) -> String {
        match self.0.first() {
            Some(first) if path == first.root => ".".into(),
            Some(first) if within(&first.root, path) => {
                path[first.root.len()..].trim_start_matches('/').to_string()
            }
            _ => path.to_string(),
        }
    }
}

/// `path` (absolute) with empty and `.` segments dropped and `..` taking
/// back one segment (never above `/`).
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Whether normalised `path` is `root` or below it.
pub fn within(root: &str, path: &str) -> bool {
    root == "/"
        || path == root
        || path
            .strip_prefix(root)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// `parent/name` for a normalised parent.
pub fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// What a failed file operation on `place` tells the model. A refusal by
/// the sandbox (the path was placed inside a grant, so it can only be a
/// symbolic link leading out) is denied with the link named; a missing
/// file and other failures are results the model can act on.
pub fn io_failure(e: &io::Error, place: &Place, doing: &str) -> Result<String, Error> {
    // 76 is WASI's ENOTCAPABLE.
    let refused = e.kind() == io::ErrorKind::PermissionDenied || e.raw_os_error() == Some(76);
    if refused {
        return Err(Error::denied(escape_reason(place)));
    }
    Ok(match e.kind() {
        io::ErrorKind::NotFound => format!("`{}` does not exist", place.shown),
        _ => format!("cannot {doing} `{}`: {e}", place.shown),
    })
}

/// Why the sandbox refused `place`: the first symbolic link on its way
/// down from the grant, with where it points.
fn escape_reason(place: &Place) -> String {
    let rest = place.path[place.root.len()..].trim_start_matches('/');
    let mut at = place.root.clone();
    for segment in rest.split('/').filter(|s| !s.is_empty()) {
        at = join(&at, segment);
        let is_link = std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink());
        if !is_link {
            continue;
        }
        // The sandbox shows a link's target only when it is relative: an
        // absolute one it neither follows nor reveals.
        let link = match std::fs::read_link(&at) {
            Ok(target) => format!("`{at}` is a symbolic link to `{}`", target.display()),
            Err(_) => format!("`{at}` is a symbolic link to an absolute path"),
        };
        return format!(
            "`{}` leads outside the granted folders: {link}, and links are followed only while \
             they stay inside the granted folder `{}` (never to an absolute path: name the \
             target itself if it is inside a granted folder)",
            place.shown, place.root
        );
    }
    format!(
        "access to `{}` (`{}`) was refused: the file's permissions on the host, or the \
         sandbox of the granted folder `{}`, do not allow it",
        place.shown, place.path, place.root
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants() -> Grants {
        Grants::new(vec![
            ("/data/docs/".into(), false),
            ("/data/out".into(), true),
            ("/data/docs/drafts".into(), true),
            ("/data/out".into(), false),
            ("relative".into(), true),
        ])
    }

    #[test]
    fn normalizes_by_text() {
        assert_eq!(normalize("/a/./b//c/"), "/a/b/c");
        assert_eq!(normalize("/a/b/../../.."), "/");
        assert_eq!(normalize("/a/../b"), "/b");
        assert!(within("/a", "/a/b") && within("/a", "/a") && within("/", "/x"));
        assert!(!within("/a", "/ab") && !within("/a/b", "/a"));
    }

    #[test]
    fn grants_merge_and_keep_order() {
        let g = grants();
        assert_eq!(
            g.describe(),
            "/data/docs (read-only), /data/out (writable), /data/docs/drafts (writable)"
        );
    }

    #[test]
    fn relative_paths_start_at_the_first_grant() {
        let g = grants();
        let p = g.place("notes/a.txt", "path").unwrap();
        assert_eq!(p.path, "/data/docs/notes/a.txt");
        assert_eq!((p.root.as_str(), p.writable), ("/data/docs", false));
        assert_eq!(p.shown, "notes/a.txt");
        // The deepest grant holds a path: drafts are writable.
        let p = g.place("drafts/x.md", "path").unwrap();
        assert_eq!((p.root.as_str(), p.writable), ("/data/docs/drafts", true));
        // Absolute paths in another grant are shown absolute.
        let p = g.place("/data/out/./r.csv", "path").unwrap();
        assert_eq!((p.shown.as_str(), p.writable), ("/data/out/r.csv", true));
        // `..` that stays inside the grants is fine.
        let p = g.place("../out/r.csv", "path").unwrap();
        assert_eq!(p.path, "/data/out/r.csv");
        assert_eq!(g.place(".", "path").unwrap().shown, ".");
    }

    #[test]
    fn outside_paths_are_denied_by_name() {
        let g = grants();
        for (raw, resolved) in [
            ("/etc/passwd", None),
            ("../secret.txt", Some("/data/secret.txt")),
            ("/data/docs/../../etc", Some("/etc")),
            ("/data/docsX/a", None),
        ] {
            let e = g.place(raw, "path").unwrap_err();
            let Error::Denied(m) = &e else {
                panic!("{raw}: {e:?}")
            };
            assert!(
                m.starts_with(&format!("`{raw}` is outside the granted folders")),
                "{m}"
            );
            if let Some(r) = resolved {
                assert!(m.contains(&format!("resolves to `{r}`")), "{m}");
            }
            assert!(m.contains("/data/docs (read-only)"), "{m}");
        }
    }

    #[test]
    fn nothing_granted_and_bad_paths() {
        let e = Grants::default().place("a", "path").unwrap_err();
        assert!(
            matches!(&e, Error::Unavailable(m) if m.contains("[components.tool-files]")),
            "{e:?}"
        );
        let e = grants().place("  ", "folder").unwrap_err();
        assert!(matches!(&e, Error::InvalidInput(m) if m.contains("`folder` is empty")));
        assert!(grants().place("a\0b", "path").is_err());
    }
}
