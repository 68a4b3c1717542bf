//! Fuzz targets for the host's parsers of outside input (see
//! `fuzz/README.md`): component manifests, the operator's config file,
//! the WIT version reader that looks at a component's bytes before
//! anything is compiled, and the tool-schema check. Each runs a bounded
//! number of mutated seeds from `fuzz/corpus/<target>/` with the tests.

use crate::config::Config;
use crate::runtime::bindings::ToolSpec;
use crate::runtime::manifest::{Manifest, validate_name};
use crate::runtime::{tool_spec, version};

#[test]
fn fuzz_manifest() {
    openpista_fuzz::run_str("manifest", |text| {
        match Manifest::parse(text, "fuzz.toml") {
            Ok(m) => {
                assert!(validate_name(&m.name).is_ok(), "accepted name {:?}", m.name);
            }
            Err(e) => assert!(
                format!("{e:#}").contains("fuzz.toml"),
                "the error names the file: {e:#}"
            ),
        }
    });
}

#[test]
fn fuzz_config() {
    openpista_fuzz::run_str("config", |text| {
        if let Err(e) = Config::parse(text, "fuzz.toml") {
            assert!(
                format!("{e:#}").contains("fuzz.toml"),
                "the error names the file: {e:#}"
            );
        }
    });
}

#[test]
fn fuzz_wit_shape() {
    openpista_fuzz::run("wit_shape", |bytes| {
        let Ok(shape) = version::read_shape(bytes) else {
            return;
        };
        if let Ok(compat) = version::check(&shape) {
            assert!(
                version::supported(&compat.wit_version),
                "accepted {} ({shape:?})",
                compat.wit_version
            );
        }
    });
}

#[test]
fn fuzz_tool_schema() {
    openpista_fuzz::run_str("tool_schema", |text| {
        let spec = ToolSpec {
            name: "fuzz.tool".into(),
            description: String::new(),
            parameters: text.into(),
        };
        if tool_spec::problem(&spec).is_none() {
            let value: serde_json::Value =
                serde_json::from_str(text).expect("an accepted schema is JSON");
            assert!(value.is_object(), "an accepted schema is an object: {text}");
        }
    });
}
