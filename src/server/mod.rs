//! The PostgreSQL wire-protocol front end: the only async part of basalt.
//!
//! ```text
//!   listener.rs   serve(): accept loop, graceful shutdown, signals
//!      │ one thread per client
//!   connection.rs Connection: buffers, main loop, simple query, errors
//!   startup.rs      SSL/GSS refusal, StartupMessage, ParameterStatus
//!   extended.rs     Parse/Bind/Describe/Execute/Close/Sync, portals
//!   frontend.rs   framing and bounds-checked decoding of client messages
//!   values.rs     parameters in, DataRow/RowDescription out (text, binary)
//! ```
//!
//! basalt runs its own protocol state machine. From pgwire it uses only the
//! backend message types and their encoders (`pgwire::messages`); client
//! messages are framed and decoded here because pgwire's decoders can panic
//! on truncated bodies. The protocol follows PostgreSQL 15: trust
//! authentication, no TLS (SSLRequest is answered `N`), text and binary
//! formats, skip-until-Sync after extended-protocol errors, and SQLSTATEs
//! from [`crate::Error::sqlstate`].
//!
//! Accepting is async (tokio); each connection then has a thread of its
//! own that owns one [`crate::sql::session::Session`], reads and writes
//! its socket blocking and runs its statements, so a slow statement
//! never stalls other clients.
//!
//! Entry points: [`serve`] (tests run it on `127.0.0.1:0` with an in-memory
//! database) and [`ShutdownSignal`] (what the `basalt serve` binary passes
//! as the shutdown future).

mod connection;
mod extended;
mod frontend;
mod listener;
mod startup;
mod values;

pub use listener::{
    DEFAULT_MAX_CONNECTIONS, SHUTDOWN_GRACE, ServerSettings, ShutdownSignal, serve, serve_with,
};
pub use startup::SERVER_VERSION;
