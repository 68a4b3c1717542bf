//! Scaffolding of new component crates (`openpista component new`).
//!
//! The template files live beside this file (`tool/`, `provider/`,
//! `channel/`) and are embedded at compile time, so the host binary can
//! scaffold without the SDK's sources at hand. This file is a standalone
//! module: the host includes it with `#[path]`; it uses only `std`.
//!
//! Placeholders in the templates:
//! - `{{name}}`: the component and crate name (`my-tool`);
//! - `{{crate_name}}`: the same with underscores (`my_tool`), as Rust and
//!   the built `.wasm` file spell it;
//! - `{{channel_id}}`: the id the host gives a channel of that name, the
//!   name without a leading `channel-` (`channel-chat` → `chat`): its
//!   sessions are `ID:CONVERSATION` and its routes are served under `/ID/`;
//! - `{{sdk_dependency}}`: the value of the `openpista-sdk` dependency line,
//!   such as `{ path = "/abs/path/to/sdk" }` or `"0.1"`.
//!
//! Any other `{{...}}` (a `{{secret:NAME}}` placeholder in an example) is
//! left as written.

use std::path::{Path, PathBuf};

/// One file of a template: where it goes in the new crate, and its text.
struct TemplateFile {
    path: &'static str,
    text: &'static str,
}

const TOOL: &[TemplateFile] = &[
    TemplateFile {
        path: "Cargo.toml",
        text: include_str!("tool/Cargo.toml"),
    },
    TemplateFile {
        path: "src/lib.rs",
        text: include_str!("tool/src/lib.rs"),
    },
    TemplateFile {
        path: "manifest.toml",
        text: include_str!("tool/manifest.toml"),
    },
    TemplateFile {
        path: "README.md",
        text: include_str!("tool/README.md"),
    },
    TemplateFile {
        path: ".gitignore",
        text: include_str!("gitignore"),
    },
];

const PROVIDER: &[TemplateFile] = &[
    TemplateFile {
        path: "Cargo.toml",
        text: include_str!("provider/Cargo.toml"),
    },
    TemplateFile {
        path: "src/lib.rs",
        text: include_str!("provider/src/lib.rs"),
    },
    TemplateFile {
        path: "manifest.toml",
        text: include_str!("provider/manifest.toml"),
    },
    TemplateFile {
        path: "README.md",
        text: include_str!("provider/README.md"),
    },
    TemplateFile {
        path: ".gitignore",
        text: include_str!("gitignore"),
    },
];

const CHANNEL: &[TemplateFile] = &[
    TemplateFile {
        path: "Cargo.toml",
        text: include_str!("channel/Cargo.toml"),
    },
    TemplateFile {
        path: "src/lib.rs",
        text: include_str!("channel/src/lib.rs"),
    },
    TemplateFile {
        path: "manifest.toml",
        text: include_str!("channel/manifest.toml"),
    },
    TemplateFile {
        path: "README.md",
        text: include_str!("channel/README.md"),
    },
    TemplateFile {
        path: ".gitignore",
        text: include_str!("gitignore"),
    },
];

/// Longest accepted component name.
const MAX_NAME_LEN: usize = 64;

