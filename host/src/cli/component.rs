//! `openpista component list|reload|new|inspect`.

use super::control::{self, Request, StatusRow};
use super::{build_runtime, control_socket_path};
use crate::config::Config;
use crate::runtime::version;
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use std::path::PathBuf;

#[path = "../../../sdk/templates/scaffold.rs"]
mod scaffold;

#[derive(Subcommand, Debug)]
pub enum ComponentCommand {
    /// Name, version, hash, world, capabilities, state and last error of
    /// every component (from the running server when there is one).
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Reload a component now, as the watcher would.
    Reload { name: String },
    /// Write a buildable component crate from the SDK template.
    New {
        /// tool, provider or channel.
        #[arg(long, value_parser = ["tool", "provider", "channel"])]
        kind: String,
        name: String,
        /// Folder to create the crate in.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Show a component file's world, WIT version, imports and exports.
    Inspect { file: PathBuf },
    /// Copy a component (FILE.wasm with FILE.toml beside it) into the
    /// plugin folder, after showing what it asks to reach.
    Install {
        file: PathBuf,
        /// Install without asking.
        #[arg(long, short)]
        yes: bool,
    },
    /// Write the WIT package this host speaks into DIR, for components
    /// written in Python (componentize-py) or JavaScript (jco).
    Wit { dir: PathBuf },
    /// Make an Ed25519 signing key: the private key goes to OUT (0600),
    /// the public key is printed for operators' `[runtime] trusted_keys`.
    Keygen { out: PathBuf },
    /// Sign FILE.wasm and its FILE.toml with KEY: writes FILE.sig, which
    /// travels beside them.
    Sign {
        file: PathBuf,
        #[arg(long)]
        key: PathBuf,
    },
}

pub async fn run(config: Config, cmd: ComponentCommand) -> Result<i32> {
    match cmd {
        ComponentCommand::List { json } => list(config, json).await,
        ComponentCommand::Reload { name } => reload(config, &name).await,
        ComponentCommand::New { kind, name, dir } => new(&kind, &name, &dir),
        ComponentCommand::Inspect { file } => inspect(&file),
        ComponentCommand::Install { file, yes } => install(&config, &file, yes),
        ComponentCommand::Wit { dir } => wit(&dir),
        ComponentCommand::Keygen { out } => keygen(&out),
        ComponentCommand::Sign { file, key } => sign(&file, &key),
    }
}

async fn statuses(config: Config) -> Result<(Vec<StatusRow>, bool)> {
    if let Some(resp) = control::request(&control_socket_path(), &Request::List).await? {
        return Ok((resp.components, true));
    }
    let runtime = build_runtime(&config)?;
    runtime.load_all().await;
    Ok((
        runtime.status().into_iter().map(Into::into).collect(),
        false,
    ))
}

async fn list(config: Config, json: bool) -> Result<i32> {
    let cluster = config.cluster.is_some().then(|| config.clone());
    let (rows, live) = statuses(config).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(0);
    }
    if let Some(config) = cluster {
        // In a cluster, what each node serves (from its heartbeat).
        match super::cluster_cmds::read_status(&config).await {
            Ok(status) => super::cluster_cmds::print_components(&status, ""),
            Err(e) => println!("(the cluster's nodes could not be read: {e:#})"),
        }
    }
    if !live {
        println!("(no running server; loaded the components here to check them)");
    }
    for row in &rows {
        println!(
            "{:<20} {:<8} {:<9} {:<8} wit {:<6} {}",
            row.name,
            row.state,
            row.world.as_deref().unwrap_or("-"),
            row.version.as_deref().unwrap_or("-"),
            row.wit_version.as_deref().unwrap_or("-"),
            row.hash.as_deref().map(|h| &h[..12]).unwrap_or("-"),
        );
        if let Some(source) = &row.source {
            match row.provenance.as_deref() {
                Some(p) if p != "embedded" => println!("    source: {source} ({p})"),
                _ => println!("    source: {source}"),
            }
        }
        if let Some(caps) = &row.capabilities {
            println!("    grants: {caps}");
        }
        if !row.tools.is_empty() {
            println!("    tools:  {}", row.tools.join(", "));
        }
        if let Some(err) = &row.last_error {
            println!("    error:  {err}");
        }
    }
    Ok(if rows.iter().any(|r| r.last_error.is_some()) {
        1
    } else {
        0
    })
}

