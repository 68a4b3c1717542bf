//! The control socket of a running `openpista serve`
//! (`~/.openpista/control.sock`): `component list` and `component reload`
//! talk to it, and so do `pairing`, `telegram status` and `whatsapp
//! status|pair`, whose channel's memory only the running server can open;
//! one JSON request and one JSON answer per line.

use crate::runtime::{ComponentStatus, Runtime};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

#[derive(Serialize, Deserialize, Debug)]
#[serde(tag = "cmd", rename_all = "lowercase")]
pub enum Request {
    List,
    Reload {
        name: String,
    },
    /// A pairing action or a report (`openpista pairing ...`, `telegram
    /// status`), carried out by the channel's component on the running
    /// server, whose memory only it can open.
    Channel {
        channel: String,
        action: super::channel_cmds::ChannelAction,
    },
    /// The skills and whether each is available.
    Skills,
    /// The MCP servers' state, tools and last errors.
    Mcp,
    /// A line for a component's bridge (`whatsapp pair --phone`), sent on
    /// the connection the host holds for it.
    BridgeSend {
        component: String,
        line: String,
    },
    /// Worker tasks (`worker list`), or one with its reports (`worker show`).
    Workers {
        #[serde(default)]
        task: Option<String>,
    },
}

#[derive(Serialize, Deserialize, Debug)]
pub struct StatusRow {
    pub name: String,
    pub version: Option<String>,
    pub hash: Option<String>,
    pub world: Option<String>,
    pub wit_version: Option<String>,
    pub source: Option<String>,
    /// `embedded`, `unsigned` or `signed by ed25519:…`.
    #[serde(default)]
    pub provenance: Option<String>,
    pub capabilities: Option<String>,
    pub tools: Vec<String>,
    pub state: String,
    pub last_error: Option<String>,
}

impl From<ComponentStatus> for StatusRow {
    fn from(s: ComponentStatus) -> Self {
        StatusRow {
            name: s.name,
            version: s.version,
            hash: s.hash,
            world: s.world.map(|w| w.to_string()),
            wit_version: s.wit_version,
            source: s.source,
            provenance: s.provenance,
            capabilities: s.capabilities,
            tools: s.tools,
            state: format!("{:?}", s.state).to_lowercase(),
            last_error: s.last_error,
        }
    }
}

#[derive(Serialize, Deserialize, Debug)]
pub struct Response {
    pub ok: bool,
    pub error: Option<String>,
    pub components: Vec<StatusRow>,
    /// What a `pairing` or `kv` request answers.
    #[serde(default)]
    pub data: Option<serde_json::Value>,
}

impl Response {
    fn data(result: Result<serde_json::Value>) -> Response {
        match result {
            Ok(v) => Response {
                ok: true,
                error: None,
                components: Vec::new(),
                data: Some(v),
            },
            Err(e) => Response {
                ok: false,
                error: Some(format!("{e:#}")),
                components: Vec::new(),
                data: None,
            },
        }
    }
}

/// Stops listening when dropped.
pub struct ControlHandle(tokio::task::JoinHandle<()>);

impl Drop for ControlHandle {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Listens on `path` (replacing a stale socket).
pub fn serve(
    runtime: Arc<Runtime>,
    skills: Option<Arc<crate::skills::SkillSet>>,
    mcp: Option<Arc<crate::mcp::McpClients>>,
    path: &Path,
) -> Result<ControlHandle> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let _ = std::fs::remove_file(path);
    let listener =
        UnixListener::bind(path).with_context(|| format!("cannot listen on {}", path.display()))?;
    // The socket approves pairing codes and reads components' memory:
    // only this user may connect.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict {}", path.display()))?;
    }
    Ok(ControlHandle(tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let runtime = runtime.clone();
            let skills = skills.clone();
            let mcp = mcp.clone();
            tokio::spawn(async move {
                if let Err(e) = answer(runtime, skills, mcp, stream).await {
                    tracing::warn!("control socket: {e:#}");
                }
            });
        }
    })))
}

async fn answer(
    runtime: Arc<Runtime>,
    skills: Option<Arc<crate::skills::SkillSet>>,
    mcp: Option<Arc<crate::mcp::McpClients>>,
    stream: UnixStream,
) -> Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Some(line) = lines.next_line().await? {
        let response = match serde_json::from_str::<Request>(&line) {
            Err(e) => Response {
                ok: false,
                error: Some(format!("malformed request: {e}")),
                components: Vec::new(),
                data: None,
            },
            Ok(Request::List) => Response {
                ok: true,
                error: None,
                components: runtime.status().into_iter().map(Into::into).collect(),
                data: None,
            },
            Ok(Request::Reload { name }) => {
                let result = runtime.reload(&name).await;
                Response {
                    ok: result.is_ok(),
                    error: result.err().map(|e| format!("{e:#}")),
                    components: runtime
                        .status()
                        .into_iter()
                        .filter(|s| s.name == name)
                        .map(Into::into)
                        .collect(),
                    data: None,
                }
            }
            Ok(Request::Channel { channel, action }) => Response::data(
                super::channel_cmds::channel_action(&runtime, &channel, &action).await,
            ),
            Ok(Request::BridgeSend { component, line }) => {
                Response::data(bridge_send(&runtime, &component, line))
            }
            Ok(Request::Skills) => Response::data(
                skills
                    .as_ref()
                    .map(|s| serde_json::to_value(s.skills()).map_err(Into::into))
                    .unwrap_or_else(|| Ok(serde_json::json!([]))),
            ),
            Ok(Request::Workers { task }) => Response::data(match runtime.memory() {
                Some(store) => crate::native::container::reports::history(store, task.as_deref()),
                None => Err(anyhow::anyhow!("this server keeps no memory database")),
            }),
            Ok(Request::Mcp) => Response::data(
                serde_json::to_value(mcp.as_ref().map(|m| m.status()).unwrap_or_default())
                    .map_err(Into::into),
            ),
        };
        let mut text = serde_json::to_string(&response)?;
        text.push('\n');
        write.write_all(text.as_bytes()).await?;
    }
    Ok(())
}

/// Sends `line` on the bridge connection `component` uses.
fn bridge_send(runtime: &Runtime, component: &str, line: String) -> Result<serde_json::Value> {
    use crate::runtime::bindings::channel::openpista::plugin::connections::Frame;
    use crate::runtime::connections::Outgoing;
    let id = *runtime
        .connections()
        .owned_by(component)
        .first()
        .with_context(|| format!("{component} has no bridge running"))?;
    runtime
        .connections()
        .send(component, id, Outgoing::Frame(Frame::Text(line)))
        .map_err(|e| anyhow::anyhow!(crate::runtime::bindings::error_text(&e)))?;
    Ok(serde_json::Value::Bool(true))
}

/// Sends one request to a running server; `None` when none is listening.
pub async fn request(path: &Path, request: &Request) -> Result<Option<Response>> {
    let Ok(stream) = UnixStream::connect(path).await else {
        return Ok(None);
    };
    let (read, mut write) = stream.into_split();
    let mut text = serde_json::to_string(request)?;
    text.push('\n');
    write.write_all(text.as_bytes()).await?;
    let mut lines = BufReader::new(read).lines();
    let line = lines
        .next_line()
        .await?
        .context("the server closed the control socket without answering")?;
    Ok(Some(serde_json::from_str(&line)?))
}
