//! `tool-files`, the component the binary ships, under real grants: it
//! reaches nothing until the operator grants a folder, reads and lists and
//! searches inside the grant, writes only where the grant is writable, and
//! every way out (an absolute path, `..`, a symbolic link) is denied with
//! the path named. The component is the embedded one, installed into a
//! plugin folder so each test picks its own `[components.tool-files]`.

use openpista::runtime::bindings::{ToolResult, WitError};
use openpista::runtime::capabilities::ComponentPolicy;
use openpista::runtime::{CallError, Runtime, RuntimeConfig};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const SECRET: &str = "outside-secret-5d1f0a";

/// The folders of one test: `granted` and `out` are offered to the
/// component, `outside` and `private.txt` never are.
struct Tree {
    _dir: tempfile::TempDir,
    root: PathBuf,
    granted: PathBuf,
    out: PathBuf,
    outside: PathBuf,
}

fn tree() -> Tree {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let (granted, out, outside) = (root.join("granted"), root.join("out"), root.join("outside"));
    for d in [&granted, &out, &outside, &granted.join("sub/deep")] {
        std::fs::create_dir_all(d).unwrap();
    }
    let write = |p: PathBuf, data: &[u8]| std::fs::write(p, data).unwrap();
    write(root.join("private.txt"), SECRET.as_bytes());
    write(
        outside.join("secret.txt"),
        format!("{SECRET} needle\n").as_bytes(),
    );
    write(
        granted.join("hello.txt"),
        b"line one\nline two\nline three\n",
    );
    write(
        granted.join("sub/deep/x.txt"),
        b"alpha\nneedle here\nbeta NEEDLE\n",
    );
    write(granted.join("notes.md"), b"# notes\na needle in markdown\n");
    write(
        granted.join("photo.png"),
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR needle",
    );
    let big: String = (1..=30_000).map(|i| format!("line {i:05}\n")).collect();
    write(granted.join("big.txt"), big.as_bytes());
    let link = |target: &Path, at: PathBuf| std::os::unix::fs::symlink(target, at).unwrap();
    link(Path::new("../outside"), granted.join("escape"));
    link(&root.join("private.txt"), granted.join("passwd-link"));
    link(Path::new("hello.txt"), granted.join("inside-link"));
    link(Path::new("../outside"), out.join("link-out"));
    Tree {
        _dir: dir,
        root,
        granted,
        out,
        outside,
    }
}