async fn reload(config: Config, name: &str) -> Result<i32> {
    let request = Request::Reload {
        name: name.to_string(),
    };
    if let Some(resp) = control::request(&control_socket_path(), &request).await? {
        return Ok(match resp.error {
            None => {
                println!("{name} reloaded");
                0
            }
            Some(e) => {
                eprintln!("{name} failed to load; the previous version keeps serving: {e}");
                1
            }
        });
    }
    let runtime = build_runtime(&config)?;
    match runtime.reload(name).await {
        Ok(()) if runtime.get(name).is_some() => {
            println!("no running server; {name} loads cleanly (compiled into the cache)");
            Ok(0)
        }
        Ok(()) => bail!("no component named {name} in the plugin folders or the binary"),
        Err(e) => {
            eprintln!("{name} failed to load: {e:#}");
            Ok(1)
        }
    }
}

/// The template's `openpista-sdk` dependency: the SDK of the checkout
/// this binary runs from (`target/…/openpista` inside it), so a change to
/// the SDK is built at once; anywhere else, the published SDK of this
/// host's version.
fn sdk_dependency() -> String {
    let is_sdk = |dir: &std::path::Path| {
        std::fs::read_to_string(dir.join("Cargo.toml"))
            .is_ok_and(|t| t.contains("name = \"openpista-sdk\""))
    };
    let checkout = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.canonicalize().ok())
        .and_then(|exe| {
            exe.ancestors()
                .skip(1)
                .map(|d| d.join("sdk"))
                .find(|sdk| is_sdk(sdk))
        });
    match checkout {
        Some(sdk) => format!("{{ path = {:?} }}", sdk.display().to_string()),
        None => format!("\"{}\"", env!("CARGO_PKG_VERSION")),
    }
}

/// `component wit DIR`.
fn wit(dir: &std::path::Path) -> Result<i32> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (name, text) in WIT_FILES {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!(
        "wrote openpista:plugin@{} ({} files) to {}",
        crate::runtime::bindings::WIT_VERSION,
        WIT_FILES.len(),
        dir.display()
    );
    println!(
        "Python: componentize-py -d {0} -w tool componentize app -o tool.wasm\nJavaScript: jco componentize app.js --wit {0} --world-name tool -o tool.wasm",
        dir.display()
    );
    Ok(0)
}

include!(concat!(env!("OUT_DIR"), "/wit_files.rs"));

fn new(kind: &str, name: &str, dir: &std::path::Path) -> Result<i32> {
    let dependency = sdk_dependency();
    let created = scaffold::write_component_template(kind, name, dir, &dependency)
        .map_err(|e| anyhow::anyhow!(e))?;
    println!("created {}", created.display());
    println!(
        "build it: cd {} && cargo build --release --target wasm32-wasip2",
        created.display()
    );
    Ok(0)
}

fn inspect(file: &std::path::Path) -> Result<i32> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let shape = version::read_shape(&bytes)?;
    println!("file:    {}", file.display());
    println!("size:    {} bytes", bytes.len());
    match version::check(&shape) {
        Ok(c) => println!(
            "world:   {} (built against openpista:plugin@{})",
            c.world, c.wit_version
        ),
        Err(e) => println!("refused: {e:#}"),
    }
    println!("imports:");
    for i in &shape.imports {
        println!("  {i}");
    }
    println!("exports:");
    for e in &shape.exports {
        println!("  {e}");
    }
    let manifest = file.with_extension("toml");
    if let Ok(text) = std::fs::read_to_string(&manifest) {
        println!("manifest {}:\n{text}", manifest.display());
    }
    Ok(0)
}

