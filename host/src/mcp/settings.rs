//! `[mcp]`: the MCP servers openpista uses as a client, and what its own
//! MCP server exposes.

use anyhow::{Result, bail};
use serde::Deserialize;
use std::collections::BTreeMap;

/// `[mcp]` in config.toml.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpSection {
    /// `[mcp.servers.NAME]`: servers whose tools the agent may call.
    #[serde(default)]
    pub servers: BTreeMap<String, ServerSettings>,
    /// `[mcp.serve]`: openpista's own MCP server.
    #[serde(default)]
    pub serve: ServeSettings,
}

/// One MCP server: a command (stdio) or a URL (streamable HTTP).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Off leaves the table in place without connecting.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The program of a stdio server.
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    /// The whole environment the process gets (nothing is inherited but
    /// `PATH`, which finds the program); values may use `{{secret:NAME}}`.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Its working folder (default: the workspace).
    #[serde(default)]
    pub cwd: Option<String>,
    /// The operator's consent to run the command as a plain process,
    /// outside any sandbox.
    #[serde(default)]
    pub outside_sandbox: bool,
    /// Instead: run the command inside this Docker image, with no network
    /// unless `network = true`.
    #[serde(default)]
    pub container: Option<String>,
    #[serde(default)]
    pub network: bool,
    /// The endpoint of a streamable-HTTP server.
    #[serde(default)]
    pub url: Option<String>,
    /// Headers sent to it; values may use `{{secret:NAME}}`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The hosts it may be reached at (`host[:port]`, as components'
    /// grants): the URL's host must be among them; loopback and private
    /// addresses only when an entry names the address (or `localhost`).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Seconds one call may take.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn yes() -> bool {
    true
}

fn default_timeout() -> u64 {
    60
}

/// How a server is reached, once its table is checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Transport {
    /// A process on this machine, outside the sandbox.
    Process,
    /// A process in a container of `image`.
    Container { image: String, network: bool },
    /// Streamable HTTP at `url`.
    Http { url: url::Url },
}

impl ServerSettings {
    /// Checks the table and says how the server is reached; the error
    /// names the table and what is wrong with it.
    pub fn transport(&self, name: &str) -> Result<Transport> {
        let table = format!("[mcp.servers.{name}]");
        if !valid_name(name) {
            bail!("{table}: a server name is letters, digits, '-' and '_'");
        }
        match (&self.command, &self.url) {
            (Some(_), Some(_)) => bail!("{table}: give either command (stdio) or url (HTTP)"),
            (None, None) => bail!("{table}: needs command (stdio) or url (HTTP)"),
            (None, Some(url)) => {
                let url = url::Url::parse(url)
                    .map_err(|e| anyhow::anyhow!("{table}: url {url:?}: {e}"))?;
                if !matches!(url.scheme(), "http" | "https") {
                    bail!("{table}: url must be http or https");
                }
                if url.host_str().is_none() {
                    bail!("{table}: url has no host");
                }
                Ok(Transport::Http { url })
            }
            (Some(command), None) => {
                if command.trim().is_empty() {
                    bail!("{table}: command is empty");
                }
                match (&self.container, self.outside_sandbox) {
                    (Some(_), true) => {
                        bail!("{table}: choose container or outside_sandbox, not both")
                    }
                    (Some(image), false) => Ok(Transport::Container {
                        image: image.clone(),
                        network: self.network,
                    }),
                    (None, true) => Ok(Transport::Process),
                    (None, false) => bail!(
                        "{table}: a stdio server runs outside the WASM sandbox; set \
                         outside_sandbox = true to allow it, or container = \"IMAGE\" to run \
                         it in Docker"
                    ),
                }
            }
        }
    }
}

/// A server name, as it appears in tool names (`mcp.NAME.TOOL`).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// `[mcp.serve]`: openpista as an MCP server.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeSettings {
    /// The bearer token `/mcp` on the listener requires; `{{secret:NAME}}`
    /// names a secret. Unset: `/mcp` is not served.
    #[serde(default)]
    pub token: Option<String>,
    /// Native tools to expose besides the component tools (none by
    /// default).
    #[serde(default)]
    pub native_tools: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> McpSection {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn a_stdio_server_needs_consent_or_a_container() {
        let s = parse("[servers.x]\ncommand = \"srv\"\n");
        let err = s.servers["x"].transport("x").unwrap_err().to_string();
        assert!(err.contains("outside_sandbox = true"), "{err}");
        let s = parse("[servers.x]\ncommand = \"srv\"\noutside_sandbox = true\n");
        assert_eq!(s.servers["x"].transport("x").unwrap(), Transport::Process);
        let s = parse("[servers.x]\ncommand = \"srv\"\ncontainer = \"img\"\n");
        assert_eq!(
            s.servers["x"].transport("x").unwrap(),
            Transport::Container {
                image: "img".into(),
                network: false
            }
        );
    }

    #[test]
    fn bad_tables_say_what_is_wrong() {
        let both = parse("[servers.x]\ncommand = \"a\"\nurl = \"http://h/\"\n");
        assert!(
            both.servers["x"]
                .transport("x")
                .unwrap_err()
                .to_string()
                .contains("either command")
        );
        let scheme = parse("[servers.x]\nurl = \"ftp://h/\"\n");
        assert!(
            scheme.servers["x"]
                .transport("x")
                .unwrap_err()
                .to_string()
                .contains("http or https")
        );
        let name = parse("[servers.\"a.b\"]\nurl = \"http://h/\"\n");
        assert!(
            name.servers["a.b"]
                .transport("a.b")
                .unwrap_err()
                .to_string()
                .contains("server name")
        );
        assert!(toml::from_str::<McpSection>("[servers.x]\nurls = 1\n").is_err());
    }
}