/// Loads the embedded tool-files with the operator's table `policy` (TOML).
async fn files(t: &Tree, policy: &str, workspace: Option<PathBuf>) -> Files {
    let embedded = openpista::runtime::registry::EMBEDDED
        .iter()
        .find(|e| e.package == "tool-files")
        .expect("tool-files is embedded in the binary");
    let plugins = t.root.join("components");
    openpista_tests::install(&plugins, "tool-files", &embedded.wasm(), embedded.manifest);
    let policy: ComponentPolicy = toml::from_str(policy).unwrap();
    let rt = Runtime::new(RuntimeConfig {
        cache_dir: Some(t.root.join("cache")),
        plugin_dirs: vec![plugins],
        embedded: false,
        policies: [("tool-files".to_string(), policy)].into(),
        workspace,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let failures = rt.load_all().await;
    assert!(failures.is_empty(), "{failures:?}");
    Files(rt)
}

/// The usual grant: `granted` read-only (first, so relative paths start
/// there) and `out` writable.
async fn granted(t: &Tree) -> Files {
    let policy = format!(
        "paths = [\"{}\"]\nwritable_paths = [\"{}\"]",
        t.granted.display(),
        t.out.display()
    );
    files(t, &policy, None).await
}

/// The loaded component, and what its calls come back as.
struct Files(Arc<Runtime>);

impl Files {
    async fn call(&self, tool: &str, args: &Value) -> Result<ToolResult, CallError> {
        let component = self.0.get("tool-files").expect("tool-files is loaded");
        let ctx = openpista_tests::ctx("files");
        component.invoke(tool, &args.to_string(), &ctx).await
    }

    /// The content of a successful result.
    async fn ok(&self, tool: &str, args: Value) -> String {
        match self.call(tool, &args).await {
            Ok(r) if !r.is_error => r.content,
            other => panic!("{tool} {args}: expected success, got {other:?}"),
        }
    }

    /// The content of a result the tool marked as a failure.
    async fn failed(&self, tool: &str, args: Value) -> String {
        match self.call(tool, &args).await {
            Ok(r) if r.is_error => r.content,
            other => panic!("{tool} {args}: expected a failed result, got {other:?}"),
        }
    }

    /// The message of a denial, which never holds what lies outside.
    async fn denied(&self, tool: &str, args: Value) -> String {
        match self.call(tool, &args).await {
            Err(CallError::Guest(WitError::Denied(m))) => {
                assert!(!m.contains(SECRET), "a denial leaked the content: {m}");
                m
            }
            other => panic!("{tool} {args}: expected a denial, got {other:?}"),
        }
    }

    /// The message of an invalid-input error.
    async fn invalid(&self, tool: &str, args: Value) -> String {
        match self.call(tool, &args).await {
            Err(CallError::Guest(WitError::InvalidInput(m))) => m,
            other => panic!("{tool} {args}: expected invalid input, got {other:?}"),
        }
    }

    /// An `fs.list` answer.
    async fn list(&self, args: Value) -> Value {
        serde_json::from_str(&self.ok("fs.list", args).await).unwrap()
    }
}

/// A path as a call passes it.
fn text(path: PathBuf) -> String {
    path.display().to_string()
}

/// A file's content on disk.
fn disk(path: PathBuf) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_reachable_until_the_operator_grants_a_folder() {
    let t = tree();
    let f = files(&t, "", None).await;
    let caps = f.0.status()[0].capabilities.clone().unwrap();
    assert!(caps.contains("read: none; write: none"), "{caps}");
    let hello = text(t.granted.join("hello.txt"));
    for (tool, args) in [
        ("fs.list", json!({})),
        ("fs.read", json!({ "path": hello })),
    ] {
        match f.call(tool, &args).await {
            Err(CallError::Guest(WitError::Unavailable(m))) => {
                assert!(m.contains("no folders are granted"), "{m}");
                assert!(m.contains("[components.tool-files]"), "{m}");
            }
            other => panic!("{tool}: expected unavailable, got {other:?}"),
        }
    }

    // The operator grants the workspace: now it, and only it, is readable.
    let f = files(&t, "paths = [\"$WORKSPACE\"]", Some(t.granted.clone())).await;
    let caps = f.0.status()[0].capabilities.clone().unwrap();
    let expected = format!("read: {}; write: none", t.granted.display());
    assert!(caps.contains(&expected), "{caps}");
    let hello = f.ok("fs.read", json!({ "path": "hello.txt" })).await;
    assert_eq!(hello, "line one\nline two\nline three\n");
    let m = f
        .denied("fs.write", json!({ "path": "new.txt", "content": "x" }))
        .await;
    assert!(
        m.contains("granted read-only (no folder is granted writable)"),
        "{m}"
    );
    assert!(!t.granted.join("new.txt").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relative_folder_is_refused_not_taken_from_the_current_one() {
    let t = tree();
    let plugins = t.root.join("components");
    let embedded = openpista::runtime::registry::EMBEDDED
        .iter()
        .find(|e| e.package == "tool-files")
        .unwrap();
    openpista_tests::install(&plugins, "tool-files", &embedded.wasm(), embedded.manifest);
    let policy: ComponentPolicy = toml::from_str("paths = [\"granted\"]").unwrap();
    let rt = Runtime::new(RuntimeConfig {
        cache_dir: Some(t.root.join("cache")),
        plugin_dirs: vec![plugins],
        embedded: false,
        policies: [("tool-files".to_string(), policy)].into(),
        ..RuntimeConfig::default()
    })
    .unwrap();
    let failures = rt.load_all().await;
    let why = format!("{failures:?}");
    assert!(
        why.contains("granted path granted is not absolute"),
        "{why}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_inside_the_grant_whole_and_in_windows() {
    let t = tree();
    let f = granted(&t).await;
    let hello = "line one\nline two\nline three\n";
    // Relative, absolute with `.` and `..` inside, and through a link that
    // stays inside the grant.
    let absolute = text(t.granted.join("./sub/../hello.txt"));
    for path in ["hello.txt", absolute.as_str(), "inside-link"] {
        assert_eq!(f.ok("fs.read", json!({ "path": path })).await, hello);
    }
    // Windows of lines and of bytes say where the rest follows.
    let lines = json!({ "path": "big.txt", "line": 100, "lines": 2 });
    assert_eq!(
        f.ok("fs.read", lines).await,
        "line 00100\nline 00101\n[lines 100-101 shown; more follow from line=102]"
    );
    let bytes = json!({ "path": "big.txt", "offset": 11, "length": 11 });
    assert_eq!(
        f.ok("fs.read", bytes).await,
        "line 00002\n[bytes 11..22 of 330000 shown; the rest follows from offset=22]"
    );
    // The whole of a large file is cut at the default cap.
    let big = f.ok("fs.read", json!({ "path": "big.txt" })).await;
    assert!(
        big.starts_with("line 00001\nline 00002\n"),
        "{}",
        &big[..40]
    );
    let note = "\n[bytes 0..65536 of 330000 shown; the rest follows from offset=65536]";
    assert!(big.ends_with(note), "{}", &big[big.len() - 120..]);
    assert_eq!(big.len(), 65536 + note.len());
    // Binary, missing and folder paths are answered in words.
    let png = f.failed("fs.read", json!({ "path": "photo.png" })).await;
    assert!(
        png.starts_with("`photo.png` is a binary file (23 bytes, a PNG image)"),
        "{png}"
    );
    let missing = f.failed("fs.read", json!({ "path": "nope.txt" })).await;
    assert_eq!(missing, "`nope.txt` does not exist");
    let dir = f.failed("fs.read", json!({ "path": "sub" })).await;
    assert_eq!(dir, "`sub` is a folder; fs.list shows what is in it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_outside_through_dotdot_or_absolute_paths_is_denied() {
    let t = tree();
    let f = granted(&t).await;
    let private = text(t.root.join("private.txt"));
    let cases = [
        (private.clone(), private.clone()),
        ("../private.txt".into(), private.clone()),
        (
            text(t.granted.join("../outside/secret.txt")),
            text(t.outside.join("secret.txt")),
        ),
        ("/etc/hostname".into(), "/etc/hostname".into()),
    ];
    for (path, resolved) in cases {
        for tool in ["fs.read", "fs.list", "fs.search"] {
            let mut args = json!({ "path": path });
            if tool == "fs.search" {
                args["query"] = json!("needle");
            }
            let m = f.denied(tool, args).await;
            let expected = format!("`{path}` is outside the granted folders");
            assert!(m.starts_with(&expected), "{tool} {path}: {m}");
            assert!(m.contains(&resolved), "{m}");
            let grants = format!(
                "may use only {} (read-only), {} (writable)",
                t.granted.display(),
                t.out.display()
            );
            assert!(m.ends_with(&grants), "{m}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symbolic_link_that_leads_out_is_denied_and_named() {
    let t = tree();
    let f = granted(&t).await;
    // A relative link to a folder outside, and an absolute link to a file
    // (whose target the sandbox does not even reveal).
    for (path, link, target) in [
        ("escape/secret.txt", "escape", "to `../outside`"),
        ("passwd-link", "passwd-link", "to an absolute path"),
    ] {
        let m = f.denied("fs.read", json!({ "path": path })).await;
        let expected = format!("`{path}` leads outside the granted folders");
        assert!(m.starts_with(&expected), "{m}");
        let named = format!(
            "`{}` is a symbolic link {target},",
            t.granted.join(link).display()
        );
        assert!(m.contains(&named), "{m}");
    }
    let m = f.denied("fs.list", json!({ "path": "escape" })).await;
    assert!(m.contains("leads outside the granted folders"), "{m}");
    // Listings show the links without following them.
    let listed = f.list(json!({})).await;
    let entries = listed["entries"].as_array().unwrap();
    let escape = entries.iter().find(|e| e["path"] == "escape").unwrap();
    assert_eq!(
        *escape,
        json!({ "path": "escape", "kind": "symlink", "target": "../outside" })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writing_needs_a_writable_grant() {
    let t = tree();
    let f = granted(&t).await;
    // `granted` is read-only: nothing is written there.
    let nested = text(t.granted.join("sub/new.txt"));
    for path in ["new.txt", nested.as_str(), "hello.txt"] {
        let m = f
            .denied("fs.write", json!({ "path": path, "content": "x" }))
            .await;
        let expected = format!(
            "is in `{}`, which is granted read-only (writable are only {})",
            t.granted.display(),
            t.out.display()
        );
        assert!(m.contains(&expected), "{m}");
        assert!(m.contains("[components.tool-files] writable_paths"), "{m}");
    }
    assert!(!t.granted.join("new.txt").exists());
    assert!(!t.granted.join("sub/new.txt").exists());
    assert_eq!(
        disk(t.granted.join("hello.txt")),
        "line one\nline two\nline three\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writing_in_a_writable_grant_creates_replaces_and_appends() {
    let t = tree();
    let f = granted(&t).await;
    let file = t.out.join("reports/2024/summary.txt");
    let path = text(file.clone());
    let m = f
        .ok("fs.write", json!({ "path": path, "content": "first\n" }))
        .await;
    let folder = text(t.out.join("reports/2024"));
    assert_eq!(
        m,
        format!("created `{path}` with 6 bytes; created the folder `{folder}`")
    );
    assert_eq!(disk(file.clone()), "first\n");
    let append = json!({ "path": path, "content": "second\n", "append": true });
    let m = f.ok("fs.write", append).await;
    assert_eq!(m, format!("appended 7 bytes to `{path}` (now 13 bytes)"));
    assert_eq!(disk(file.clone()), "first\nsecond\n");
    let m = f
        .ok("fs.write", json!({ "path": path, "content": "new" }))
        .await;
    assert_eq!(m, format!("replaced `{path}` with 3 bytes"));
    assert_eq!(disk(file.clone()), "new");
    assert_eq!(f.ok("fs.read", json!({ "path": path })).await, "new");

    // Out of the writable grant by `..` or through a link: denied, and
    // nothing is written outside.
    let dotdot = text(t.out.join("../escaped.txt"));
    let m = f
        .denied("fs.write", json!({ "path": dotdot, "content": "x" }))
        .await;
    assert!(m.contains("is outside the granted folders"), "{m}");
    assert!(!t.root.join("escaped.txt").exists());
    for through in ["link-out/secret.txt", "link-out/new/x.txt"] {
        let path = text(t.out.join(through));
        let m = f
            .denied("fs.write", json!({ "path": path, "content": "pwned" }))
            .await;
        assert!(m.contains("leads outside the granted folders"), "{m}");
        let named = format!(
            "`{}` is a symbolic link to `../outside`",
            t.out.join("link-out").display()
        );
        assert!(m.contains(&named), "{m}");
    }
    assert_eq!(
        disk(t.outside.join("secret.txt")),
        format!("{SECRET} needle\n")
    );
    assert!(!t.outside.join("new").exists());

    // With only a writable grant, relative paths start there.
    let f = files(
        &t,
        &format!("writable_paths = [\"{}\"]", t.out.display()),
        None,
    )
    .await;
    let m = f
        .ok("fs.write", json!({ "path": "rel.txt", "content": "here" }))
        .await;
    assert_eq!(m, "created `rel.txt` with 4 bytes");
    assert_eq!(disk(t.out.join("rel.txt")), "here");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_shows_kinds_and_sizes_and_holds_its_caps() {
    let t = tree();
    let f = granted(&t).await;
    let top = f.list(json!({})).await;
    assert_eq!(
        (&top["folder"], &top["truncated"]),
        (&json!("."), &json!(false))
    );
    let entries = top["entries"].as_array().unwrap();
    let names: Vec<&str> = entries
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    let expected = "big.txt escape hello.txt inside-link notes.md passwd-link photo.png sub";
    assert_eq!(names.join(" "), expected);
    assert_eq!(
        entries[2],
        json!({ "path": "hello.txt", "kind": "file", "size": 29 })
    );
    assert_eq!(entries[7], json!({ "path": "sub", "kind": "dir" }));
    let grants = json!([
        { "folder": text(t.granted.clone()), "access": "read-only" },
        { "folder": text(t.out.clone()), "access": "writable" },
    ]);
    assert_eq!(top["granted"], grants);
    // Recursive, and to a depth.
    let deep = f.list(json!({ "path": "sub", "recursive": true })).await;
    assert_eq!(deep["folder"], "sub");
    let below = json!([
        { "path": "deep", "kind": "dir" },
        { "path": "deep/x.txt", "kind": "file", "size": 30 },
    ]);
    assert_eq!(deep["entries"], below);
    let shallow = f.list(json!({ "path": "sub", "depth": 1 })).await;
    assert_eq!(
        shallow["entries"],
        json!([{ "path": "deep", "kind": "dir" }])
    );
    // The entry cap holds, and says so.
    let capped = f.list(json!({ "recursive": true, "limit": 3 })).await;
    assert_eq!(capped["entries"].as_array().unwrap().len(), 3);
    assert_eq!(capped["truncated"], true);
    let note = capped["note"].as_str().unwrap();
    assert!(note.starts_with("stopped at 3 entries"), "{note}");
    let m = f.failed("fs.list", json!({ "path": "hello.txt" })).await;
    assert_eq!(
        m,
        "`hello.txt` is a file (29 bytes), not a folder; fs.read reads it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_lines_and_holds_its_caps() {
    let t = tree();
    let f = granted(&t).await;
    let out = f.ok("fs.search", json!({ "query": "needle" })).await;
    assert_eq!(
        out,
        "notes.md:2: a needle in markdown\nsub/deep/x.txt:2: needle here\n\
         [2 hits in 2 files (5 files searched under `.`); \
         1 binary, unreadable or larger than 4194304 bytes skipped]"
    );
    // The binary file and the linked-out folder held `needle` too: neither
    // was read, and nothing outside the grant shows.
    assert!(!out.contains("photo.png") && !out.contains(SECRET));
    let folded = json!({ "query": "NEEDLE", "ignore_case": true, "path": "sub" });
    let out = f.ok("fs.search", folded).await;
    let hits = "sub/deep/x.txt:2: needle here\nsub/deep/x.txt:3: beta NEEDLE\n";
    assert!(out.starts_with(hits), "{out}");
    let out = f.ok("fs.search", json!({ "pattern": "ne?dle*mark" })).await;
    let hit = "notes.md:2: a needle in markdown\n[1 hit in 1 file (";
    assert!(out.starts_with(hit), "{out}");
    let out = f
        .ok("fs.search", json!({ "query": "needle", "glob": "*.txt" }))
        .await;
    let hit = "sub/deep/x.txt:2: needle here\n[1 hit in 1 file (";
    assert!(out.starts_with(hit), "{out}");
    // The hit cap holds, and says so.
    let capped = json!({ "query": "line 0", "path": "big.txt", "max_hits": 5 });
    let out = f.ok("fs.search", capped).await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    assert_eq!(
        (lines[0], lines[4]),
        ("big.txt:1: line 00001", "big.txt:5: line 00005")
    );
    assert!(
        lines[5].contains("stopped: the first 5 hits are shown"),
        "{out}"
    );
    let out = f.ok("fs.search", json!({ "query": "no such text" })).await;
    assert!(
        out.starts_with("[no line matches `no such text` in 5 files"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_arguments_get_clear_errors() {
    let t = tree();
    let f = granted(&t).await;
    let cases = [
        ("fs.read", json!({}), "arguments: missing field `path`"),
        (
            "fs.read",
            json!({ "path": 5 }),
            "argument `path`: invalid type",
        ),
        (
            "fs.read",
            json!({ "path": "a", "offest": 1 }),
            "unknown field `offest`",
        ),
        (
            "fs.read",
            json!({ "path": "a", "line": 1, "offset": 0 }),
            "not both",
        ),
        (
            "fs.read",
            json!({ "path": "a", "length": 10_000_000 }),
            "at most 262144 bytes",
        ),
        (
            "fs.read",
            json!({ "path": " " }),
            "argument `path` is empty",
        ),
        (
            "fs.write",
            json!({ "path": "x.txt" }),
            "missing field `content`",
        ),
        (
            "fs.list",
            json!({ "limit": 0 }),
            "argument `limit`: between 1 and 2000",
        ),
        (
            "fs.list",
            json!({ "recursive": "yes" }),
            "argument `recursive`: invalid type",
        ),
        (
            "fs.search",
            json!({ "query": "a", "pattern": "b" }),
            "exactly one of `query`",
        ),
        ("fs.search", json!({}), "exactly one of `query`"),
        (
            "fs.search",
            json!({ "query": "a", "max_hits": 5000 }),
            "between 1 and 1000",
        ),
    ];
    for (tool, args, expected) in cases {
        let m = f.invalid(tool, args.clone()).await;
        assert!(m.contains(expected), "{tool} {args}: {m}");
    }
    let component = f.0.get("tool-files").unwrap();
    let ctx = openpista_tests::ctx("bad");
    let err = component
        .invoke("fs.read", "{not json", &ctx)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CallError::Guest(WitError::InvalidInput(m)) if m.starts_with("arguments are not valid JSON")),
        "{err:?}"
    );
    let err = component.invoke("fs.delete", "{}", &ctx).await.unwrap_err();
    let known = "fs.read, fs.write, fs.list, fs.search";
    assert!(
        matches!(&err, CallError::Guest(WitError::NotFound(m)) if m.contains(known)),
        "{err:?}"
    );
}
