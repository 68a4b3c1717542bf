//! Local stand-ins for the services the components speak to (language-model
//! providers and their sign-in endpoints, the Telegram Bot API, Discord's
//! REST API and Gateway, Slack's Web API and Socket Mode). Each listens on
//! 127.0.0.1 at a random port, speaks the real wire format (JSON and server-sent events, streamed with chunked transfer
//! encoding), answers from a queue of scripted replies and records every
//! request so a test can check what the component (and the host) sent.

pub mod anthropic;
pub mod discord;
pub mod http1;
pub mod oauth;
pub mod openai;
pub mod responses;
pub mod slack;
pub mod telegram;
