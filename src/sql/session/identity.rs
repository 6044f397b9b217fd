//! Who a session is: the user and database the client named at startup,
//! and the process id it was told (BackendKeyData), for `current_user`,
//! `current_database()` and `pg_backend_pid()`.

use super::SERVER_VERSION;

/// A session's identity, fixed for its life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub database: String,
    pub backend_pid: i32,
}

impl Default for Identity {
    /// An in-process session's: the names `psql` would default to for
    /// the README's examples, and this process's id.
    fn default() -> Identity {
        Identity {
            user: "basalt".to_string(),
            database: "basalt".to_string(),
            backend_pid: std::process::id() as i32,
        }
    }
}

/// `version()`: clients parse the leading `PostgreSQL 15.18`, as they
/// parse `server_version`.
pub fn version_string() -> String {
    format!(
        "PostgreSQL {SERVER_VERSION} {} on {}-{}, compiled by rustc, 64-bit",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}
