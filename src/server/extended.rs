//! The extended query protocol: Parse, Bind, Describe, Execute, Close, Sync.
//!
//! ```text
//!   Parse(name, sql, oids) ─► prepared statement ─┐
//!   Bind(portal, statement, params, formats)  ◄───┘ ─► portal
//!   Describe S/P ─► ParameterDescription / RowDescription / NoData
//!   Execute(portal, max_rows) ─► DataRow* then CommandComplete,
//!                                or PortalSuspended if rows remain
//!   Sync ─► ReadyForQuery          (ends the skip-after-error state)
//! ```
//!
//! Statement and portal names are per connection; `""` is the unnamed one,
//! which Parse and Bind silently replace, while re-using a named one is an
//! error (`42P05` for statements, `42P03` for portals) as in PostgreSQL.
//! A portal runs its statement on its first Execute and keeps the query's
//! cursor; a later Execute continues where the previous one stopped,
//! pulling more rows through the operators, never holding more than a
//! batch. Portals belong to a transaction, so all of them are dropped when
//! a Sync finds the session outside a transaction block.
//!
//! Every handler here returns a `Result`; an `Err` becomes an ErrorResponse
//! and the connection skips messages until Sync (see connection.rs).
//!
//! Executes up to a Sync share an implicit transaction, as in PostgreSQL.

use std::sync::Arc;

use bytes::Bytes;
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::data::ParameterDescription;
use pgwire::messages::extendedquery::{
    BindComplete, CloseComplete, ParseComplete, PortalSuspended,
};
use pgwire::messages::response::{CommandComplete, EmptyQueryResponse};

use crate::error::{Error, Result, SqlState};
use crate::sql::{Column, Cursor, DataType, Outcome, Prepared, TransactionStatus, Value};

use super::connection::{Connection, FETCH_BATCH, FLUSH_THRESHOLD, describe_columns};
use super::frontend::{self, Target};
use super::values::{self, FORMAT_TEXT, FormatList};

/// A bound statement, ready to execute or part-way through its rows.
pub struct Portal {
    statement: Arc<Prepared>,
    parameters: Vec<Value>,
    /// One format code per result column.
    result_formats: Vec<i16>,
    state: PortalState,
}

enum PortalState {
    /// Not executed yet.
    Ready,
    /// Executed; the cursor holds the rows not sent yet (`None` only
    /// while it is away fetching).
    Rows {
        columns: Arc<[Column]>,
        cursor: Option<Cursor>,
    },
    /// A command (not a query) that has run; it cannot run again.
    CommandDone,
    /// An empty query string: every Execute answers EmptyQueryResponse.
    Empty,
}

impl Connection {
    /// Parse: prepares `sql` under `name`.
    pub(super) fn parse(
        &mut self,
        name: String,
        sql: String,
        parameter_oids: Vec<u32>,
    ) -> Result<()> {
        if name.is_empty() {
            // PostgreSQL drops the old unnamed statement before parsing, so
            // a failed Parse leaves none behind.
            self.statements.remove("");
        } else if self.statements.contains_key(&name) {
            return Err(Error::sql(
                SqlState::DUPLICATE_PREPARED_STATEMENT,
                format!("prepared statement \"{name}\" already exists"),
            ));
        }
        let declared = declared_parameter_types(&parameter_oids)?;
        let prepared = self.with_session(|session| session.prepare(&sql, &declared))?;
        self.statements.insert(name, Arc::new(prepared));
        self.send(PgWireBackendMessage::ParseComplete(ParseComplete::new()));
        Ok(())
    }

    /// Bind: creates a portal from a statement and parameter values.
    pub(super) fn bind(
        &mut self,
        portal_name: String,
        statement_name: String,
        parameter_formats: Vec<i16>,
        parameters: Vec<Option<Bytes>>,
        result_formats: Vec<i16>,
    ) -> Result<()> {
        let statement = self.statement(&statement_name)?;
        if !portal_name.is_empty() && self.portals.contains_key(&portal_name) {
            return Err(Error::sql(
                SqlState::DUPLICATE_CURSOR,
                format!("portal \"{portal_name}\" already exists"),
            ));
        }
        let expected = statement.param_types.len();
        if parameters.len() != expected {
            return Err(Error::sql(
                SqlState::PROTOCOL_VIOLATION,
                format!(
                    "bind message supplies {} parameters, but prepared statement \"{}\" requires {}",
                    parameters.len(),
                    statement_name,
                    expected
                ),
            ));
        }
        let parameter_formats =
            values::expand_formats(&parameter_formats, parameters.len(), FormatList::Parameters)?;
        let time = self.time_context();
        let values = parameters
            .iter()
            .enumerate()
            .map(|(index, raw)| {
                values::decode_parameter(
                    statement.param_types[index],
                    parameter_formats[index],
                    raw.as_ref(),
                    index,
                    &time,
                )
            })
            .collect::<Result<Vec<Value>>>()?;
        let result_formats = values::expand_formats(
            &result_formats,
            statement.columns.len(),
            FormatList::Results,
        )?;
        let portal = Portal {
            statement,
            parameters: values,
            result_formats,
            state: PortalState::Ready,
        };
        self.portals.insert(portal_name, portal);
        self.send(PgWireBackendMessage::BindComplete(BindComplete::new()));
        Ok(())
    }

