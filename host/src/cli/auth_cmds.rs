//! `openpista auth login | status | logout`: signing in to providers and
//! what is stored about it. Nothing here prints a token: status shows the
//! provider, method, account and expiry only.

use crate::auth::login::{self, LoginOptions, Terminal};
use crate::auth::settings::{PROVIDERS, Provider, provider as find_provider};
use crate::auth::store::State;
use crate::auth::{Credential, CredentialStore, Method, now_unix};
use crate::config::Config;
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use std::collections::BTreeMap;

#[derive(Subcommand, Debug)]
pub enum AuthCommand {
    /// Sign in to a provider (in the browser, or with an API key).
    Login {
        /// openai, anthropic, openrouter, copilot, gemini, azure, vercel or
        /// bedrock; without it, pick from a list.
        #[arg(long)]
        provider: Option<String>,
        /// Enter an API key instead of signing in.
        #[arg(long)]
        api_key: bool,
        /// Print the address instead of opening a browser (SSH, headless);
        /// the redirect address can then be pasted here.
        #[arg(long)]
        no_browser: bool,
        /// OpenAI: also get an API key for API billing.
        #[arg(long)]
        api_billing: bool,
    },
    /// Who is signed in where, by which method, until when.
    Status,
    /// Remove a provider's stored credentials.
    Logout { provider: String },
}

/// Runs an `auth` command.
pub async fn run(config: Config, cmd: AuthCommand) -> Result<i32> {
    let store = CredentialStore::open(CredentialStore::default_path());
    match cmd {
        AuthCommand::Login {
            provider,
            api_key,
            no_browser,
            api_billing,
        } => {
            let opts = LoginOptions {
                api_key,
                no_browser,
                api_billing,
            };
            login_cmd(&config, &store, provider.as_deref(), opts).await
        }
        AuthCommand::Status => {
            print!("{}", status_table(&store.load()?, now_unix()));
            Ok(0)
        }
        AuthCommand::Logout { provider } => {
            find_provider(&provider).map_err(anyhow::Error::msg)?;
            if store.remove(&provider)? {
                println!(
                    "Signed out of {provider}: its credentials are removed from {}. \
                     To revoke the grant itself, see the provider's account settings (docs/AUTH.md).",
                    store.path().display()
                );
            } else {
                println!("{provider} had no stored credentials; nothing to remove.");
            }
            Ok(0)
        }
    }
}

async fn login_cmd(
    config: &Config,
    store: &CredentialStore,
    name: Option<&str>,
    opts: LoginOptions,
) -> Result<i32> {
    // Read the store first: a broken file is reported before any sign-in.
    let stored = store.load()?;
    let mut term = Terminal::stdin(!opts.no_browser);
    let provider = match name {
        Some(n) => find_provider(n).map_err(anyhow::Error::msg)?,
        None => pick(&stored, &mut term).await?,
    };
    let credential = login::login(&config.auth, provider, opts, &mut term)
        .await
        .with_context(|| format!("signing in to {}", provider.name))?;
    store.put(provider.name, &credential)?;
    println!(
        "Signed in to {}{} ({}). Stored in {}.",
        provider.label,
        who(&credential)
            .map(|w| format!(" as {w}"))
            .unwrap_or_default(),
        describe(&credential, now_unix()),
        store.path().display()
    );
    Ok(0)
}

/// The picker: the providers with their state, and a number read back.
async fn pick(
    stored: &BTreeMap<String, Credential>,
    term: &mut Terminal,
) -> Result<&'static Provider> {
    if !login::stdin_is_terminal() {
        let names: Vec<&str> = PROVIDERS.iter().map(|p| p.name).collect();
        bail!(
            "no --provider given, and stdin is not a terminal to pick one from; use --provider NAME ({})",
            names.join(", ")
        );
    }
    let now = now_unix();
    println!("Sign in to which provider?");
    for (i, p) in PROVIDERS.iter().enumerate() {
        let state = stored
            .get(p.name)
            .map(|c| describe(c, now))
            .unwrap_or_else(|| "none".into());
        println!("  {:>2}. {:<30} {state}", i + 1, p.label);
    }
    println!("Number:");
    let line = term.read_line().await.context("no provider was picked")?;
    match line.parse::<usize>() {
        Ok(n) if (1..=PROVIDERS.len()).contains(&n) => Ok(&PROVIDERS[n - 1]),
        _ => bail!(
            "{line:?} is not one of the numbers 1 to {}",
            PROVIDERS.len()
        ),
    }
}

