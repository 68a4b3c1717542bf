//! The `openpista` command line.

mod agent_cmds;
mod ask;
mod audit;
mod auth_cmds;
mod channel_cmds;
pub mod cluster_cmds;
mod component;
mod control;
pub mod credentials;
mod doctor;
mod mcp_cmds;
pub mod model_cmds;
mod residency;
pub mod serve;
mod serve_channels;
mod skill_cmds;
mod tui_cmd;
mod whatsapp_cmds;
pub mod worker_cmds;

use crate::config::{self, Config};
use crate::memory::MemoryStore;
use crate::runtime::{Runtime, RuntimeConfig};
use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;

/// `0.1.0 (3f2a9c1d7e4b)`: the package version and the commit it was
/// built from (`unknown` outside a git checkout).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("OPENPISTA_COMMIT"),
    ")"
);

/// An agent that controls your computer through any messenger; every
/// adapter and skill is a sandboxed WebAssembly component.
#[derive(Parser, Debug)]
#[command(name = "openpista", version = VERSION, about)]
pub struct Cli {
    /// Configuration file (default: ~/.openpista/config.toml).
    #[arg(long, global = true, env = "OPENPISTA_CONFIG")]
    pub config: Option<PathBuf>,
    /// With no command: resume this session in the terminal UI.
    #[arg(short, long)]
    pub session: Option<String>,
    /// Which log events are written: `info`, `debug`,
    /// `warn,openpista::gateway=debug` (default: OPENPISTA_LOG, then
    /// `[log] level`, then `warn,openpista=info`).
    #[arg(long, global = true, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// How log lines look (default: `[log] format`, then pretty).
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<crate::telemetry::logs::LogFormat>,
    /// With no command, the terminal UI opens (the line interface `chat`
    /// when stdout is not a terminal).
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// True when this command line opens the full-screen TUI, which owns
    /// the terminal (so logs must go elsewhere).
    pub fn opens_tui(&self) -> bool {
        match &self.command {
            Some(Command::Tui { .. }) => true,
            None => interactive(),
            Some(_) => false,
        }
    }
}

/// Installs the log subscriber from the flags and `[log]`. The TUI owns
/// the terminal: its logs go to `~/.openpista/tui.log` instead.
fn init_logs(cli: &Cli, config: &Config) -> Result<()> {
    let tui_file = cli
        .opens_tui()
        .then(|| crate::paths::home_dir().join("tui.log"));
    crate::telemetry::logs::init(
        &config.log,
        &crate::telemetry::logs::LogFlags {
            level: cli.log_level.clone(),
            format: cli.log_format,
            tui_file,
        },
        &config.telemetry,
    )
}