    /// Describe: a statement's parameter types and result columns (in text
    /// format, since no formats are chosen yet), or a portal's columns.
    pub(super) fn describe(&mut self, target: Target, name: &str) -> Result<()> {
        match target {
            Target::Statement => {
                let statement = self.statement(name)?;
                let types = statement.param_types.iter().map(DataType::oid).collect();
                self.send(PgWireBackendMessage::ParameterDescription(
                    ParameterDescription::new(types),
                ));
                let formats = vec![FORMAT_TEXT; statement.columns.len()];
                self.send(describe_columns(&statement.columns, &formats));
            }
            Target::Portal => {
                let portal = self.portals.get(name).ok_or_else(|| missing_portal(name))?;
                let message = describe_columns(&portal.statement.columns, &portal.result_formats);
                self.send(message);
            }
        }
        Ok(())
    }

    /// Execute: runs a portal, or continues it, sending at most `max_rows`
    /// rows (0 or negative: all). Commands ignore `max_rows`.
    pub(super) fn execute(&mut self, portal_name: String, max_rows: i32) -> Result<()> {
        let portal = self
            .portals
            .get(&portal_name)
            .ok_or_else(|| missing_portal(&portal_name))?;
        let limit = if max_rows > 0 {
            max_rows as usize
        } else {
            usize::MAX
        };
        if matches!(portal.state, PortalState::Ready) {
            let statement = Arc::clone(&portal.statement);
            let parameters = portal.parameters.clone();
            // A query followed by nothing but its Sync (already received)
            // is its implicit transaction's only statement.
            let alone = statement.is_query() && frontend::only_sync_follows(&self.read_buffer);
            let outcome = self.with_session(|session| {
                // Executes up to the next Sync share an implicit transaction.
                session.begin_implicit();
                if alone {
                    session.declare_queries_only();
                }
                session.execute(&statement, &parameters)
            });
            let portal = self
                .portals
                .get_mut(&portal_name)
                .ok_or_else(|| Error::Internal("a portal vanished during Execute".into()))?;
            match outcome? {
                Outcome::Rows {
                    columns,
                    mut cursor,
                } => {
                    if limit == usize::MAX {
                        cursor.want_all_rows();
                    }
                    // Encode by the described columns when they line up, so
                    // binary widths match what the client was told.
                    let columns = if columns.len() == portal.statement.columns.len() {
                        portal.statement.columns.clone()
                    } else {
                        columns
                    };
                    portal.state = PortalState::Rows {
                        columns,
                        cursor: Some(cursor),
                    };
                }
                Outcome::Command { tag, notices } => {
                    portal.state = PortalState::CommandDone;
                    self.send_notices(&notices);
                    self.send(PgWireBackendMessage::CommandComplete(CommandComplete::new(
                        tag,
                    )));
                    return Ok(());
                }
                Outcome::Empty => {
                    portal.state = PortalState::Empty;
                    self.send(PgWireBackendMessage::EmptyQueryResponse(
                        EmptyQueryResponse::new(),
                    ));
                    return Ok(());
                }
            }
        }
        self.send_portal_rows(&portal_name, limit)
    }

