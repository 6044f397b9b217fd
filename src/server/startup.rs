//! Connection startup: from the first byte to the first ReadyForQuery.
//!
//! ```text
//!   client                         server
//!   SSLRequest / GSSENCRequest ──►
//!                              ◄── 'N' (no encryption; the client goes on in clear)
//!   CancelRequest ──►              (ignored: the connection is closed)
//!   StartupMessage(user, …)    ──►
//!                              ◄── [NegotiateProtocolVersion if it asked for 3.x>0]
//!                              ◄── AuthenticationOk (trust: anyone may connect)
//!                              ◄── ParameterStatus × 13, as PostgreSQL 15 sends them
//!                              ◄── BackendKeyData (random; cancel is not supported)
//!                              ◄── ReadyForQuery('I')
//! ```
//!
//! The ParameterStatus set matters to drivers: libpq derives
//! `PQserverVersion` from `server_version`, pgJDBC insists on
//! `client_encoding=UTF8` and a `DateStyle` starting with `ISO`, and
//! `standard_conforming_strings=on` tells clients how to quote strings.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::response::{GssEncResponse, SslResponse};
use pgwire::messages::startup::{
    Authentication, BackendKeyData, NegotiateProtocolVersion, ParameterStatus, SecretKey,
};

use crate::error::SqlState;

use super::connection::{Connection, Input};
use super::frontend::{self, PROTOCOL_MAJOR, StartupPacket};

/// The version reported in `server_version`: libpq parses the leading
/// `15.18` as 150018, so clients treat basalt as PostgreSQL 15.
pub const SERVER_VERSION: &str = crate::sql::session::SERVER_VERSION;

impl Connection {
    /// Runs the startup phase. `Ok(true)` means the session is ready for
    /// queries; `Ok(false)` means the connection should close (after any
    /// queued FATAL error is flushed).
    pub(super) fn startup(&mut self) -> std::io::Result<bool> {
        loop {
            let body = match frontend::take_startup_packet(&mut self.read_buffer) {
                Ok(Some(body)) => body,
                Ok(None) => match self.read_input()? {
                    Input::Data => continue,
                    Input::Closed | Input::Shutdown => return Ok(false),
                },
                Err(frame_error) => {
                    tracing::debug!(peer = %self.peer, error = %frame_error.message, "bad startup packet");
                    self.send_fatal(SqlState::PROTOCOL_VIOLATION, &frame_error.message);
                    return Ok(false);
                }
            };
            let packet = match frontend::decode_startup_packet(body) {
                Ok(packet) => packet,
                Err(error) => {
                    self.send_fatal(error.sqlstate(), &error.to_string());
                    return Ok(false);
                }
            };
            match packet {
                StartupPacket::SslRequest => {
                    self.send(PgWireBackendMessage::SslResponse(SslResponse::Refuse));
                    self.flush()?;
                }
                StartupPacket::GssEncRequest => {
                    self.send(PgWireBackendMessage::GssEncResponse(GssEncResponse::Refuse));
                    self.flush()?;
                }
                StartupPacket::CancelRequest => {
                    tracing::debug!(peer = %self.peer, "cancel request ignored");
                    return Ok(false);
                }
                StartupPacket::Startup {
                    major,
                    minor,
                    parameters,
                } => {
                    return Ok(self.accept_startup(major, minor, &parameters));
                }
            }
        }
    }