/// The account or email of a credential.
fn who(c: &Credential) -> Option<String> {
    match (&c.email, &c.account_id) {
        (Some(e), Some(a)) => Some(format!("{e} ({a})")),
        (Some(e), None) => Some(e.clone()),
        (None, Some(a)) => Some(a.clone()),
        (None, None) => None,
    }
}

/// A credential's state in words: "API key", "signed in, expires …".
pub(super) fn describe(c: &Credential, now: i64) -> String {
    let when = |at: i64| {
        chrono::DateTime::from_timestamp(at, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| at.to_string())
    };
    match (c.state(now), c.expires_at) {
        (State::ApiKey, _) => "API key".into(),
        (State::SignedIn, Some(at)) => format!("signed in, expires {}", when(at)),
        (State::Expiring, Some(at)) => format!("expiring {} (refreshed on use)", when(at)),
        (State::Expired, Some(at)) if c.refresh_token.is_some() => {
            format!("expired {} (refreshed on use)", when(at))
        }
        (State::Expired, Some(at)) => format!("expired {}", when(at)),
        (_, None) => "signed in".into(),
    }
}

/// `auth status`: one row per known provider and per other stored entry.
fn status_table(stored: &BTreeMap<String, Credential>, now: i64) -> String {
    let mut rows = vec![[
        "PROVIDER".to_string(),
        "METHOD".into(),
        "ACCOUNT".into(),
        "STATE".into(),
    ]];
    let known = PROVIDERS.iter().map(|p| p.name);
    let others = stored
        .keys()
        .map(String::as_str)
        .filter(|k| PROVIDERS.iter().all(|p| p.name != *k));
    for name in known.chain(others) {
        rows.push(match stored.get(name) {
            Some(c) => [
                name.to_string(),
                match c.method {
                    Method::OAuth => "oauth".into(),
                    Method::ApiKey => "api_key".into(),
                },
                who(c).unwrap_or_else(|| "-".into()),
                describe(c, now),
            ],
            None => [name.to_string(), "-".into(), "-".into(), "none".into()],
        });
    }
    let widths: Vec<usize> = (0..4)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let line = format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_shows_method_account_and_expiry_but_no_token() {
        let mut oauth = Credential::api_key("at-secret-1".into());
        oauth.method = Method::OAuth;
        oauth.refresh_token = Some("rt-secret-2".into());
        oauth.expires_at = Some(1_000 + 3600);
        oauth.email = Some("p@example.com".into());
        oauth.extra.insert("id_token".into(), "id-secret-3".into());
        let stored = BTreeMap::from([
            ("openai".to_string(), oauth),
            (
                "gemini".to_string(),
                Credential::api_key("key-secret-4".into()),
            ),
            (
                "custom".to_string(),
                Credential::api_key("key-secret-5".into()),
            ),
        ]);
        let out = status_table(&stored, 1_000);
        assert!(!out.contains("secret"), "{out}");
        let line = |p: &str| {
            out.lines()
                .find(|l| l.starts_with(p))
                .unwrap_or_else(|| panic!("no {p} row: {out}"))
                .to_string()
        };
        let openai = line("openai");
        assert!(
            openai.contains("oauth")
                && openai.contains("p@example.com")
                && openai.contains("expires 1970-01-01 01:16 UTC"),
            "{openai}"
        );
        assert!(line("gemini").contains("API key"), "{out}");
        assert!(line("anthropic").ends_with("none"), "{out}");
        assert!(
            line("custom").contains("api_key"),
            "unknown entries are listed: {out}"
        );
    }

    #[test]
    fn expiring_and_expired_say_so() {
        let mut c = Credential::api_key("t".into());
        c.method = Method::OAuth;
        c.expires_at = Some(100);
        assert!(
            describe(&c, 200).starts_with("expired"),
            "{}",
            describe(&c, 200)
        );
        assert!(
            describe(&c, 50).starts_with("expiring"),
            "{}",
            describe(&c, 50)
        );
        c.refresh_token = Some("r".into());
        assert!(describe(&c, 200).contains("refreshed on use"));
    }
}
