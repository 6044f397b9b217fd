//! One client connection: its byte buffers, its SQL [`Session`], and the
//! state machine of the PostgreSQL v3 protocol after startup.
//!
//! ```text
//!   startup (startup.rs) ──► loop {
//!       take a frame ──► decode ──► dispatch
//!         Query                   → simple query (this file)
//!         Parse/Bind/Describe/
//!         Execute/Close/Sync/Flush → extended query (extended.rs)
//!         Terminate / EOF / FATAL  → close
//!       no complete frame? flush output, then wait for bytes or shutdown
//!   }
//! ```
//!
//! Output is buffered and written when the server is about to wait for
//! input, on Flush, and whenever the buffer grows past [`FLUSH_THRESHOLD`];
//! a pipelining client thus gets its responses in few writes while a client
//! waiting for a reply always receives it.
//!
//! A connection has a thread of its own, as a PostgreSQL backend has a
//! process: it blocks on its socket while the client is quiet and runs
//! its statements itself, which may block on locks or disk without holding
//! up anyone else. A statement then costs the server one wake-up (the read
//! returning), where handing each statement from an async task to a pool
//! thread and back cost three; on a small machine those thread switches
//! were the largest single cost of a short lookup. Engine calls go through
//! [`Connection::with_session`], the panic boundary: if one panics, the
//! session is gone and the connection is closed; the server keeps running.
//!
//! Errors follow PostgreSQL: a SQL error is an ErrorResponse with severity
//! `ERROR` and the connection continues; a broken frame or an unexpected
//! message type is severity `FATAL` and the connection is closed.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::BytesMut;
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::data::{NoData, RowDescription};
use pgwire::messages::response::{
    CommandComplete, EmptyQueryResponse, ErrorResponse, NoticeResponse, ReadyForQuery,
    TransactionStatus as WireTransactionStatus,
};

use crate::database::Database;
use crate::error::{Error, Result, SqlState};
use crate::sql::parser::ParsedStatement;
use crate::sql::{Column, Cursor, Notice, Outcome, Prepared, Row, Session, TransactionStatus};

use super::extended::Portal;
use super::frontend::{self, Frame, FrontendMessage};
use super::values::{self, FORMAT_TEXT};

/// Output is written to the socket once this many bytes are pending, so a
/// large result streams instead of piling up in memory.
pub(super) const FLUSH_THRESHOLD: usize = 64 * 1024;

/// How many rows are fetched from a query's cursor at a time: a bound on
/// the rows in memory at once.
pub(super) const FETCH_BATCH: usize = 1024;

/// How many bytes one read from the socket asks for at least, and at
/// most (when the read buffer has grown, for a large message).
const READ_CHUNK: usize = 8 * 1024;
const MAX_READ_CHUNK: usize = 64 * 1024;

/// What the main loop does after handling a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flow {
    Continue,
    Close,
}

/// What waiting for input produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Input {
    /// More bytes are in the read buffer.
    Data,
    /// The client closed its end.
    Closed,
    /// The server is shutting down.
    Shutdown,
}

/// The state of one client connection.
pub struct Connection {
    pub(super) stream: TcpStream,
    pub(super) peer: SocketAddr,
    pub(super) read_buffer: BytesMut,
    pub(super) write_buffer: BytesMut,
    /// `None` only after the engine panicked in it.
    pub(super) session: Option<Session>,
    /// Prepared statements by name; the unnamed one is `""`.
    pub(super) statements: HashMap<String, Arc<Prepared>>,
    /// Portals by name; the unnamed one is `""`.
    pub(super) portals: HashMap<String, Portal>,
    /// Set by an error in the extended protocol: every message up to the
    /// next Sync is discarded, as PostgreSQL does.
    pub(super) skipping_until_sync: bool,
    /// The server's shutdown flag. The listener raises it and then shuts
    /// the read side of every connection's socket, so a connection blocked
    /// in a read wakes up and finds it raised.
    pub(super) shutdown: Arc<AtomicBool>,
    /// Over `max_connections`: startup answers 53300 and closes.
    pub(super) refused: bool,
}

impl Connection {
    /// A connection over an accepted (blocking) socket, with a fresh session.
    pub fn new(
        stream: TcpStream,
        peer: SocketAddr,
        database: &Database,
        shutdown: Arc<AtomicBool>,
    ) -> Connection {
        Connection {
            stream,
            peer,
            read_buffer: BytesMut::with_capacity(8 * 1024),
            write_buffer: BytesMut::with_capacity(8 * 1024),
            session: Some(database.session()),
            statements: HashMap::new(),
            portals: HashMap::new(),
            skipping_until_sync: false,
            shutdown,
            refused: false,
        }
    }

