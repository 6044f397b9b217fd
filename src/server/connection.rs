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
//! Engine work ([`Session::parse`], `prepare`, `execute`) is synchronous and
//! may block on locks or disk, so it runs on tokio's blocking pool: the
//! session is moved into the blocking task and moved back when it returns
//! ([`Connection::with_session`]). If that task panics, the session is gone
//! and the connection is closed; the server keeps running. Each such trip
//! costs two thread hand-offs, so the common statement takes one: a Query
//! of one statement is parsed, run, its first rows fetched and its
//! implicit transaction ended in one trip, and so is an Execute with a
//! Sync right behind it in the read buffer (the Sync then reports how the
//! transaction ended), whenever the result is whole. Output is unchanged:
//! the rows, then the commit's error if it failed, then ReadyForQuery.
//!
//! Errors follow PostgreSQL: a SQL error is an ErrorResponse with severity
//! `ERROR` and the connection continues; a broken frame or an unexpected
//! message type is severity `FATAL` and the connection is closed.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::data::{NoData, RowDescription};
use pgwire::messages::response::{
    CommandComplete, EmptyQueryResponse, ErrorResponse, NoticeResponse, ReadyForQuery,
    TransactionStatus as WireTransactionStatus,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

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

/// How many rows one trip to the engine fetches from a query's cursor: a
/// bound on the rows in memory at once, large enough that the hand-off to
/// the blocking pool is a small share of the work.
pub(super) const FETCH_BATCH: usize = 1024;

/// A Query string after its first trip to the engine.
enum Parsed {
    /// Its statements, to run one by one (none, or several).
    Statements(Vec<ParsedStatement>),
    /// Its one statement already ran, with its first rows, and (`Some`)
    /// the implicit transaction ended.
    Ran {
        result: Result<(Outcome, Vec<Row>)>,
        ended: Option<Result<()>>,
    },
}

/// Prepares and executes one statement of a Query string, with its first
/// batch of rows: a small result costs one trip to the engine.
fn run_simple_statement(
    session: &mut Session,
    statement: ParsedStatement,
) -> Result<(Outcome, Vec<Row>)> {
    let prepared = session.prepare_statement(statement, &[])?;
    if !prepared.param_types.is_empty() {
        return Err(Error::sql(
            SqlState::UNDEFINED_PARAMETER,
            "there is no parameter $1",
        ));
    }
    let mut outcome = session.execute(&prepared, &[])?;
    let first = match &mut outcome {
        Outcome::Rows { cursor, .. } => {
            cursor.want_all_rows();
            session.fetch(cursor, FETCH_BATCH)?
        }
        _ => Vec::new(),
    };
    Ok((outcome, first))
}

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
    /// `None` only after the engine panicked while holding it.
    pub(super) session: Option<Session>,
    /// Prepared statements by name; the unnamed one is `""`.
    pub(super) statements: HashMap<String, Arc<Prepared>>,
    /// Portals by name; the unnamed one is `""`.
    pub(super) portals: HashMap<String, Portal>,
    /// Set by an error in the extended protocol: every message up to the
    /// next Sync is discarded, as PostgreSQL does.
    pub(super) skipping_until_sync: bool,
    /// How the implicit transaction ended when an Execute ended it in its
    /// own trip to the engine, seeing a Sync next (`extended.rs`); the
    /// Sync reports it.
    pub(super) ended_before_sync: Option<Result<()>>,
    pub(super) shutdown: watch::Receiver<bool>,
}