/// Both stdin and stdout are a terminal.
fn interactive() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::io::stdin().is_terminal()
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the host: load components, watch plugin folders, serve.
    Serve {
        /// Exit as soon as everything is loaded (for measuring start-up).
        #[arg(long, hide = true)]
        exit_when_ready: bool,
        /// In a cluster: `edge` (channels only), `worker` (answers only)
        /// or `all` (both; the default). Overrides `[cluster] role`.
        #[arg(long, value_enum)]
        role: Option<crate::cluster::Role>,
    },
    /// One turn: send TEXT, print the answer, exit (non-zero on failure).
    Run {
        #[arg(short = 'e', long = "exec")]
        text: String,
        /// Session to continue.
        #[arg(short, long, default_value = "cli:run")]
        session: String,
    },
    /// An interactive terminal conversation (/quit, /clear, /help).
    Chat {
        #[arg(short, long, default_value = "cli:default")]
        session: String,
    },
    /// The full-screen terminal UI (what `openpista` alone opens).
    Tui {
        /// Resume this session (`web:CLIENT` joins a web page's session
        /// when a server runs).
        #[arg(short, long)]
        session: Option<String>,
        /// Run the agent in this process even when a server runs.
        #[arg(long)]
        standalone: bool,
    },
    /// Inspect and manage components.
    #[command(subcommand)]
    Component(component::ComponentCommand),
    /// Stored conversations.
    #[command(subcommand)]
    Session(agent_cmds::SessionCommand),
    /// The models of the configured providers: list, test, use.
    #[command(subcommand)]
    Model(model_cmds::ModelCommand),
    /// Let new people talk to the agent through a messenger.
    #[command(subcommand)]
    Pairing(channel_cmds::PairingCommand),
    /// The Telegram bot.
    #[command(subcommand)]
    Telegram(channel_cmds::TelegramCommand),
    /// The Discord bot.
    #[command(subcommand)]
    Discord(channel_cmds::DiscordCommand),
    /// The Slack app.
    #[command(subcommand)]
    Slack(channel_cmds::SlackCommand),
    /// SKILL.md skills: what is installed, what each may reach.
    #[command(subcommand)]
    Skill(skill_cmds::SkillCommand),
    /// WhatsApp: pairing this host as a linked device, and its state.
    #[command(subcommand)]
    Whatsapp(whatsapp_cmds::WhatsAppCommand),
    /// MCP: the servers openpista uses, and openpista as a server.
    #[command(subcommand)]
    Mcp(mcp_cmds::McpCommand),
    /// Sign in to providers: login, status, logout.
    #[command(subcommand)]
    Auth(auth_cmds::AuthCommand),
    /// Is this machine ready for the configuration? One line per check,
    /// with the fix for each that fails (exit 1 when a required one does).
    Doctor {
        /// One JSON object instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// What an attacker would look for in this set-up.
    #[command(subcommand)]
    Security(SecurityCommand),
    /// Cluster mode (`[cluster]`): nodes, leases.
    #[command(subcommand)]
    Cluster(cluster_cmds::ClusterCommand),
    /// Worker tasks: their reports (`list`, `show`), and, inside a task,
    /// sending one (`report`, `flush`).
    #[command(subcommand)]
    Worker(worker_cmds::WorkerCommand),
}

/// `openpista security …`.
#[derive(Subcommand, Debug)]
pub enum SecurityCommand {
    /// Findings with their severity and fix (exit 1 when one is high).
    Audit {
        /// One JSON object instead of lines.
        #[arg(long)]
        json: bool,
    },
}

/// Runs the command line; returns the process exit code.
pub async fn run(cli: Cli) -> Result<i32> {
    // Inside a task there is no host config or home: the task's
    // environment says where to report.
    if let Some(Command::Worker(cmd)) = &cli.command
        && worker_cmds::in_task(cmd)
    {
        let Some(Command::Worker(cmd)) = cli.command else {
            unreachable!()
        };
        return worker_cmds::run_in_task(cmd).await;
    }
    // The doctor reports a config that does not parse as a failed check.
    if let Some(Command::Doctor { json }) = &cli.command {
        let config = Config::load(cli.config.as_deref()).unwrap_or_default();
        init_logs(&cli, &config)?;
        return doctor::run(cli.config.as_deref(), *json).await;
    }
    let config = Config::load(cli.config.as_deref())?;
    init_logs(&cli, &config)?;
    // Diagnoses come before the home is made private below, so they see
    // the modes as they were.
    if let Some(Command::Security(SecurityCommand::Audit { json })) = &cli.command {
        return audit::run(&config, cli.config.as_deref(), *json).await;
    }
    for note in secure_home(&config, cli.config.as_deref()) {
        eprintln!("openpista: made private: {note}");
    }
    let Some(command) = cli.command else {
        // `openpista`, `openpista -s SESSION`: the TUI on a terminal, the
        // line interface in a pipe.
        if interactive() {
            return tui_cmd::run(config, cli.config, cli.session, false).await;
        }
        let session = cli.session.unwrap_or_else(|| "cli:default".into());
        return agent_cmds::chat(config, &session).await;
    };
    match command {
        Command::Tui {
            session,
            standalone,
        } => tui_cmd::run(config, cli.config, session.or(cli.session), standalone).await,
        Command::Serve {
            exit_when_ready,
            role,
        } => {
            let mut config = config;
            if let Some(role) = role {
                match &mut config.cluster {
                    Some(cluster) => cluster.role = role,
                    None if role == crate::cluster::Role::All => {}
                    None => anyhow::bail!(
                        "--role {}: this host is not in a cluster (no [cluster] section in the configuration)",
                        role.as_str()
                    ),
                }
            }
            serve::run(config, exit_when_ready).await
        }
        Command::Component(cmd) => component::run(config, cmd).await,
        Command::Run { text, session } => agent_cmds::run(config, &text, &session).await,
        Command::Chat { session } => agent_cmds::chat(config, &session).await,
        Command::Session(cmd) => agent_cmds::session(config, cmd).await,
        Command::Model(cmd) => model_cmds::run(config, cli.config.clone(), cmd).await,
        Command::Pairing(cmd) => channel_cmds::pairing(config, cmd).await,
        Command::Telegram(cmd) => channel_cmds::telegram(config, cmd).await,
        Command::Discord(cmd) => channel_cmds::discord(config, cmd).await,
        Command::Slack(cmd) => channel_cmds::slack(config, cmd).await,
        Command::Skill(cmd) => skill_cmds::run(config, cmd).await,
        Command::Whatsapp(cmd) => whatsapp_cmds::run(config, cmd).await,
        Command::Auth(cmd) => auth_cmds::run(config, cmd).await,
        Command::Mcp(cmd) => mcp_cmds::run(config, cmd).await,
        Command::Cluster(cmd) => cluster_cmds::run(config, cmd).await,
        Command::Worker(cmd) => worker_cmds::run(config, cmd).await,
        Command::Doctor { .. } | Command::Security(_) => unreachable!("handled above"),
    }
}