    /// Serves the connection until the client leaves, a fatal protocol
    /// error occurs, or the server shuts down. I/O errors just end it.
    pub fn run(mut self) {
        match self.serve_connection() {
            Ok(()) => tracing::debug!(peer = %self.peer, "connection closed"),
            Err(error) => {
                tracing::debug!(peer = %self.peer, %error, "connection ended by I/O error")
            }
        }
        // Best effort: the peer may already be gone.
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }

    fn serve_connection(&mut self) -> std::io::Result<()> {
        if !self.startup()? {
            return self.flush();
        }
        loop {
            match frontend::take_frame(&mut self.read_buffer) {
                Ok(Some(frame)) => {
                    if self.handle_frame(frame)? == Flow::Close {
                        break;
                    }
                    if self.session.is_none() {
                        self.send_fatal(
                            SqlState::INTERNAL_ERROR,
                            "the session was lost after an internal error",
                        );
                        break;
                    }
                    if self.write_buffer.len() >= FLUSH_THRESHOLD {
                        self.flush()?;
                    }
                }
                Ok(None) => {
                    self.flush()?;
                    match self.read_input()? {
                        Input::Data => {}
                        Input::Closed => break,
                        Input::Shutdown => {
                            self.send_fatal(
                                SqlState::ADMIN_SHUTDOWN,
                                "terminating connection due to administrator command",
                            );
                            break;
                        }
                    }
                }
                Err(frame_error) => {
                    tracing::debug!(peer = %self.peer, error = %frame_error.message, "bad frame");
                    self.send_fatal(SqlState::PROTOCOL_VIOLATION, &frame_error.message);
                    break;
                }
            }
        }
        self.flush()
    }

    /// Reads more bytes into the read buffer, blocking until some arrive,
    /// unless shutdown comes first. A read that ends because the listener
    /// shut the socket's read side is told from the client leaving by the
    /// flag, which is raised before the socket is shut.
    pub(super) fn read_input(&mut self) -> std::io::Result<Input> {
        if self.shutdown.load(Ordering::Acquire) {
            return Ok(Input::Shutdown);
        }
        let start = self.read_buffer.len();
        let spare = (self.read_buffer.capacity() - start).min(MAX_READ_CHUNK);
        self.read_buffer.resize(start + spare.max(READ_CHUNK), 0);
        let read = loop {
            match self.stream.read(&mut self.read_buffer[start..]) {
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                read => break read,
            }
        };
        let count = match read {
            Ok(count) => count,
            Err(error) => {
                self.read_buffer.truncate(start);
                return Err(error);
            }
        };
        self.read_buffer.truncate(start + count);
        if count > 0 {
            Ok(Input::Data)
        } else if self.shutdown.load(Ordering::Acquire) {
            Ok(Input::Shutdown)
        } else {
            Ok(Input::Closed)
        }
    }

    /// Decodes and dispatches one frame.
    fn handle_frame(&mut self, frame: Frame) -> std::io::Result<Flow> {
        let kind = frame.kind;
        // While skipping, not even the bodies are looked at: only Sync ends
        // the skip, and Terminate still closes.
        if self.skipping_until_sync && kind != b'S' && kind != b'X' {
            return Ok(Flow::Continue);
        }
        let message = match frontend::decode_message(frame) {
            Ok(message) => message,
            Err(error) => {
                self.send_error(&error);
                if frontend::is_extended_kind(kind) {
                    self.skipping_until_sync = true;
                } else {
                    self.send_ready_for_query();
                }
                return Ok(Flow::Continue);
            }
        };
        let extended = message.is_extended();
        let result = match message {
            FrontendMessage::Query { sql } => {
                self.simple_query(sql)?;
                Ok(())
            }
            FrontendMessage::Parse {
                name,
                sql,
                parameter_oids,
            } => self.parse(name, sql, parameter_oids),
            FrontendMessage::Bind {
                portal,
                statement,
                parameter_formats,
                parameters,
                result_formats,
            } => self.bind(
                portal,
                statement,
                parameter_formats,
                parameters,
                result_formats,
            ),
            FrontendMessage::Describe { target, name } => self.describe(target, &name),
            FrontendMessage::Execute { portal, max_rows } => self.execute(portal, max_rows),
            FrontendMessage::Close { target, name } => {
                self.close(target, &name);
                Ok(())
            }
            FrontendMessage::Flush => {
                self.flush()?;
                Ok(())
            }
            FrontendMessage::Sync => {
                self.sync();
                Ok(())
            }
            FrontendMessage::Terminate => return Ok(Flow::Close),
            FrontendMessage::Copy => Ok(()),
            FrontendMessage::Password => {
                self.send_fatal(SqlState::PROTOCOL_VIOLATION, "unexpected password message");
                return Ok(Flow::Close);
            }
        };
        if let Err(error) = result {
            self.send_error(&error);
            if extended {
                self.skipping_until_sync = true;
            }
        }
        Ok(Flow::Continue)
    }

