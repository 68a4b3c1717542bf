//! Whether a skill can run here, and if not, why: what it requires from
//! the machine, and what it asks for against what the operator granted.
//! A skill that fails a check is listed as unavailable with the reason;
//! nothing of it is loaded.

use super::settings::SkillGrant;
use super::skill::{Mode, SkillFile};
use crate::runtime::capabilities::WORKSPACE;
use crate::runtime::manifest::Manifest;
use std::path::Path;

/// What the checks need to know about the host.
pub struct HostFacts<'a> {
    /// Whether `name` is a program on PATH.
    pub has_bin: &'a dyn Fn(&str) -> bool,
    /// Whether environment variable `name` is set.
    pub has_env: &'a dyn Fn(&str) -> bool,
    /// Why `container.run` cannot take a task with `image`, if it cannot.
    pub container: &'a dyn Fn(Option<&str>) -> Result<(), String>,
}

/// The first thing that keeps `skill` from running, or `Ok` with the wasm
/// component's manifest (for wasm skills).
pub fn check(
    skill: &SkillFile,
    grant: &SkillGrant,
    facts: &HostFacts,
) -> Result<Option<Manifest>, String> {
    let name = &skill.front.name;
    for bin in &skill.front.requires.bins {
        if !(facts.has_bin)(bin) {
            return Err(format!("needs the program {bin:?}, which is not on PATH"));
        }
    }
    for var in &skill.front.requires.env {
        if !(facts.has_env)(var) {
            return Err(format!(
                "needs the environment variable {var}, which is not set"
            ));
        }
    }
    let mode = skill.front.mode;
    if mode.outside_sandbox() && !grant.outside_sandbox {
        return Err(format!(
            "runs outside the WASM sandbox ({} mode), which needs an explicit opt-in: \
             [skills.allow.{name}] outside_sandbox = true",
            mode.as_str()
        ));
    }
    match mode {
        Mode::Prompt => Ok(None),
        Mode::Wasm => check_component(skill, grant).map(Some),
        Mode::Subprocess => {
            let (interpreter, _) = subprocess_entry(skill)?;
            if !(facts.has_bin)(interpreter) {
                return Err(format!("needs {interpreter} on PATH to run its entry"));
            }
            Ok(None)
        }
        Mode::Container => {
            if skill.front.network && !grant.network {
                return Err(format!(
                    "asks for network access in its container, which [skills.allow.{name}] network does not grant"
                ));
            }
            (facts.container)(skill.front.image.as_deref())?;
            Ok(None)
        }
    }
}

/// A subprocess skill's interpreter and script: `entry`, else `run.sh`,
/// else `main.py`.
pub fn subprocess_entry(skill: &SkillFile) -> Result<(&'static str, std::path::PathBuf), String> {
    let dir = skill.dir();
    let candidates: Vec<String> = match &skill.front.entry {
        Some(e) => vec![e.clone()],
        None => vec!["run.sh".into(), "main.py".into()],
    };
    for file in &candidates {
        let path = dir.join(file);
        if path.is_file() {
            let interpreter = if file.ends_with(".py") {
                "python3"
            } else {
                "bash"
            };
            return Ok((interpreter, path));
        }
    }
    Err(format!(
        "has no {} beside its SKILL.md",
        candidates.join(" or ")
    ))
}

/// A wasm skill's component files exist, parse, and ask for nothing the
/// grant does not give.
fn check_component(skill: &SkillFile, grant: &SkillGrant) -> Result<Manifest, String> {
    let component = skill.component();
    let dir = skill.dir();
    let wasm = dir.join(format!("{component}.wasm"));
    let toml = dir.join(format!("{component}.toml"));
    if !wasm.is_file() {
        return Err(format!(
            "its component {} is not built (skills/README.md says how to build one)",
            wasm.display()
        ));
    }
    let text = std::fs::read_to_string(&toml)
        .map_err(|e| format!("its manifest {}: {e}", toml.display()))?;
    let manifest =
        Manifest::parse(&text, &toml.display().to_string()).map_err(|e| format!("{e:#}"))?;
    if manifest.world != crate::runtime::manifest::World::Tool {
        return Err(format!(
            "its component is a {} component; a skill's must be a tool",
            manifest.world.as_str()
        ));
    }
    let name = &skill.front.name;
    let caps = &manifest.capabilities;
    let refuse = |what: &str, value: &str, key: &str| {
        Err(format!(
            "asks for {what} {value}, which [skills.allow.{name}] {key} does not grant"
        ))
    };
    for host in &caps.hosts {
        if !grant.hosts.contains(host) {
            return refuse("host", host, "hosts");
        }
    }
    for secret in &caps.secrets {
        if !grant.secrets.contains(secret) {
            return refuse("secret", secret, "secrets");
        }
    }
    for path in caps.paths.iter().chain(&caps.writable_paths) {
        if !grant.paths.iter().any(|g| Path::new(g) == path) {
            return refuse("the folder", &path.display().to_string(), "paths");
        }
    }
    if !caps.writable_paths.is_empty() {
        return Err(format!(
            "asks to write {}; skills are read-only",
            caps.writable_paths[0].display()
        ));
    }
    Ok(manifest)
}