    /// Sends up to `limit` rows of an executed portal, fetched from its
    /// cursor batch by batch.
    fn send_portal_rows(&mut self, portal_name: &str, limit: usize) -> Result<()> {
        let Some(portal) = self.portals.get_mut(portal_name) else {
            return Err(missing_portal(portal_name));
        };
        let (columns, mut cursor) = match &mut portal.state {
            PortalState::Rows { columns, cursor } => (
                columns.clone(),
                cursor
                    .take()
                    .ok_or_else(|| Error::Internal("a portal's cursor is away".into()))?,
            ),
            PortalState::CommandDone => {
                return Err(Error::sql(
                    SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                    format!("portal \"{portal_name}\" cannot be run"),
                ));
            }
            PortalState::Empty => {
                self.send(PgWireBackendMessage::EmptyQueryResponse(
                    EmptyQueryResponse::new(),
                ));
                return Ok(());
            }
            PortalState::Ready => {
                return Err(Error::Internal(
                    "a portal was not executed before fetching".into(),
                ));
            }
        };
        let formats = portal.result_formats.clone();
        let mut sent = 0usize;
        let zone = self.time_context().zone;
        // An error leaves the portal without its cursor: the client skips
        // to Sync, and the portal dies with the transaction.
        while sent < limit && !cursor.is_done() {
            let batch = self.fetch(&mut cursor, (limit - sent).min(FETCH_BATCH))?;
            for row in &batch {
                values::append_data_row(row, &columns, &formats, &zone, &mut self.write_buffer)?;
                if self.write_buffer.len() >= FLUSH_THRESHOLD {
                    self.flush().map_err(Error::Io)?;
                }
            }
            sent += batch.len();
        }
        // Like PostgreSQL, a batch that filled max_rows suspends the portal
        // even if it happened to take the last row; the next Execute then
        // completes it with zero rows.
        let suspended = limit != usize::MAX && sent == limit;
        if let Some(portal) = self.portals.get_mut(portal_name)
            && let PortalState::Rows { cursor: slot, .. } = &mut portal.state
        {
            *slot = Some(cursor);
        }
        if suspended {
            self.send(PgWireBackendMessage::PortalSuspended(PortalSuspended::new()));
        } else {
            // PostgreSQL's tag counts the rows fetched by this Execute (a
            // RETURNING statement's tag is its own).
            let tag = match self.portals.get(portal_name).map(|portal| &portal.state) {
                Some(PortalState::Rows {
                    cursor: Some(cursor),
                    ..
                }) => cursor.completion_tag(sent),
                _ => format!("SELECT {sent}"),
            };
            self.send(PgWireBackendMessage::CommandComplete(CommandComplete::new(
                tag,
            )));
        }
        Ok(())
    }

    /// Close: drops a statement or portal; closing a missing one is no error.
    pub(super) fn close(&mut self, target: Target, name: &str) {
        match target {
            Target::Statement => self.statements.remove(name),
            Target::Portal => self.portals.remove(name).map(|portal| portal.statement),
        };
        self.send(PgWireBackendMessage::CloseComplete(CloseComplete::new()));
    }

    /// Sync: ends error skipping and reports readiness. Outside a
    /// transaction block the transaction has ended, and its portals with it.
    pub(super) fn sync(&mut self) {
        self.skipping_until_sync = false;
        // Sync ends the implicit transaction: commit, or roll back after an
        // error.
        if let Err(error) = self.with_session(|session| session.end_implicit()) {
            self.send_error(&error);
        }
        if self.transaction_status() == TransactionStatus::Idle {
            self.portals.clear();
        }
        self.send_ready_for_query();
    }

    fn statement(&self, name: &str) -> Result<Arc<Prepared>> {
        self.statements.get(name).cloned().ok_or_else(|| {
            let message = if name.is_empty() {
                "unnamed prepared statement does not exist".to_string()
            } else {
                format!("prepared statement \"{name}\" does not exist")
            };
            Error::sql(SqlState::INVALID_SQL_STATEMENT_NAME, message)
        })
    }
}

fn missing_portal(name: &str) -> Error {
    Error::sql(
        SqlState::INVALID_CURSOR_NAME,
        format!("portal \"{name}\" does not exist"),
    )
}

/// Parse's parameter type OIDs: 0 asks the engine to infer the type.
fn declared_parameter_types(oids: &[u32]) -> Result<Vec<Option<DataType>>> {
    oids.iter()
        .map(|&oid| {
            if oid == 0 {
                Ok(None)
            } else {
                DataType::from_oid(oid).map(Some).ok_or_else(|| {
                    Error::sql(
                        SqlState::FEATURE_NOT_SUPPORTED,
                        format!("parameter type with OID {oid} is not supported"),
                    )
                })
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_oids_map_to_types() {
        assert_eq!(
            declared_parameter_types(&[0, 23, 1043]).unwrap(),
            vec![None, Some(DataType::Integer), Some(DataType::Varchar(None))]
        );
        assert_eq!(
            declared_parameter_types(&[2950]).unwrap_err().sqlstate(),
            SqlState::FEATURE_NOT_SUPPORTED
        );
    }
}