/// Checks a component file and its manifest, shows what it asks for, and
/// copies both into the first plugin folder (atomically, so the watcher
/// never loads half a file). A running server picks it up by itself.
fn install(config: &Config, file: &std::path::Path, yes: bool) -> Result<i32> {
    use crate::runtime::manifest::Manifest;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let shape = version::read_shape(&bytes)
        .with_context(|| format!("{} is not a WebAssembly component", file.display()))?;
    let compat =
        version::check(&shape).with_context(|| format!("{} is refused", file.display()))?;
    let manifest_path = file.with_extension("toml");
    let text = std::fs::read_to_string(&manifest_path).with_context(|| {
        format!(
            "{} needs its manifest beside it: {}",
            file.display(),
            manifest_path.display()
        )
    })?;
    let manifest = Manifest::parse(&text, &manifest_path.display().to_string())?;
    if manifest.world != compat.world {
        bail!(
            "{} says world {:?} but the component implements the {} world",
            manifest_path.display(),
            manifest.world.as_str(),
            compat.world
        );
    }
    let caps = &manifest.capabilities;
    let list = |v: Vec<String>| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    let paths = |v: &[PathBuf]| {
        v.iter()
            .map(|p| {
                if p.as_os_str() == crate::runtime::capabilities::OPERATOR_CHOSEN {
                    format!("* (only what [components.{}] grants)", manifest.name)
                } else {
                    p.display().to_string()
                }
            })
            .collect()
    };
    println!(
        "{} {} ({} world, openpista:plugin@{}) asks for:",
        manifest.name,
        manifest.version.as_deref().unwrap_or("-"),
        compat.world,
        compat.wit_version
    );
    println!("  outbound hosts: {}", list(caps.hosts.clone()));
    println!("  secrets:        {}", list(caps.secrets.clone()));
    println!("  read folders:   {}", list(paths(&caps.paths)));
    println!("  write folders:  {}", list(paths(&caps.writable_paths)));
    println!(
        "  limits:         {} MiB memory, {} ms per call",
        manifest.limits.memory_mb, manifest.limits.timeout_ms
    );
    // The signature is checked as the host will check it when it loads.
    let sig_path = file.with_extension("sig");
    let signature = match std::fs::read_to_string(&sig_path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", sig_path.display())),
    };
    let provenance = crate::runtime::signing::verify(
        &config.trust_policy(),
        &manifest.name,
        &bytes,
        &text,
        signature.as_deref(),
    )
    .map_err(|why| anyhow::anyhow!("{} is refused: {why}", file.display()))?;
    println!("  signature:      {provenance}");
    let Some(dir) = config.plugin_dirs().into_iter().next() else {
        bail!("no plugin folder is configured ([runtime] plugin_dirs)");
    };
    if !yes {
        use std::io::IsTerminal;
        if !std::io::stdin().is_terminal() {
            bail!("not installed: confirm with --yes (no terminal to ask on)");
        }
        print!("install into {}? [y/N] ", dir.display());
        std::io::Write::flush(&mut std::io::stdout())?;
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("not installed");
            return Ok(1);
        }
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // The signature and the manifest first: the watcher reloads on the
    // .wasm's arrival and must find them there already. A signature of an
    // older version would refuse this one: it goes.
    let mut files = Vec::new();
    match &signature {
        Some(sig) => files.push((format!("{}.sig", manifest.name), sig.as_bytes())),
        None => {
            let stale = dir.join(format!("{}.sig", manifest.name));
            if stale.exists() {
                std::fs::remove_file(&stale)
                    .with_context(|| format!("cannot remove {}", stale.display()))?;
            }
        }
    }
    files.push((format!("{}.toml", manifest.name), text.as_bytes()));
    files.push((format!("{}.wasm", manifest.name), &bytes[..]));
    for (name, data) in files {
        let dest = dir.join(&name);
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, data).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &dest)
            .with_context(|| format!("cannot move it to {}", dest.display()))?;
    }
    println!(
        "installed {} into {}; a running server loads it now, the operator's [components.{}] can narrow it",
        manifest.name,
        dir.display(),
        manifest.name
    );
    Ok(0)
}

/// `component keygen OUT`.
fn keygen(out: &std::path::Path) -> Result<i32> {
    use crate::runtime::signing::SigningKey;
    let (text, key) = SigningKey::generate();
    if !crate::paths::create_private(out, text.as_bytes())
        .with_context(|| format!("cannot write {}", out.display()))?
    {
        bail!(
            "{} exists: a signing key is never overwritten",
            out.display()
        );
    }
    println!("signing key written to {} (keep it private)", out.display());
    println!("public key, for [runtime] trusted_keys:\n{}", key.public());
    Ok(0)
}

/// `component sign FILE.wasm --key KEY`: FILE.sig beside it.
fn sign(file: &std::path::Path, key: &std::path::Path) -> Result<i32> {
    use crate::runtime::manifest::Manifest;
    use crate::runtime::signing::SigningKey;
    let wasm = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let manifest_path = file.with_extension("toml");
    let manifest = std::fs::read_to_string(&manifest_path).with_context(|| {
        format!(
            "{} needs its manifest beside it: {}",
            file.display(),
            manifest_path.display()
        )
    })?;
    let name = Manifest::parse(&manifest, &manifest_path.display().to_string())?.name;
    let key_text =
        std::fs::read_to_string(key).with_context(|| format!("cannot read {}", key.display()))?;
    let key =
        SigningKey::parse(&key_text).map_err(|e| anyhow::anyhow!("{}: {e}", key.display()))?;
    let out = file.with_extension("sig");
    std::fs::write(&out, key.sign(&name, &wasm, &manifest))
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!("signed {name} as {}: {}", key.public(), out.display());
    Ok(0)
}
