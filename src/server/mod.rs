//! Server: the PostgreSQL wire-protocol front end (placeholder until the
//! server module lands).
