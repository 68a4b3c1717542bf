//! `[channels.whatsapp]`: WhatsApp through the Node.js Baileys bridge
//! (`bridges/whatsapp`), which the host runs and supervises; the protocol
//! is the `channel-whatsapp` component's.

use crate::runtime::capabilities::ComponentPolicy;
use anyhow::{Result, bail};
use serde::Deserialize;
use std::path::PathBuf;

/// The component that speaks the bridge's protocol.
pub const COMPONENT: &str = crate::server::WHATSAPP_COMPONENT;

/// `[channels.whatsapp]` as written in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WhatsAppSection {
    pub enabled: bool,
    /// Where the bridge keeps the linked device's credentials.
    pub session_dir: String,
    /// The bridge's folder (with `bridge.mjs`); found beside the binary's
    /// source or in `~/.openpista/bridges/whatsapp` when unset.
    pub bridge_path: Option<String>,
    /// The Node.js binary.
    pub node: String,
    /// Phone numbers (`+1 555 123 4567`) or JIDs always let through.
    pub allowed_users: Vec<String>,
    /// Offer unknown senders a pairing code.
    pub pairing: bool,
    /// Incoming media larger than this are described, not attached.
    pub max_media_bytes: u64,
}

impl Default for WhatsAppSection {
    fn default() -> Self {
        WhatsAppSection {
            enabled: false,
            session_dir: "~/.openpista/whatsapp".into(),
            bridge_path: None,
            node: "node".into(),
            allowed_users: Vec::new(),
            pairing: true,
            max_media_bytes: 5 * 1024 * 1024,
        }
    }
}

/// The effective settings, with `WHATSAPP_SESSION_DIR` and
/// `WHATSAPP_BRIDGE_PATH` applied.
#[derive(Debug, Clone)]
pub struct WhatsAppSettings {
    pub enabled: bool,
    pub session_dir: PathBuf,
    pub bridge_path: PathBuf,
    pub node: String,
    pub allowed_users: Vec<String>,
    pub pairing: bool,
    pub max_media_bytes: u64,
}

/// Where the bridge is when nothing says: the source tree this binary was
/// built from (a checkout), else the user's openpista folder.
fn default_bridge_path() -> PathBuf {
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bridges/whatsapp");
    if source.join("bridge.mjs").is_file() {
        return source.canonicalize().unwrap_or(source);
    }
    crate::paths::home_dir().join("bridges/whatsapp")
}

impl WhatsAppSection {
    pub fn resolve(&self) -> Result<WhatsAppSettings> {
        self.resolve_with(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
    }

    /// [`WhatsAppSection::resolve`] with the environment as a function.
    pub fn resolve_with(&self, env: impl Fn(&str) -> Option<String>) -> Result<WhatsAppSettings> {
        let session_dir = env("WHATSAPP_SESSION_DIR").unwrap_or_else(|| self.session_dir.clone());
        let bridge_path = env("WHATSAPP_BRIDGE_PATH")
            .or_else(|| self.bridge_path.clone())
            .map(|p| crate::paths::expand(&p))
            .unwrap_or_else(default_bridge_path);
        if self.node.trim().is_empty() {
            bail!("[channels.whatsapp] node must name the Node.js binary");
        }
        if self.max_media_bytes == 0 {
            bail!("[channels.whatsapp] max_media_bytes must be at least 1");
        }
        for user in &self.allowed_users {
            let digits = user.chars().filter(char::is_ascii_digit).count();
            if digits == 0 {
                bail!(
                    "[channels.whatsapp] allowed_users: {user:?} is neither a phone number nor a JID"
                );
            }
        }
        Ok(WhatsAppSettings {
            enabled: self.enabled,
            session_dir: crate::paths::expand(&session_dir),
            bridge_path,
            node: self.node.clone(),
            allowed_users: self.allowed_users.clone(),
            pairing: self.pairing,
            max_media_bytes: self.max_media_bytes,
        })
    }
}

impl WhatsAppSettings {
    /// The bridge's entry script.
    pub fn script(&self) -> PathBuf {
        self.bridge_path.join("bridge.mjs")
    }

    /// Why the bridge cannot start here, with the command that fixes it.
    pub fn preflight(&self) -> Result<(), String> {
        if crate::native::which(&self.node).is_none() && !PathBuf::from(&self.node).is_file() {
            return Err(format!(
                "Node.js ({}) is not installed or not on PATH; install Node.js 20 or newer (Debian: apt-get install nodejs npm)",
                self.node
            ));
        }
        if !self.script().is_file() {
            return Err(format!(
                "the WhatsApp bridge is not at {} (set [channels.whatsapp] bridge_path or WHATSAPP_BRIDGE_PATH)",
                self.script().display()
            ));
        }
        if self.bridge_path.join("package.json").is_file()
            && !self.bridge_path.join("node_modules").is_dir()
        {
            return Err(format!(
                "the WhatsApp bridge's packages are not installed: run `npm ci --prefix {}`",
                self.bridge_path.display()
            ));
        }
        Ok(())
    }

    /// The `channel-whatsapp` policy: no hosts (the bridge does the
    /// networking), the settings as `[config]` strings.
    pub fn policy(&self) -> ComponentPolicy {
        let mut policy = ComponentPolicy {
            enabled: Some(self.enabled),
            ..ComponentPolicy::default()
        };
        let mut set = |k: &str, v: String| {
            policy.config.insert(k.into(), toml::Value::String(v));
        };
        set("allowed_users", self.allowed_users.join(","));
        set("pairing", self.pairing.to_string());
        set("max_media_bytes", self.max_media_bytes.to_string());
        policy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_overrides_the_folders() {
        let s: WhatsAppSection =
            toml::from_str("enabled = true\nallowed_users = [\"+1 555 123 4567\"]").unwrap();
        let r = s
            .resolve_with(|v| match v {
                "WHATSAPP_SESSION_DIR" => Some("/tmp/wa-session".into()),
                "WHATSAPP_BRIDGE_PATH" => Some("/tmp/wa-bridge".into()),
                _ => None,
            })
            .unwrap();
        assert_eq!(r.session_dir, PathBuf::from("/tmp/wa-session"));
        assert_eq!(r.script(), PathBuf::from("/tmp/wa-bridge/bridge.mjs"));
        let p = r.policy();
        assert_eq!(p.enabled, Some(true));
        assert_eq!(p.config["allowed_users"].as_str(), Some("+1 555 123 4567"));
        let e = r.preflight().unwrap_err();
        assert!(
            e.contains("/tmp/wa-bridge/bridge.mjs") || e.contains("Node.js"),
            "{e}"
        );
    }

    #[test]
    fn bad_values_are_named() {
        let s: WhatsAppSection = toml::from_str("allowed_users = [\"bob\"]").unwrap();
        let e = s.resolve_with(|_| None).unwrap_err().to_string();
        assert!(e.contains("bob"), "{e}");
        assert!(toml::from_str::<WhatsAppSection>("sesion_dir = \"x\"").is_err());
    }

    #[test]
    fn missing_packages_name_the_install_command() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bridge.mjs"), "").unwrap();
        std::fs::write(dir.path().join("package.json"), "{}").unwrap();
        let s = WhatsAppSection {
            bridge_path: Some(dir.path().display().to_string()),
            node: "sh".into(),
            ..WhatsAppSection::default()
        }
        .resolve_with(|_| None)
        .unwrap();
        let e = s.preflight().unwrap_err();
        assert!(e.contains("npm ci --prefix"), "{e}");
        std::fs::create_dir(dir.path().join("node_modules")).unwrap();
        assert_eq!(s.preflight(), Ok(()));
    }
}