/// Makes the home folder 0700 and every file of it that holds
/// conversations, tokens or credentials 0600, repairing an older install;
/// returns a sentence per repair (a failure to repair is one too).
pub fn secure_home(config: &Config, config_file: Option<&std::path::Path>) -> Vec<String> {
    let home = crate::paths::home_dir();
    let private = private_paths(config, config_file);
    match crate::paths::secure_home(&home, &private.dirs, &private.files) {
        Ok(notes) => notes,
        Err(e) => vec![format!("could not make {} private: {e}", home.display())],
    }
}

/// What must stay private to the operator: files 0600, folders 0700.
pub struct PrivatePaths {
    pub dirs: Vec<PathBuf>,
    pub files: Vec<PathBuf>,
}

/// The files that hold secrets or conversations (memory, web token,
/// credentials, the config, WhatsApp's session) and the folders that
/// hold them, as `config` places them. The home folder is first of the
/// folders.
pub fn private_paths(config: &Config, config_file: Option<&std::path::Path>) -> PrivatePaths {
    let home = crate::paths::home_dir();
    let mut files = vec![
        crate::paths::expand(&config.memory.path),
        home.join("web-token"),
        config.auth.store().path().to_path_buf(),
        config_file
            .map(|p| p.to_path_buf())
            .unwrap_or_else(|| home.join("config.toml")),
    ];
    let mut dirs = vec![
        home.clone(),
        crate::paths::expand(&config.runtime.cache_dir),
    ];
    if let Ok(whatsapp) = config.channels.whatsapp.resolve() {
        dirs.push(whatsapp.session_dir.clone());
        if let Ok(entries) = std::fs::read_dir(&whatsapp.session_dir) {
            files.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
        }
    }
    PrivatePaths { dirs, files }
}

/// The runtime `config` describes, on a memory store of its own in `dir`
/// instead of the configured one: for diagnoses (`doctor`, `security
/// audit`) that load components while `serve` may hold the real store's
/// lock, and that must not write to it.
pub fn probe_runtime(config: &Config, dir: &std::path::Path) -> Result<Arc<Runtime>> {
    let mut probe = config.clone();
    probe.memory.path = dir.join("probe.redb").display().to_string();
    build_runtime(&probe)
}

/// Builds the runtime the configuration describes (nothing loaded yet).
pub fn build_runtime(config: &Config) -> Result<Arc<Runtime>> {
    Ok(build(config)?.0)
}

/// The runtime, the memory store and the provider setup.
pub fn build(config: &Config) -> Result<(Arc<Runtime>, Arc<MemoryStore>, config::ProviderSetup)> {
    build_with(config, false)
}

/// The alias that asks provider `name`'s service for its model list
/// (loaded by [`build_with`] with `listers`).
pub fn lister_of(name: &str) -> String {
    format!("models-{name}")
}