    /// The simple query protocol: every statement of the string in order,
    /// each with its own results, stopping at the first error; then
    /// ReadyForQuery.
    fn simple_query(&mut self, sql: String) -> std::io::Result<()> {
        // PostgreSQL drops the unnamed statement whenever a Query arrives.
        self.statements.remove("");
        let parsed = self.with_session(move |session| {
            session.begin_implicit();
            let statements = session.parse(&sql)?;
            if statements.iter().all(ParsedStatement::is_query) {
                session.declare_queries_only();
            }
            Ok(statements)
        });
        match parsed {
            Err(error) => self.send_error(&error),
            Ok(statements) if statements.is_empty() => {
                self.send(PgWireBackendMessage::EmptyQueryResponse(
                    EmptyQueryResponse::new(),
                ));
            }
            Ok(statements) => {
                for statement in statements {
                    let outcome = self.with_session(move |session| {
                        let prepared = session.prepare_statement(statement, &[])?;
                        if !prepared.param_types.is_empty() {
                            return Err(Error::sql(
                                SqlState::UNDEFINED_PARAMETER,
                                "there is no parameter $1",
                            ));
                        }
                        session.execute(&prepared, &[])
                    });
                    let sent = match outcome {
                        Ok(outcome) => self.send_whole_outcome(outcome)?,
                        Err(error) => Err(error),
                    };
                    if let Err(error) = sent {
                        self.send_error(&error);
                        break;
                    }
                }
            }
        }
        // The statements of one Query string share an implicit transaction.
        if let Err(error) = self.with_session(|session| session.end_implicit()) {
            self.send_error(&error);
        }
        self.end_of_simple_query();
        self.send_ready_for_query();
        Ok(())
    }

    /// Portals die with their transaction: after a Query outside a
    /// transaction block none survive; inside one, only the unnamed portal
    /// (which the Query replaced) goes.
    fn end_of_simple_query(&mut self) {
        if self.transaction_status() == TransactionStatus::Idle {
            self.portals.clear();
        } else {
            self.portals.remove("");
        }
    }

    /// Sends a complete outcome in text format (simple query protocol),
    /// fetching the rows of a query batch by batch. The outer result is
    /// I/O; the inner one an error of the query (a value that could not be
    /// encoded, or one the engine hit while fetching).
    fn send_whole_outcome(&mut self, outcome: Outcome) -> std::io::Result<Result<()>> {
        match outcome {
            Outcome::Rows {
                columns,
                mut cursor,
            } => {
                cursor.want_all_rows();
                let formats = vec![FORMAT_TEXT; columns.len()];
                self.send(PgWireBackendMessage::RowDescription(row_description(
                    &columns, &formats,
                )));
                let mut count = 0usize;
                let zone = self.time_context().zone;
                while !cursor.is_done() {
                    let batch = match self.fetch(&mut cursor, FETCH_BATCH) {
                        Ok(rows) => rows,
                        Err(error) => return Ok(Err(error)),
                    };
                    for row in &batch {
                        if let Err(error) = values::append_data_row(
                            row,
                            &columns,
                            &formats,
                            &zone,
                            &mut self.write_buffer,
                        ) {
                            return Ok(Err(error));
                        }
                        if self.write_buffer.len() >= FLUSH_THRESHOLD {
                            self.flush()?;
                        }
                    }
                    count += batch.len();
                }
                self.send(PgWireBackendMessage::CommandComplete(CommandComplete::new(
                    cursor.completion_tag(count),
                )));
            }
            Outcome::Command { tag, notices } => {
                self.send_notices(&notices);
                self.send(PgWireBackendMessage::CommandComplete(CommandComplete::new(
                    tag,
                )));
            }
            Outcome::Empty => self.send(PgWireBackendMessage::EmptyQueryResponse(
                EmptyQueryResponse::new(),
            )),
        }
        Ok(Ok(()))
    }

    /// Fetches up to `max_rows` rows of a cursor.
    pub(super) fn fetch(&mut self, cursor: &mut Cursor, max_rows: usize) -> Result<Vec<Row>> {
        self.with_session(|session| session.fetch(cursor, max_rows))
    }

