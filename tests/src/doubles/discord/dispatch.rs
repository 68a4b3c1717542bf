//! What users do, delivered over the Gateway: [`Incoming`] messages
//! (MESSAGE_CREATE), slash commands and button presses
//! (INTERACTION_CREATE), and the dispatch log each session keeps so a
//! Resume can replay it.

use std::time::Instant;

use serde_json::{Value, json};

use super::payloads::{bot_user, timestamp, user};
use super::state::{Control, Gateway, Interaction, State};
use super::{APP_ID, BOT_ID, DiscordDouble};

/// A message a user sends, for [`DiscordDouble::dispatch_message`].
#[derive(Clone, Debug, Default)]
pub struct Incoming {
    pub channel_id: String,
    pub author_id: String,
    pub content: String,
    /// `None`: a DM.
    pub guild_id: Option<String>,
    /// User ids mentioned (the `mentions` array).
    pub mentions: Vec<String>,
    /// Replying to this message: looked up in what the bot delivered (the
    /// bot is then its author), else someone else's (user 999).
    pub reply_to: Option<String>,
    /// (filename, content type, bytes, declared size if not the bytes').
    pub attachments: Vec<(String, String, Vec<u8>, Option<u64>)>,
}

impl Incoming {
    /// A direct message in DM channel `channel_id`.
    pub fn dm(channel_id: &str, author_id: &str, content: &str) -> Incoming {
        Incoming {
            channel_id: channel_id.into(),
            author_id: author_id.into(),
            content: content.into(),
            ..Incoming::default()
        }
    }

    /// A message in a guild's text channel.
    pub fn guild(guild_id: &str, channel_id: &str, author_id: &str, content: &str) -> Incoming {
        Incoming {
            guild_id: Some(guild_id.into()),
            ..Incoming::dm(channel_id, author_id, content)
        }
    }

    /// Adds `user_id` to the `mentions` array (write `<@ID>` in the content
    /// yourself, as a client would).
    pub fn mentioning(mut self, user_id: &str) -> Incoming {
        self.mentions.push(user_id.into());
        self
    }

    /// A reply to message `message_id`.
    pub fn replying_to(mut self, message_id: &str) -> Incoming {
        self.reply_to = Some(message_id.into());
        self
    }

    /// Attaches a file, served under `/attachments/...`.
    pub fn with_attachment(
        mut self,
        filename: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Incoming {
        self.attachments
            .push((filename.into(), content_type.into(), bytes, None));
        self
    }

    /// Attaches a file whose declared `size` is `size` (for too-large files).
    pub fn with_declared_attachment(
        mut self,
        filename: &str,
        content_type: &str,
        bytes: Vec<u8>,
        size: u64,
    ) -> Incoming {
        self.attachments
            .push((filename.into(), content_type.into(), bytes, Some(size)));
        self
    }
}

impl DiscordDouble {
    /// Sends a dispatch (op 0) `t` with `d` on the current session: logged
    /// with the next `s`, written if a socket is bound to it (else kept for
    /// a Resume). Before any session, kept until READY.
    pub fn dispatch(&self, t: &str, d: Value) {
        let mut state = self.state.lock().unwrap();
        Self::dispatch_locked(&mut state.gateway, t, d);
    }

    pub(super) fn dispatch_locked(gateway: &mut Gateway, t: &str, d: Value) {
        let Some(sid) = gateway.current.clone() else {
            gateway.pending.push((t.into(), d));
            return;
        };
        let session = gateway.sessions.get_mut(&sid).unwrap();
        let s = session.log.len() as u64 + 1;
        let frame = json!({"op": 0, "d": d, "s": s, "t": t});
        session.log.push(frame.clone());
        if let Some(conn) = session.conn
            && let Some(tx) = gateway.conns.get(&conn)
        {
            let _ = tx.send(Control::Send(frame));
        }
    }