/// One line of what a skill may reach, for `skill list` and `skill show`.
pub fn describe_reach(
    skill: &SkillFile,
    manifest: Option<&Manifest>,
    grant: &SkillGrant,
) -> String {
    let list = |v: &[String]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    match (skill.front.mode, manifest) {
        (Mode::Wasm, Some(m)) => {
            let paths: Vec<String> = m
                .capabilities
                .paths
                .iter()
                .map(|p| {
                    let p = p.display().to_string();
                    if p == WORKSPACE {
                        "$WORKSPACE (read-only)".into()
                    } else {
                        format!("{p} (read-only)")
                    }
                })
                .collect();
            format!(
                "sandboxed component {}: hosts {}; secrets {}; folders {}; memory {} MiB; {} ms a call",
                m.name,
                list(&m.capabilities.hosts),
                list(&m.capabilities.secrets),
                list(&paths),
                m.limits.memory_mb,
                m.limits.timeout_ms
            )
        }
        (Mode::Wasm, None) => "sandboxed component (not loadable: see why)".into(),
        (Mode::Prompt, _) => "instructions only: runs nothing".into(),
        (Mode::Subprocess, _) => format!(
            "a process on this computer, outside the sandbox: everything the host user can reach \
             (environment scrubbed of secrets){}",
            if grant.outside_sandbox {
                "; allowed by [skills.allow]"
            } else {
                "; not allowed"
            }
        ),
        (Mode::Container, _) => format!(
            "a fresh container (image {}): {}, the workspace read-only{}",
            skill.front.image.as_deref().unwrap_or("the default"),
            if skill.front.network {
                "network on"
            } else {
                "no network"
            },
            if grant.outside_sandbox {
                "; allowed by [skills.allow]"
            } else {
                "; not allowed"
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skill(dir: &Path, front: &str) -> SkillFile {
        let text = format!("---\n{front}\n---\nbody");
        std::fs::write(dir.join("SKILL.md"), &text).unwrap();
        SkillFile::read(&dir.join("SKILL.md")).unwrap()
    }

    fn facts() -> HostFacts<'static> {
        HostFacts {
            has_bin: &|b| b == "bash" || b == "python3",
            has_env: &|v| v == "PRESENT",
            container: &|image| match image {
                Some("unknown") => Err("image unknown is not configured".into()),
                _ => Ok(()),
            },
        }
    }

    #[test]
    fn requirements_and_opt_ins_are_checked() {
        let d = tempfile::tempdir().unwrap();
        let none = SkillGrant::default();
        let e = |front: &str, grant: &SkillGrant| {
            check(&skill(d.path(), front), grant, &facts()).unwrap_err()
        };
        let m = e("name: a\ndescription: d\nrequires:\n  bins: [jq]", &none);
        assert!(m.contains("\"jq\""), "{m}");
        let m = e(
            "name: a\ndescription: d\nrequires:\n  env: [MISSING]",
            &none,
        );
        assert!(m.contains("MISSING"), "{m}");
        assert!(
            check(
                &skill(
                    d.path(),
                    "name: a\ndescription: d\nrequires:\n  env: [PRESENT]"
                ),
                &none,
                &facts()
            )
            .is_ok()
        );

        std::fs::write(d.path().join("run.sh"), "echo").unwrap();
        let m = e("name: a\ndescription: d\nmode: subprocess", &none);
        assert!(
            m.contains("outside_sandbox = true") && m.contains("[skills.allow.a]"),
            "{m}"
        );
        let yes = SkillGrant {
            outside_sandbox: true,
            ..SkillGrant::default()
        };
        assert!(
            check(
                &skill(d.path(), "name: a\ndescription: d\nmode: subprocess"),
                &yes,
                &facts()
            )
            .is_ok()
        );
        let m = e(
            "name: a\ndescription: d\nmode: subprocess\nentry: main.py",
            &yes,
        );
        assert!(m.contains("main.py"), "{m}");

        let m = e(
            "name: a\ndescription: d\nmode: container\ncommand: x\nnetwork: true",
            &yes,
        );
        assert!(m.contains("network"), "{m}");
        let m = e(
            "name: a\ndescription: d\nmode: container\ncommand: x\nimage: unknown",
            &yes,
        );
        assert!(m.contains("not configured"), "{m}");
    }

    #[test]
    fn a_component_asking_more_than_granted_is_refused_by_capability() {
        let d = tempfile::tempdir().unwrap();
        let front = "name: w\ndescription: d\nmode: wasm";
        let m = check(&skill(d.path(), front), &SkillGrant::default(), &facts()).unwrap_err();
        assert!(m.contains("not built"), "{m}");
        std::fs::write(d.path().join("w.wasm"), b"\0asm").unwrap();
        std::fs::write(
            d.path().join("w.toml"),
            "name = \"w\"\nworld = \"tool\"\n[capabilities]\nhosts = [\"api.example.com\"]\nsecrets = [\"k\"]\npaths = [\"$WORKSPACE\"]\n",
        )
        .unwrap();
        let mut grant = SkillGrant::default();
        let m = check(&skill(d.path(), front), &grant, &facts()).unwrap_err();
        assert!(
            m.contains("host api.example.com") && m.contains("[skills.allow.w] hosts"),
            "{m}"
        );
        grant.hosts.push("api.example.com".into());
        let m = check(&skill(d.path(), front), &grant, &facts()).unwrap_err();
        assert!(m.contains("secret k"), "{m}");
        grant.secrets.push("k".into());
        let m = check(&skill(d.path(), front), &grant, &facts()).unwrap_err();
        assert!(m.contains("$WORKSPACE") && m.contains("paths"), "{m}");
        grant.paths.push("$WORKSPACE".into());
        let manifest = check(&skill(d.path(), front), &grant, &facts())
            .unwrap()
            .unwrap();
        let reach = describe_reach(&skill(d.path(), front), Some(&manifest), &grant);
        assert!(
            reach.contains("api.example.com") && reach.contains("$WORKSPACE (read-only)"),
            "{reach}"
        );
    }
}