    /// Runs engine work with this connection's session. This is the panic
    /// boundary: a panic in the engine loses the session (dropping it rolls
    /// back its transaction) and, through the main loop, the connection,
    /// but never the server.
    /// The session's zone and transaction start, for reading parameters
    /// and printing results (UTC once the session is lost).
    pub(super) fn time_context(&self) -> crate::sql::datetime::TimeContext {
        self.session
            .as_ref()
            .map(Session::time_context)
            .unwrap_or_default()
    }

    pub(super) fn with_session<T>(
        &mut self,
        work: impl FnOnce(&mut Session) -> Result<T>,
    ) -> Result<T> {
        let Some(mut session) = self.session.take() else {
            return Err(Error::Internal(
                "the session was lost after an internal error".into(),
            ));
        };
        match catch_unwind(AssertUnwindSafe(|| work(&mut session))) {
            Ok(result) => {
                self.session = Some(session);
                result
            }
            Err(_) => {
                // The panic message was printed by the panic hook.
                tracing::error!(peer = %self.peer, "engine call panicked; closing the connection");
                drop(session);
                Err(Error::Internal("the statement failed unexpectedly".into()))
            }
        }
    }

    /// The session's transaction status; a lost session reports failed.
    pub(super) fn transaction_status(&self) -> TransactionStatus {
        self.session
            .as_ref()
            .map_or(TransactionStatus::Failed, Session::transaction_status)
    }

    pub(super) fn send_ready_for_query(&mut self) {
        let status = match self.transaction_status() {
            TransactionStatus::Idle => WireTransactionStatus::Idle,
            TransactionStatus::InBlock => WireTransactionStatus::Transaction,
            TransactionStatus::Failed => WireTransactionStatus::Error,
        };
        self.send(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(
            status,
        )));
    }

    /// Appends a message to the output buffer. Encoding fails only for a
    /// message over pgwire's size limits (a >30 kB command tag, say); such a
    /// message is dropped and logged rather than sending a torn frame.
    pub(super) fn send(&mut self, message: PgWireBackendMessage) {
        let start = self.write_buffer.len();
        if let Err(error) = message.encode(&mut self.write_buffer) {
            self.write_buffer.truncate(start);
            tracing::warn!(peer = %self.peer, %error, "could not encode a backend message");
        }
    }

    /// Sends an ErrorResponse with severity ERROR for a SQL-level error.
    pub(super) fn send_error(&mut self, error: &Error) {
        tracing::debug!(peer = %self.peer, sqlstate = %error.sqlstate(), %error, "statement error");
        self.send(PgWireBackendMessage::ErrorResponse(error_response(
            "ERROR",
            error.sqlstate(),
            &error.to_string(),
        )));
    }

    /// Sends each notice as a NoticeResponse.
    pub(super) fn send_notices(&mut self, notices: &[Notice]) {
        for notice in notices {
            let fields = error_response("NOTICE", notice.code, &notice.message).fields;
            self.send(PgWireBackendMessage::NoticeResponse(NoticeResponse::new(
                fields,
            )));
        }
    }

    /// Sends an ErrorResponse with severity FATAL; the caller closes.
    pub(super) fn send_fatal(&mut self, state: SqlState, message: &str) {
        self.send(PgWireBackendMessage::ErrorResponse(error_response(
            "FATAL", state, message,
        )));
    }

    /// Writes all pending output to the socket.
    pub(super) fn flush(&mut self) -> std::io::Result<()> {
        if !self.write_buffer.is_empty() {
            self.stream.write_all(&self.write_buffer)?;
            self.write_buffer.clear();
        }
        Ok(())
    }
}

/// An ErrorResponse with the fields libpq and drivers read: localized and
/// non-localized severity, SQLSTATE and message.
pub(super) fn error_response(severity: &str, state: SqlState, message: &str) -> ErrorResponse {
    ErrorResponse::new(vec![
        (b'S', severity.to_string()),
        (b'V', severity.to_string()),
        (b'C', state.code().to_string()),
        (b'M', message.to_string()),
    ])
}

/// A RowDescription for result columns in the given formats.
pub(super) fn row_description(columns: &[Column], formats: &[i16]) -> RowDescription {
    RowDescription::new(
        columns
            .iter()
            .enumerate()
            .map(|(index, column)| {
                values::field_description(
                    column,
                    formats.get(index).copied().unwrap_or(FORMAT_TEXT),
                )
            })
            .collect(),
    )
}

/// RowDescription for a statement with result columns, NoData otherwise.
pub(super) fn describe_columns(columns: &[Column], formats: &[i16]) -> PgWireBackendMessage {
    if columns.is_empty() {
        PgWireBackendMessage::NoData(NoData::new())
    } else {
        PgWireBackendMessage::RowDescription(row_description(columns, formats))
    }
}