/// [`build`]; with `listers`, every provider whose service lists its
/// models also gets a second alias, [`lister_of`] its name, configured
/// `models = "listed"` under the same grants and key, for `model list`.
pub fn build_with(
    config: &Config,
    listers: bool,
) -> Result<(Arc<Runtime>, Arc<MemoryStore>, config::ProviderSetup)> {
    let memory = Arc::new(MemoryStore::open(&crate::paths::expand(
        &config.memory.path,
    ))?);
    // Every configured provider is loaded, the default first, each under
    // its own alias and policy; one sign-in per slot serves them all.
    let mut sign_ins = credentials::SignIns::new(config.auth.store(), config.auth.clone());
    let mut secrets = config.secret_store()?;
    // Every view of the store shares its values: log lines are redacted
    // with what any component's view learns later.
    crate::telemetry::logs::redact_with(Arc::new(secrets.clone()));
    let mut policies = config.components.clone();
    let mut aliases = std::collections::BTreeMap::new();
    let mut setups = config.provider_setups()?;
    // A protocol component no provider names directly stays unloaded
    // (each provider is an alias with its own copy), unless
    // `[components.NAME] enabled = true` asks for it.
    for name in config::dormant_protocols(&setups) {
        policies
            .entry(name.to_string())
            .or_default()
            .enabled
            .get_or_insert(false);
    }
    if listers {
        let listing: Vec<config::ProviderSetup> = setups
            .iter()
            .filter(|s| s.alias_of.is_some() && s.preset.is_some_and(|p| p.lists_models()))
            .map(|s| {
                let mut lister = s.clone();
                lister.component = lister_of(&s.name);
                lister
                    .policy
                    .config
                    .insert("models".into(), toml::Value::String("listed".into()));
                lister
            })
            .collect();
        setups.extend(listing);
    }
    let mut setups = setups.into_iter();
    let mut provider = setups.next().expect("the default provider comes first");
    secrets = sign_ins.wire(&mut provider, secrets)?;
    for mut other in setups {
        secrets = sign_ins.wire(&mut other, secrets)?;
        if !other.key_present && other.component == format!("provider-{}", other.name) {
            tracing::warn!(
                "provider {}: {} is not set and no sign-in is stored; it fails until one is",
                other.name,
                other.key_env.as_deref().unwrap_or("its key")
            );
        }
        if let Some(base) = &other.alias_of {
            aliases.insert(other.component.clone(), base.clone());
            policies.insert(other.component.clone(), other.policy.clone());
        }
    }
    if let Some(base) = &provider.alias_of {
        aliases.insert(provider.component.clone(), base.clone());
        policies.insert(provider.component.clone(), provider.policy.clone());
    }
    let mut single_components = Vec::new();
    for (dir, component, policy) in crate::skills::components(&config.skills_setup()) {
        merge_policy(policies.entry(component.clone()).or_default(), policy);
        single_components.push((component, dir));
    }
    let telegram = config.channels.telegram.resolve()?;
    let entry = policies
        .entry(config::telegram::COMPONENT.to_string())
        .or_default();
    merge_policy(entry, telegram.policy()?);
    let discord = config.channels.discord.resolve()?;
    merge_policy(
        policies
            .entry(config::discord::COMPONENT.to_string())
            .or_default(),
        discord.policy()?,
    );
    let slack = config.channels.slack.resolve()?;
    merge_policy(
        policies
            .entry(config::slack::COMPONENT.to_string())
            .or_default(),
        slack.policy()?,
    );
    let whatsapp = config.channels.whatsapp.resolve()?;
    merge_policy(
        policies
            .entry(config::whatsapp::COMPONENT.to_string())
            .or_default(),
        whatsapp.policy(),
    );
    let runtime = Runtime::new(RuntimeConfig {
        engine: config.engine_settings(),
        cache_dir: Some(crate::paths::expand(&config.runtime.cache_dir)),
        plugin_dirs: config.plugin_dirs(),
        embedded: config.runtime.embedded_components,
        policies,
        secrets,
        memory: Some(memory.clone()),
        resolver: None,
        aliases,
        connections: Default::default(),
        workspace: config.workspace_for_grants(),
        single_components,
        trust: config.trust_policy(),
    })?;
    if let Some(token) = &telegram.token
        && telegram.enabled
    {
        runtime
            .secrets()
            .insert(config::telegram::TOKEN_SECRET, token.clone());
        let webhook_secret = telegram.webhook_secret.clone().unwrap_or_else(|| {
            use rand::Rng;
            hex::encode(rand::rng().random::<[u8; 24]>())
        });
        runtime
            .secrets()
            .insert(config::telegram::WEBHOOK_SECRET, webhook_secret);
    }
    if let Some(token) = &discord.token
        && discord.enabled
    {
        runtime
            .secrets()
            .insert(config::discord::TOKEN_SECRET, token.clone());
    }
    if slack.enabled {
        for (name, value) in slack.secrets() {
            runtime.secrets().insert(name, value);
        }
    }
    Ok((runtime, memory, provider))
}