    /// Answers a StartupMessage: rejects unsupported protocols and missing
    /// users, otherwise queues the greeting up to ReadyForQuery.
    fn accept_startup(&mut self, major: u16, minor: u16, parameters: &[(String, String)]) -> bool {
        if major != PROTOCOL_MAJOR {
            self.send_fatal(
                SqlState::FEATURE_NOT_SUPPORTED,
                &format!(
                    "unsupported frontend protocol {major}.{minor}: server supports 3.0 to 3.0"
                ),
            );
            return false;
        }
        let parameter = |name: &str| {
            parameters
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        let Some(user) = parameter("user").filter(|user| !user.is_empty()) else {
            self.send_fatal(
                SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
                "no PostgreSQL user name specified in startup packet",
            );
            return false;
        };
        if self.refused {
            self.send_fatal(
                SqlState::TOO_MANY_CONNECTIONS,
                "sorry, too many clients already",
            );
            return false;
        }
        let user = user.to_string();
        // PostgreSQL's default database is the user's name.
        let database = parameter("database")
            .filter(|database| !database.is_empty())
            .unwrap_or(&user)
            .to_string();
        let application_name = parameter("application_name")
            .unwrap_or_default()
            .to_string();

        // Protocol 3.0 is all basalt speaks. A client asking for a newer
        // minor version or for protocol options (`_pq_.*`) is told so, as
        // PostgreSQL does, and continues at 3.0.
        let unsupported_options: Vec<String> = parameters
            .iter()
            .filter(|(key, _)| key.starts_with("_pq_."))
            .map(|(key, _)| key.clone())
            .collect();
        if minor > 0 || !unsupported_options.is_empty() {
            self.send(PgWireBackendMessage::NegotiateProtocolVersion(
                NegotiateProtocolVersion::new(0, unsupported_options),
            ));
        }

        self.send(PgWireBackendMessage::Authentication(Authentication::Ok));
        for (name, value) in parameter_statuses(&user, &application_name) {
            self.send(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
                name, value,
            )));
        }
        let (process_id, secret) = random_backend_key();
        if let Some(session) = self.session.as_mut() {
            session.set_identity(crate::sql::session::Identity {
                user: user.clone(),
                database,
                backend_pid: process_id,
            });
        }
        self.send(PgWireBackendMessage::BackendKeyData(BackendKeyData::new(
            process_id,
            SecretKey::I32(secret),
        )));
        self.send_ready_for_query();
        tracing::debug!(peer = %self.peer, %user, "session started");
        true
    }
}

/// The ParameterStatus messages PostgreSQL 15 sends after authentication,
/// in its order.
pub fn parameter_statuses(user: &str, application_name: &str) -> Vec<(String, String)> {
    [
        ("application_name", application_name),
        ("client_encoding", "UTF8"),
        ("DateStyle", "ISO, MDY"),
        ("default_transaction_read_only", "off"),
        ("in_hot_standby", "off"),
        ("integer_datetimes", "on"),
        ("IntervalStyle", "postgres"),
        ("is_superuser", "on"),
        ("server_encoding", "UTF8"),
        ("server_version", SERVER_VERSION),
        ("session_authorization", user),
        ("standard_conforming_strings", "on"),
        ("TimeZone", "UTC"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value.to_string()))
    .collect()
}

/// A random positive process id and secret for BackendKeyData. Nothing
/// checks them (cancel requests are ignored), but PostgreSQL clients expect
/// distinct values per connection. `RandomState` is randomly seeded per
/// instance, which is randomness enough without another dependency.
fn random_backend_key() -> (i32, i32) {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(0x62_61_73_61_6c_74);
    let bits = hasher.finish();
    let process_id = ((bits >> 32) as i32 & i32::MAX).max(1);
    let secret = bits as i32;
    (process_id, secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_statuses_match_postgres() {
        let statuses = parameter_statuses("alice", "app");
        let get = |name: &str| {
            statuses
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        assert_eq!(statuses.len(), 13);
        assert_eq!(get("DateStyle"), Some("ISO, MDY"));
        assert_eq!(get("session_authorization"), Some("alice"));
        assert_eq!(get("application_name"), Some("app"));
        assert!(get("server_version").is_some_and(|version| version.starts_with("15.")));
    }

    #[test]
    fn backend_keys_are_positive() {
        for _ in 0..100 {
            assert!(random_backend_key().0 > 0);
        }
    }
}
