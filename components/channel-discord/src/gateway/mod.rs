//! The Gateway (v10): payloads ([`frames`]), close codes ([`close`]), the
//! send limit ([`budget`]) and the connection's state machine
//! ([`session`]). None of it calls the host.

pub mod budget;
pub mod close;
pub mod frames;
pub mod session;