/// Fills what the operator's own `[components.NAME]` table leaves unset
/// with what a channel's section derives: the table wins where both speak.
fn merge_policy(
    into: &mut crate::runtime::capabilities::ComponentPolicy,
    derived: crate::runtime::capabilities::ComponentPolicy,
) {
    into.enabled = into.enabled.or(derived.enabled);
    if into.hosts.is_none() {
        into.hosts = derived.hosts;
    }
    if into.secrets.is_none() {
        into.secrets = derived.secrets;
    }
    if into.paths.is_none() {
        into.paths = derived.paths;
    }
    for (k, v) in derived.config {
        into.config.entry(k).or_insert(v);
    }
}

/// What the agent's tools are made of, besides the components: the native
/// tools' handles and the skills, wired here so neither knows the other.
pub struct Toolbox {
    pub natives: crate::native::NativeTools,
    /// The skills, whose container tools run through the natives'
    /// container engine.
    pub skills: Option<Arc<crate::skills::SkillSet>>,
    /// The MCP servers `[mcp.servers]` lists, kept connected.
    pub mcp: Option<Arc<crate::mcp::McpClients>>,
}

impl Toolbox {
    /// Closes the browser and removes running containers.
    pub async fn shutdown(&self) {
        self.natives.shutdown().await;
    }
}

/// The tool registry the agent uses: every component tool plus the
/// native tools `[native.*]` enables, each call recorded, and the skills.
pub fn tools(
    config: &Config,
    runtime: &Arc<Runtime>,
) -> (Arc<crate::tools::ToolRegistry>, Toolbox) {
    let mut registry = crate::tools::ToolRegistry::new(runtime.clone());
    let context = native_context(config, runtime);
    let natives = crate::native::register(&mut registry, &config.native, &context);
    let skills = crate::skills::SkillSet::load(
        &config.skills_setup(),
        context.scrub.clone(),
        natives.containers.clone(),
        Some(runtime.clone()),
    );
    registry.add_provider(skills.clone());
    let mcp = crate::mcp::McpClients::start(
        &config.mcp,
        crate::mcp::ClientContext {
            secrets: runtime.secrets().clone(),
            workspace: config.workspace_dir(),
        },
    );
    registry.add_provider(mcp.clone());
    (
        Arc::new(registry),
        Toolbox {
            natives,
            skills: Some(skills),
            mcp: Some(mcp),
        },
    )
}

/// What the native tools share: the audit log, the environment scrubbed
/// of secrets, the workspace.
fn native_context(config: &Config, runtime: &Arc<Runtime>) -> crate::native::NativeContext {
    crate::native::NativeContext {
        audit: crate::native::audit::AuditLog::new(),
        scrub: crate::native::env::EnvScrub {
            names: config.secret_env_names().into_iter().collect(),
            secrets: runtime.secrets().clone(),
        },
        workspace: config.workspace_dir(),
    }
}

/// The approval service `[approvals]` describes; what it shows of a
/// call's arguments passes through the secret store's redaction.
pub fn approvals(config: &Config, runtime: &Arc<Runtime>) -> Arc<crate::approvals::Approvals> {
    let secrets = runtime.secrets().clone();
    Arc::new(crate::approvals::Approvals::new(
        config.approvals.clone(),
        move |text| secrets.redact(text).into_owned(),
    ))
}

/// The control socket of a running `openpista serve`.
pub fn control_socket_path() -> PathBuf {
    crate::paths::home_dir().join("control.sock")
}
