//! The configuration of an in-process host whose only channel is Slack
//! on the double.

use super::{SIGNING_SECRET, SlackDouble};

impl SlackDouble {
    /// The configuration of an in-process host in `root` whose only
    /// channel is Slack on this double in `mode` (`"events"` or
    /// `"socket"`), with the double's tokens and [`SIGNING_SECRET`],
    /// `allowed_users`, pairing on, answered by the offline echo provider.
    /// The host's server listens on `127.0.0.1:0` (the Events API's
    /// routes are on it; read it with `Running::local_addr`). `extra` is
    /// TOML inside `[channels.slack]` until it opens another table.
    pub fn host_config(
        &self,
        root: &std::path::Path,
        mode: &str,
        allowed_users: &[&str],
        extra: &str,
    ) -> openpista::config::Config {
        openpista::config::Config::parse(
            &self.host_config_text(root, mode, allowed_users, extra),
            "test config",
        )
        .unwrap()
    }

    /// The TOML [`SlackDouble::host_config`] parses.
    pub fn host_config_text(
        &self,
        root: &std::path::Path,
        mode: &str,
        allowed_users: &[&str],
        extra: &str,
    ) -> String {
        let allowed: Vec<String> = allowed_users.iter().map(|u| format!("\"{u}\"")).collect();
        format!(
            "[agent]\nprovider = \"echo\"\n[runtime]\nplugin_dirs = []\ncache_dir = \"{root}/cache\"\n\
             [memory]\npath = \"{root}/memory.redb\"\n[server]\nenabled = true\nlisten = \"127.0.0.1:0\"\n\
             [channels.web]\nenabled = false\n[channels.slack]\nenabled = true\n\
             bot_token = \"{bot}\"\napp_token = \"{app}\"\nsigning_secret = \"{SIGNING_SECRET}\"\n\
             mode = \"{mode}\"\napi_url = \"{api}\"\nallowed_users = [{allowed}]\n\
             pairing = true\nmax_file_bytes = 8388608\n{extra}\n",
            root = root.display(),
            bot = self.bot_token,
            app = self.app_token,
            api = self.api_url(),
            allowed = allowed.join(", "),
        )
    }
}
