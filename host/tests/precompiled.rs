//! First start on the default configuration: the components it loads are
//! built into the binary compiled (host/build/precompile.rs), so nothing is
//! compiled and nothing is written to the compile cache. An engine they do
//! not fit (here `[runtime] fuel = true`, which changes compiled code)
//! refuses them, and the host compiles instead.

mod support;

use std::path::Path;

/// Starts `serve` on `home`, returns the components its ready line names,
/// and stops it.
fn first_start(home: &Path) -> Vec<String> {
    let (mut child, ready) = support::serve(home);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(ready.starts_with("openpista ready in"), "{ready}");
    let list = ready
        .split_once('[')
        .and_then(|(_, rest)| rest.split_once(']'))
        .unwrap_or_else(|| panic!("no component list in {ready:?}"))
        .0;
    let mut names: Vec<String> = list.split(", ").map(str::to_string).collect();
    names.sort();
    names
}

/// The compiled artifacts the run left in the compile cache.
fn cache_entries(home: &Path) -> Vec<String> {
    std::fs::read_dir(home.join("cache"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".cwasm"))
        .collect()
}

/// The embedded components that carry a compiled form.
fn precompiled() -> Vec<String> {
    let mut names: Vec<String> = openpista::runtime::registry::EMBEDDED
        .iter()
        .filter(|e| e.precompiled.is_some())
        .map(|e| e.package.to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn the_default_configuration_loads_only_precompiled_components() {
    let home = tempfile::tempdir().unwrap();
    let loaded = first_start(home.path());
    assert_eq!(
        loaded,
        precompiled(),
        "what the default configuration loads and what the build precompiles \
         (host/build/precompile.rs DEFAULT_LOADED) have drifted apart"
    );
    assert_eq!(
        cache_entries(home.path()),
        Vec::<String>::new(),
        "a first start on the default configuration compiled something"
    );
}

#[test]
fn an_engine_the_artifacts_do_not_fit_compiles_instead() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("config.toml"), "[runtime]\nfuel = true\n").unwrap();
    let loaded = first_start(home.path());
    assert_eq!(loaded, precompiled());
    assert_eq!(
        cache_entries(home.path()).len(),
        loaded.len(),
        "each component was compiled (and cached) once"
    );
}