impl Connection {
    /// A connection over an accepted socket, with a fresh session.
    pub fn new(
        stream: TcpStream,
        peer: SocketAddr,
        database: &Database,
        shutdown: watch::Receiver<bool>,
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
            ended_before_sync: None,
            shutdown,
        }
    }

    /// Serves the connection until the client leaves, a fatal protocol
    /// error occurs, or the server shuts down. I/O errors just end it.
    pub async fn run(mut self) {
        match self.serve_connection().await {
            Ok(()) => tracing::debug!(peer = %self.peer, "connection closed"),
            Err(error) => {
                tracing::debug!(peer = %self.peer, %error, "connection ended by I/O error")
            }
        }
        // Best effort: the peer may already be gone.
        let _ = self.stream.shutdown().await;
    }

    async fn serve_connection(&mut self) -> std::io::Result<()> {
        if !self.startup().await? {
            return self.flush().await;
        }
        loop {
            match frontend::take_frame(&mut self.read_buffer) {
                Ok(Some(frame)) => {
                    if self.handle_frame(frame).await? == Flow::Close {
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
                        self.flush().await?;
                    }
                }
                Ok(None) => {
                    self.flush().await?;
                    match self.read_input().await? {
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
        self.flush().await
    }

    /// Reads more bytes into the read buffer, unless shutdown comes first.
    pub(super) async fn read_input(&mut self) -> std::io::Result<Input> {
        if *self.shutdown.borrow() {
            return Ok(Input::Shutdown);
        }
        tokio::select! {
            read = self.stream.read_buf(&mut self.read_buffer) => {
                Ok(if read? == 0 { Input::Closed } else { Input::Data })
            }
            () = wait_for_shutdown(&mut self.shutdown) => Ok(Input::Shutdown),
        }
    }

    /// Decodes and dispatches one frame.
    async fn handle_frame(&mut self, frame: Frame) -> std::io::Result<Flow> {
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
                self.simple_query(sql).await?;
                Ok(())
            }
            FrontendMessage::Parse {
                name,
                sql,
                parameter_oids,
            } => self.parse(name, sql, parameter_oids).await,
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
            FrontendMessage::Execute { portal, max_rows } => self.execute(portal, max_rows).await,
            FrontendMessage::Close { target, name } => {
                self.close(target, &name);
                Ok(())
            }
            FrontendMessage::Flush => {
                self.flush().await?;
                Ok(())
            }
            FrontendMessage::Sync => {
                self.sync().await;
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
    async fn simple_query(&mut self, sql: String) -> std::io::Result<()> {
        // PostgreSQL drops the unnamed statement whenever a Query arrives.
        self.statements.remove("");
        let parsed = self
            .with_session(move |session| {
                session.begin_implicit();
                let mut statements = session.parse(&sql)?;
                if statements.len() != 1 {
                    return Ok(Parsed::Statements(statements));
                }
                // One statement, the common case: it runs in this trip to
                // the engine too, and so does the end of its implicit
                // transaction when its result is whole (a read's rows
                // were fetched, so nothing of it can fail after the
                // commit but their sending).
                let statement = statements.pop().expect("invariant: one statement");
                let result = run_simple_statement(session, statement);
                let ended = match &result {
                    Ok((outcome, _)) if !outcome.is_whole() => None,
                    _ => Some(session.end_implicit()),
                };
                Ok(Parsed::Ran { result, ended })
            })
            .await;
        let mut ended = None;
        match parsed {
            Err(error) => self.send_error(&error),
            Ok(Parsed::Statements(statements)) if statements.is_empty() => {
                self.send(PgWireBackendMessage::EmptyQueryResponse(
                    EmptyQueryResponse::new(),
                ));
            }
            Ok(Parsed::Ran {
                result,
                ended: ran_ended,
            }) => {
                ended = ran_ended;
                let sent = match result {
                    Ok((outcome, first)) => self.send_whole_outcome(outcome, first).await?,
                    Err(error) => Err(error),
                };
                if let Err(error) = sent {
                    self.send_error(&error);
                }
            }
            Ok(Parsed::Statements(statements)) => {
                for statement in statements {
                    let outcome = self
                        .with_session(move |session| run_simple_statement(session, statement))
                        .await;
                    let sent = match outcome {
                        Ok((outcome, first)) => self.send_whole_outcome(outcome, first).await?,
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
        let ended = match ended {
            Some(ended) => ended,
            None => self.with_session(|session| session.end_implicit()).await,
        };
        if let Err(error) = ended {
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
    /// fetching the rows of a query batch by batch after `first`. The outer
    /// result is I/O; the inner one an error of the query (a value that
    /// could not be encoded, or one the engine hit while fetching).
    async fn send_whole_outcome(
        &mut self,
        outcome: Outcome,
        first: Vec<Row>,
    ) -> std::io::Result<Result<()>> {
        match outcome {
            Outcome::Rows {
                columns,
                mut cursor,
            } => {
                let formats = vec![FORMAT_TEXT; columns.len()];
                self.send(PgWireBackendMessage::RowDescription(row_description(
                    &columns, &formats,
                )));
                let mut batch = first;
                let mut count = 0usize;
                loop {
                    for row in &batch {
                        match values::encode_row(row, &columns, &formats) {
                            Ok(data_row) => self.send(PgWireBackendMessage::DataRow(data_row)),
                            Err(error) => return Ok(Err(error)),
                        }
                        if self.write_buffer.len() >= FLUSH_THRESHOLD {
                            self.flush().await?;
                        }
                    }
                    count += batch.len();
                    if cursor.is_done() {
                        break;
                    }
                    match self.fetch(cursor, FETCH_BATCH).await {
                        Ok((returned, rows)) => {
                            cursor = returned;
                            batch = rows;
                        }
                        Err(error) => return Ok(Err(error)),
                    }
                }
                self.send(PgWireBackendMessage::CommandComplete(CommandComplete::new(
                    format!("SELECT {count}"),
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

    /// Fetches up to `max_rows` rows of a cursor on the blocking pool; the
    /// cursor travels there and back with the session.
    pub(super) async fn fetch(
        &mut self,
        mut cursor: Cursor,
        max_rows: usize,
    ) -> Result<(Cursor, Vec<Row>)> {
        self.with_session(move |session| {
            let rows = session.fetch(&mut cursor, max_rows)?;
            Ok((cursor, rows))
        })
        .await
    }

    /// Runs engine work on the blocking pool with this connection's session.
    pub(super) async fn with_session<T, F>(&mut self, work: F) -> Result<T>
    where
        F: FnOnce(&mut Session) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let Some(mut session) = self.session.take() else {
            return Err(Error::Internal(
                "the session was lost after an internal error".into(),
            ));
        };
        let joined = tokio::task::spawn_blocking(move || {
            let result = work(&mut session);
            (session, result)
        })
        .await;
        match joined {
            Ok((session, result)) => {
                self.session = Some(session);
                result
            }
            Err(join_error) => {
                tracing::error!(peer = %self.peer, error = %join_error, "engine task failed; closing the connection");
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
    pub(super) async fn flush(&mut self) -> std::io::Result<()> {
        if !self.write_buffer.is_empty() {
            self.stream.write_all(&self.write_buffer).await?;
            self.write_buffer.clear();
        }
        Ok(())
    }
}

/// Resolves once the server's shutdown flag is set (or its sender is gone).
pub(super) async fn wait_for_shutdown(shutdown: &mut watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow_and_update() {
            return;
        }
        if shutdown.changed().await.is_err() {
            return;
        }
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