/// Checks a component name: lowercase ASCII letters, digits and dashes,
/// starting with a letter, not ending with a dash. The name is the crate
/// name, the `.wasm` file name and the manifest's `name`, so it must suit
/// all three.
fn validate_name(name: &str) -> Result<(), String> {
    let rule = "use lowercase letters, digits and dashes, starting with a letter (like `my-tool`)";
    let Some(first) = name.chars().next() else {
        return Err(format!("the component name is empty; {rule}"));
    };
    if !first.is_ascii_lowercase() {
        return Err(format!(
            "component name `{name}` must start with a lowercase letter; {rule}"
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!("component name `{name}` contains {bad:?}; {rule}"));
    }
    if name.ends_with('-') {
        return Err(format!("component name `{name}` ends with a dash; {rule}"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "component name `{name}` is longer than {MAX_NAME_LEN} characters"
        ));
    }
    Ok(())
}

/// Replaces the known `{{key}}` placeholders in `text`; unknown ones (such
/// as `{{secret:NAME}}`) stay as they are.
fn substitute(text: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let known = values.iter().find(|(key, _)| {
            after
                .strip_prefix(key)
                .is_some_and(|tail| tail.starts_with("}}"))
        });
        match known {
            Some((key, value)) => {
                out.push_str(value);
                rest = &after[key.len() + 2..];
            }
            None => {
                // Keep one brace and look again from the next one, so that
                // placeholders inside others (`{{secret:{{crate_name}}_key}}`)
                // and after extra braces (`{{{name}}}`) are found.
                out.push('{');
                rest = &rest[start + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Writes a new component crate of `kind` (`tool`, `provider` or `channel`)
/// named `name` into the new directory `dest_dir/name`, and returns that
/// directory.
///
/// `sdk_dependency` is the value of the crate's `openpista-sdk` dependency,
/// such as `{ path = "/abs/path/to/sdk" }`. The crate has an empty
/// `[workspace]` table, so it builds on its own with
/// `cargo build --release --target wasm32-wasip2`.
///
/// Fails, writing nothing, for an unknown kind, an invalid name or an
/// existing `dest_dir/name`; a failure while writing removes the partly
/// written directory.
pub fn write_component_template(
    kind: &str,
    name: &str,
    dest_dir: &Path,
    sdk_dependency: &str,
) -> Result<PathBuf, String> {
    let files = match kind {
        "tool" => TOOL,
        "provider" => PROVIDER,
        "channel" => CHANNEL,
        other => {
            return Err(format!(
                "unknown component kind `{other}`: use tool, provider or channel"
            ));
        }
    };
    validate_name(name)?;
    if sdk_dependency.trim().is_empty() {
        return Err("the openpista-sdk dependency is empty".to_string());
    }
    let crate_dir = dest_dir.join(name);
    if crate_dir.exists() {
        return Err(format!(
            "{} already exists; choose another name or remove it first",
            crate_dir.display()
        ));
    }
    std::fs::create_dir_all(dest_dir)
        .map_err(|e| format!("cannot create {}: {e}", dest_dir.display()))?;
    // `create_dir` (not `create_dir_all`) fails if the directory appeared
    // since the check, so an existing crate is never written into.
    std::fs::create_dir(&crate_dir)
        .map_err(|e| format!("cannot create {}: {e}", crate_dir.display()))?;

    let crate_name = name.replace('-', "_");
    let channel_id = name.strip_prefix("channel-").unwrap_or(name);
    let values = [
        ("name", name),
        ("crate_name", crate_name.as_str()),
        ("channel_id", channel_id),
        ("sdk_dependency", sdk_dependency.trim()),
    ];
    let written = files.iter().try_for_each(|file| {
        let path = crate_dir.join(file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, substitute(file.text, &values))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    });
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&crate_dir);
        return Err(e);
    }
    Ok(crate_dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh, empty directory under the system's temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let dir = std::env::temp_dir().join(format!(
                "openpista-scaffold-{}-{}-{nanos}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const DEP: &str = r#"{ path = "/opt/openpista/sdk" }"#;

    #[test]
    fn names_are_validated() {
        for good in ["a", "my-tool", "tool2", "x-1-y", "weather"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in [
            "", "My-tool", "1tool", "-tool", "tool-", "my_tool", "my tool", "tööl", "a/b", "..",
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
        assert!(validate_name(&"a".repeat(MAX_NAME_LEN)).is_ok());
        assert!(validate_name(&"a".repeat(MAX_NAME_LEN + 1)).is_err());
        let tmp = TempDir::new();
        let err = write_component_template("tool", "Bad", &tmp.0, DEP).unwrap_err();
        assert!(err.contains("lowercase"), "{err}");
        assert!(!tmp.0.join("Bad").exists());
    }

    #[test]
    fn unknown_kinds_are_refused() {
        let tmp = TempDir::new();
        let err = write_component_template("widget", "w", &tmp.0, DEP).unwrap_err();
        assert!(err.contains("tool, provider or channel"), "{err}");
        assert!(!tmp.0.join("w").exists());
    }

    #[test]
    fn refuses_to_overwrite() {
        let tmp = TempDir::new();
        let existing = tmp.0.join("taken");
        std::fs::create_dir(&existing).unwrap();
        std::fs::write(existing.join("keep.txt"), "mine").unwrap();
        let err = write_component_template("tool", "taken", &tmp.0, DEP).unwrap_err();
        assert!(err.contains("already exists"), "{err}");
        assert_eq!(
            std::fs::read_to_string(existing.join("keep.txt")).unwrap(),
            "mine"
        );
        assert!(!existing.join("Cargo.toml").exists());
        // A second scaffold of the same name also refuses.
        write_component_template("tool", "fresh", &tmp.0, DEP).unwrap();
        assert!(write_component_template("provider", "fresh", &tmp.0, DEP).is_err());
    }

    #[test]
    fn placeholders_are_all_substituted() {
        let tmp = TempDir::new();
        for kind in ["tool", "provider", "channel"] {
            let name = format!("my-{kind}");
            let dir = write_component_template(kind, &name, &tmp.0, DEP).unwrap();
            assert_eq!(dir, tmp.0.join(&name));
            for file in [
                "Cargo.toml",
                "src/lib.rs",
                "manifest.toml",
                "README.md",
                ".gitignore",
            ] {
                let text = std::fs::read_to_string(dir.join(file)).unwrap();
                for placeholder in [
                    "{{name}}",
                    "{{crate_name}}",
                    "{{channel_id}}",
                    "{{sdk_dependency}}",
                ] {
                    assert!(
                        !text.contains(placeholder),
                        "{kind}/{file} still has {placeholder}"
                    );
                }
            }
            let cargo = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
            assert!(cargo.contains(&format!("name = \"{name}\"")), "{cargo}");
            assert!(cargo.contains(&format!("openpista-sdk = {DEP}")), "{cargo}");
            assert!(cargo.contains("crate-type = [\"cdylib\"]"), "{cargo}");
            assert!(cargo.contains("\n[workspace]"), "{cargo}");
            let manifest = std::fs::read_to_string(dir.join("manifest.toml")).unwrap();
            assert!(
                manifest.contains(&format!("name = \"{name}\"")),
                "{manifest}"
            );
            assert!(
                manifest.contains(&format!("world = \"{kind}\"")),
                "{manifest}"
            );
            let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
            assert!(
                readme.contains(&format!(
                    "target/wasm32-wasip2/release/my_{kind}.wasm ~/.openpista/components/{name}.wasm"
                )),
                "{readme}"
            );
        }
        // A channel's id is its name without `channel-`.
        let dir = write_component_template("channel", "channel-chat", &tmp.0, DEP).unwrap();
        let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
        assert!(lib.contains("`/chat/webhook`"), "{lib}");
        assert!(!lib.contains("/channel-chat/"), "{lib}");
        // Secret placeholders in the examples survive, with the name filled in.
        let lib = std::fs::read_to_string(tmp.0.join("my-provider/src/lib.rs")).unwrap();
        assert!(lib.contains("{{secret:my_provider_api_key}}"), "{lib}");
    }

    #[test]
    fn substitution_rules() {
        let values = [("name", "n"), ("crate_name", "c")];
        assert_eq!(substitute("{{name}}/{{crate_name}}", &values), "n/c");
        assert_eq!(substitute("{{other}} {{", &values), "{{other}} {{");
        assert_eq!(
            substitute("{{secret:{{crate_name}}_key}}", &values),
            "{{secret:c_key}}"
        );
        assert_eq!(substitute("{{{name}}}", &values), "{n}");
    }
}