    /// A user's message (MESSAGE_CREATE); returns its id.
    pub fn dispatch_message(&self, m: Incoming) -> String {
        let mut state = self.state.lock().unwrap();
        let id = Self::next_id(&mut state);
        Self::ensure_channel(
            &mut state,
            &m.channel_id,
            m.guild_id.as_deref(),
            Some(&m.author_id),
        );
        let mut attachments = Vec::new();
        for (name, kind, bytes, size) in m.attachments {
            let aid = Self::next_id(&mut state);
            let path = format!("{}/{aid}/{name}", m.channel_id);
            let url = format!(
                "http://{}/attachments/{path}?ex=6650a1b2&is=664f5032&hm=0f1e2d3c4b5a69788796a5b4c3d2e1f0",
                self.addr
            );
            attachments.push(json!({
                "id": aid, "filename": name, "size": size.unwrap_or(bytes.len() as u64),
                "url": url, "proxy_url": url, "content_type": kind,
            }));
            state.files.insert(path, (kind, bytes));
        }
        let mentions: Vec<Value> = m
            .mentions
            .iter()
            .map(|u| if u == BOT_ID { bot_user() } else { user(u) })
            .collect();
        let mut d = json!({
            "id": id, "type": 0, "channel_id": m.channel_id, "author": user(&m.author_id),
            "content": m.content, "timestamp": timestamp(), "edited_timestamp": null,
            "tts": false, "mention_everyone": false, "mentions": mentions, "mention_roles": [],
            "attachments": attachments, "embeds": [], "pinned": false, "flags": 0,
            "components": [], "nonce": format!("n{id}"),
        });
        if let Some(g) = &m.guild_id {
            d["guild_id"] = json!(g);
            d["member"] = json!({"roles": [], "joined_at": timestamp(), "deaf": false,
                "mute": false, "flags": 0, "nick": null});
        }
        if let Some(reply) = &m.reply_to {
            let referenced = state.delivered.iter().find(|x| &x.id == reply).map(|x| {
                json!({
                    "id": x.id, "type": 0, "channel_id": x.channel_id, "author": bot_user(),
                    "content": x.content, "timestamp": timestamp(), "edited_timestamp": null,
                    "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
                    "attachments": [], "embeds": [], "pinned": false, "flags": 0,
                    "components": x.components,
                })
            });
            let referenced = referenced.unwrap_or_else(|| {
                json!({"id": reply, "type": 0, "channel_id": m.channel_id, "author": user("999"),
                    "content": "", "timestamp": timestamp(), "mentions": [], "attachments": [],
                    "embeds": []})
            });
            d["type"] = json!(19);
            d["message_reference"] = json!({
                "type": 0, "message_id": reply, "channel_id": m.channel_id, "guild_id": m.guild_id,
            });
            d["referenced_message"] = referenced;
        }
        Self::dispatch_locked(&mut state.gateway, "MESSAGE_CREATE", d);
        id
    }

    /// A slash command `name` with `options` (`[{name, type, value}]`) from
    /// `user_id` in `channel_id` (a guild's when `guild_id`); returns the
    /// interaction's (id, token).
    pub fn dispatch_command(
        &self,
        channel_id: &str,
        user_id: &str,
        guild_id: Option<&str>,
        name: &str,
        options: Value,
    ) -> (String, String) {
        let mut state = self.state.lock().unwrap();
        let command_id = state
            .commands
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["id"].clone())
            .unwrap_or(json!("1"));
        let data = json!({"id": command_id, "name": name, "type": 1, "options": options});
        Self::interaction_locked(&mut state, channel_id, user_id, guild_id, 2, data, None)
    }

    /// A press of the button `custom_id` on the bot's message `message_id`
    /// (type 3); returns the interaction's (id, token).
    pub fn dispatch_button(
        &self,
        channel_id: &str,
        user_id: &str,
        guild_id: Option<&str>,
        message_id: &str,
        custom_id: &str,
    ) -> (String, String) {
        let mut state = self.state.lock().unwrap();
        let data = json!({"custom_id": custom_id, "component_type": 2});
        Self::interaction_locked(
            &mut state,
            channel_id,
            user_id,
            guild_id,
            3,
            data,
            Some(message_id.to_string()),
        )
    }

    fn interaction_locked(
        state: &mut State,
        channel_id: &str,
        user_id: &str,
        guild_id: Option<&str>,
        kind: u64,
        data: Value,
        message_id: Option<String>,
    ) -> (String, String) {
        Self::ensure_channel(state, channel_id, guild_id, Some(user_id));
        let id = Self::next_id(state);
        let token = format!("aW50ZXJhY3Rpb246{id}:dGhpcyBpcyBhIHRva2Vu");
        let channel = state.channels[channel_id].clone();
        let mut d = json!({
            "id": id, "application_id": APP_ID, "type": kind, "data": data,
            "channel_id": channel_id, "channel": channel, "token": token, "version": 1,
            "app_permissions": "2248473465835073", "locale": "en-US", "entitlements": [],
            "authorizing_integration_owners": {"0": "1"}, "context": if guild_id.is_some() { 0 } else { 1 },
        });
        match guild_id {
            Some(g) => {
                d["guild_id"] = json!(g);
                d["guild_locale"] = json!("en-US");
                d["member"] = json!({"user": user(user_id), "roles": [], "joined_at": timestamp(),
                    "deaf": false, "mute": false, "flags": 0, "nick": null,
                    "permissions": "2248473465835073"});
            }
            None => d["user"] = user(user_id),
        }
        if let Some(mid) = &message_id {
            let message = state
                .delivered
                .iter()
                .find(|x| &x.id == mid)
                .map(|x| {
                    json!({"id": x.id, "type": 0, "channel_id": x.channel_id, "author": bot_user(),
                        "content": x.content, "components": x.components, "timestamp": timestamp(),
                        "mentions": [], "attachments": [], "embeds": [], "flags": 0})
                })
                .unwrap_or_else(|| {
                    json!({"id": mid, "type": 0, "channel_id": channel_id, "author": bot_user(),
                        "content": "", "components": [], "timestamp": timestamp(),
                        "mentions": [], "attachments": [], "embeds": [], "flags": 0})
                });
            d["message"] = message;
        }
        state.interactions.insert(
            id.clone(),
            Interaction {
                token: token.clone(),
                channel_id: channel_id.into(),
                dispatched: Instant::now(),
                acked: None,
                original: message_id,
            },
        );
        Self::dispatch_locked(&mut state.gateway, "INTERACTION_CREATE", d);
        (id, token)
    }
}
