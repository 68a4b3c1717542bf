//! The host configuration a test starts against the double: the Discord
//! channel pointed at this double's REST API, with the echo provider or
//! an agent of the test's choosing.

use super::DiscordDouble;

impl DiscordDouble {
    /// The configuration of an in-process host in `root` whose only
    /// channel is Discord on this double (bot `token`, `allowed_users`),
    /// answered by the offline echo provider, plus `extra` (TOML, inside
    /// `[channels.discord]` until it opens another table).
    pub fn host_config(
        &self,
        root: &std::path::Path,
        token: &str,
        allowed_users: &[&str],
        extra: &str,
    ) -> openpista::config::Config {
        self.host_config_with_agent(root, token, allowed_users, "provider = \"echo\"", extra)
    }

    /// Like [`DiscordDouble::host_config`] with `agent` as the body of
    /// `[agent]` (a provider declared in `extra` as `[providers.NAME]`).
    pub fn host_config_with_agent(
        &self,
        root: &std::path::Path,
        token: &str,
        allowed_users: &[&str],
        agent: &str,
        extra: &str,
    ) -> openpista::config::Config {
        openpista::config::Config::parse(
            &self.host_config_text(root, token, allowed_users, agent, extra),
            "test config",
        )
        .unwrap()
    }

    /// The TOML [`DiscordDouble::host_config_with_agent`] parses.
    pub fn host_config_text(
        &self,
        root: &std::path::Path,
        token: &str,
        allowed_users: &[&str],
        agent: &str,
        extra: &str,
    ) -> String {
        let allowed: Vec<String> = allowed_users.iter().map(|u| format!("\"{u}\"")).collect();
        format!(
            "[agent]\n{agent}\n[runtime]\nplugin_dirs = []\ncache_dir = \"{root}/cache\"\n\
             [memory]\npath = \"{root}/memory.redb\"\n[server]\nenabled = false\n\
             [channels.web]\nenabled = false\n[channels.discord]\nenabled = true\n\
             token = \"{token}\"\napi_url = \"{api}\"\nallowed_users = [{allowed}]\n\
             pairing = true\nmax_attachment_bytes = 8388608\n{extra}\n",
            root = root.display(),
            api = self.api_url(),
            allowed = allowed.join(", "),
        )
    }
}
