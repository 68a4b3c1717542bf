//! Reads which WIT interfaces a component imports and exports, straight
//! from its bytes and before anything is compiled, and decides whether this
//! host can run it. A mismatch is named plainly: what the component was
//! built against, what it imports, and what the host offers. See
//! `wit/VERSIONING.md` for the rules.

use super::bindings::WIT_VERSION;
use super::manifest::World;
use anyhow::{Result, anyhow, bail};
use semver::Version;
use wasmparser::{Encoding, Parser, Payload};

const PACKAGE: &str = "openpista:plugin";

/// Oldest WIT version this host still loads.
pub const OLDEST_SUPPORTED: &str = "0.1.0";

/// Oldest version of the track this host implements (no adapter needed).
const TRACK_START: &str = "0.2.0";

/// Top-level import and export names of a component.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

/// Reads a component's top-level imports and exports.
pub fn read_shape(bytes: &[u8]) -> Result<Shape> {
    let mut shape = Shape::default();
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| anyhow!("not a valid WebAssembly binary: {e}"))? {
            Payload::Version {
                encoding: Encoding::Module,
                ..
            } if depth == 0 => bail!(
                "this is a core WebAssembly module, not a component: build it for wasm32-wasip2 (or wrap it with `wasm-tools component new`)"
            ),
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => {
                if depth == 0 {
                    break;
                }
                depth -= 1;
            }
            Payload::ComponentImportSection(reader) if depth == 0 => {
                for import in reader {
                    let import = import?;
                    shape.imports.push(import.name.name.to_string());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 0 => {
                for export in reader {
                    let export = export?;
                    shape.exports.push(export.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(shape)
}

/// What the host concluded about a compatible component.
#[derive(Debug, Clone, PartialEq)]
pub struct Compat {
    pub world: World,
    /// The `openpista:plugin` version the component was built against.
    pub wit_version: Version,
}

impl Compat {
    /// Whether the component speaks a 0.1.x contract, served through the
    /// adapter in `runtime::v0_1`.
    pub fn is_v0_1(&self) -> bool {
        self.wit_version.major == 0 && self.wit_version.minor == 1
    }
}

/// The 0.1 releases this host still serves through its adapter.
const ADAPTED: &str = "0.1.2";

/// Splits `openpista:plugin/NAME@VERSION` into name and version.
fn plugin_interface(name: &str) -> Option<(&str, Option<&str>)> {
    let rest = name.strip_prefix(PACKAGE)?.strip_prefix('/')?;
    Some(match rest.split_once('@') {
        Some((iface, v)) => (iface, Some(v)),
        None => (rest, None),
    })
}

/// Semver compatibility as the component model uses it: same major, or for
/// 0.x the same minor; the component may be older than the host, never newer.
pub fn compatible(component: &Version, host: &Version) -> bool {
    let same_track = if host.major != 0 {
        component.major == host.major
    } else {
        component.major == 0 && component.minor == host.minor && host.minor != 0
    };
    same_track && component <= host && component.pre.is_empty()
}

/// Whether this host runs a component built against `component`: the
/// current track, or an older track it keeps an adapter for.
pub fn supported(component: &Version) -> bool {
    let host = Version::parse(WIT_VERSION).expect("valid WIT_VERSION");
    let adapted = Version::parse(ADAPTED).expect("valid ADAPTED");
    compatible(component, &host) || compatible(component, &adapted)
}

fn world_imports(world: World) -> &'static [&'static str] {
    match world {
        World::Tool | World::Provider => &["types", "host", "memory"],
        World::Channel => &["types", "host", "memory", "connections"],
    }
}

/// Decides whether this host can run a component of this shape.
pub fn check(shape: &Shape) -> Result<Compat> {
    let host = Version::parse(WIT_VERSION).expect("valid WIT_VERSION");
    let offers = format!(
        "this host offers {PACKAGE}@{WIT_VERSION} and loads components built against {OLDEST_SUPPORTED} to {ADAPTED} (through an adapter) and {TRACK_START} to {WIT_VERSION}"
    );
    // Name the openpista interfaces; WASI ones only by count.
    let describe = || {
        let ours = |names: &[String]| {
            let (plugin, other): (Vec<&String>, Vec<&String>) =
                names.iter().partition(|n| n.starts_with(PACKAGE));
            let list: Vec<&str> = plugin.iter().map(|s| s.as_str()).collect();
            match other.len() {
                0 => format!("[{}]", list.join(", ")),
                n => format!("[{}] and {n} other", list.join(", ")),
            }
        };
        format!(
            "imports {}, exports {}",
            ours(&shape.imports),
            ours(&shape.exports)
        )
    };

    let mut versions: Vec<&str> = Vec::new();
    let mut worlds = Vec::new();
    for name in shape.imports.iter().chain(&shape.exports) {
        if let Some((_, Some(v))) = plugin_interface(name)
            && !versions.contains(&v)
        {
            versions.push(v);
        }
    }
    for name in &shape.exports {
        match plugin_interface(name) {
            Some(("tools", _)) => worlds.push(World::Tool),
            Some(("llm", _)) => worlds.push(World::Provider),
            Some(("messenger", _)) => worlds.push(World::Channel),
            _ => {}
        }
    }
    let world = match worlds.as_slice() {
        [w] => *w,
        [] => bail!(
            "the component exports none of {PACKAGE}/tools, /llm or /messenger, so it is not an openpista component ({})",
            describe()
        ),
        _ => bail!(
            "the component exports more than one openpista world's interface ({})",
            describe()
        ),
    };
    let version = match versions.as_slice() {
        [v] => Version::parse(v).map_err(|e| anyhow!("bad WIT version {v:?}: {e}"))?,
        [] => bail!(
            "the component's openpista interfaces carry no version; build it against the published WIT ({})",
            describe()
        ),
        many => bail!(
            "the component mixes {PACKAGE} versions {} ({})",
            many.join(", "),
            describe()
        ),
    };
    if !supported(&version) {
        let hint = if version > host {
            "upgrade openpista, or rebuild the component against an older openpista-sdk"
        } else {
            "rebuild the component against the current openpista-sdk"
        };
        bail!(
            "incompatible WIT version: the component was built against {PACKAGE}@{version} ({}); {offers}; {hint}",
            describe()
        );
    }
    let allowed = world_imports(world);
    for name in &shape.imports {
        if let Some((iface, _)) = plugin_interface(name)
            && !allowed.contains(&iface)
        {
            bail!(
                "the component imports {name}, which the {world} world does not offer (it offers {})",
                allowed
                    .iter()
                    .map(|i| format!("{PACKAGE}/{i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if plugin_interface(name).is_none() && !name.starts_with("wasi:") {
            bail!(
                "the component imports {name}, which this host does not provide; {offers} and WASI 0.2"
            );
        }
    }
    Ok(Compat {
        world,
        wit_version: version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(imports: &[&str], exports: &[&str]) -> Shape {
        Shape {
            imports: imports.iter().map(|s| s.to_string()).collect(),
            exports: exports.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn semver_rules() {
        let v = |s| Version::parse(s).unwrap();
        assert!(compatible(&v("0.1.0"), &v("0.1.1")));
        assert!(compatible(&v("0.1.1"), &v("0.1.1")));
        assert!(compatible(&v("0.1.1"), &v("0.1.2")));
        assert!(!compatible(&v("0.1.2"), &v("0.1.1")));
        assert!(!compatible(&v("0.2.0"), &v("0.1.1")));
        assert!(!compatible(&v("0.0.9"), &v("0.1.1")));
        assert!(compatible(&v("1.0.0"), &v("1.3.0")));
        assert!(!compatible(&v("2.0.0"), &v("1.3.0")));
    }

    #[test]
    fn the_current_track_and_the_adapted_one_are_supported() {
        let v = |s| Version::parse(s).unwrap();
        for ok in ["0.1.0", "0.1.1", "0.1.2", "0.2.0", "0.2.1", "0.2.2"] {
            assert!(supported(&v(ok)), "{ok}");
        }
        for no in ["0.1.3", "0.2.3", "0.3.0", "1.0.0", "0.0.1"] {
            assert!(!supported(&v(no)), "{no}");
        }
    }

    #[test]
    fn older_compatible_tool_is_accepted() {
        let c = check(&shape(
            &[
                "openpista:plugin/types@0.1.0",
                "openpista:plugin/host@0.1.0",
                "wasi:io/streams@0.2.6",
            ],
            &["openpista:plugin/tools@0.1.0"],
        ))
        .unwrap();
        assert_eq!(c.world, World::Tool);
        assert_eq!(c.wit_version, Version::new(0, 1, 0));
    }

    #[test]
    fn incompatible_version_names_both_sides() {
        let err = check(&shape(
            &["openpista:plugin/host@0.3.0"],
            &["openpista:plugin/tools@0.3.0"],
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("built against openpista:plugin@0.3.0"),
            "{err}"
        );
        assert!(
            err.contains("imports [openpista:plugin/host@0.3.0]"),
            "{err}"
        );
        assert!(
            err.contains("this host offers openpista:plugin@0.2.2"),
            "{err}"
        );
        assert!(err.contains("upgrade openpista"), "{err}");
    }

    #[test]
    fn world_mismatched_imports_and_strangers_are_refused() {
        let err = check(&shape(
            &["openpista:plugin/connections@0.2.0"],
            &["openpista:plugin/tools@0.2.0"],
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("tool world does not offer"), "{err}");
        let err = check(&shape(
            &["acme:secret/backdoor@1.0.0"],
            &["openpista:plugin/llm@0.2.0"],
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("acme:secret/backdoor@1.0.0"), "{err}");
        let err = check(&shape(&[], &["wasi:cli/run@0.2.0"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an openpista component"), "{err}");
    }

    #[test]
    fn core_modules_and_garbage_are_named() {
        let err = read_shape(b"\0asm\x01\0\0\0").unwrap_err().to_string();
        assert!(err.contains("core WebAssembly module"), "{err}");
        let err = read_shape(b"not wasm at all").unwrap_err().to_string();
        assert!(err.contains("not a valid WebAssembly binary"), "{err}");
    }
}
