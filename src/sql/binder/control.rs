//! Statements that need no catalog: transaction control, `SET`, `SHOW`,
//! `VACUUM` and `ANALYZE` (which resolve their tables when they run). They
//! bind without a transaction, so they work in a failed block (ROLLBACK
//! must) and before any transaction exists.

use sqlparser::ast::{self, Statement};

use super::{ident_name, object_name, statement_kind};
use crate::error::{Error, Result};
use crate::txn::IsolationLevel;

/// A bound control statement.
#[derive(Clone, Debug, PartialEq)]
pub enum Control {
    Begin {
        modes: TransactionModes,
        tag: &'static str,
    },
    /// `SET TRANSACTION ...` (`session`: `SET SESSION CHARACTERISTICS AS
    /// TRANSACTION ...`, which sets the defaults).
    SetTransaction {
        modes: TransactionModes,
        session: bool,
    },
    Commit,
    Rollback,
    Savepoint {
        name: String,
    },
    RollbackToSavepoint {
        name: String,
    },
    ReleaseSavepoint {
        name: String,
    },
    /// `VACUUM [FULL] [table]`: collect garbage versions now.
    Vacuum {
        table: Option<String>,
    },
    /// `ANALYZE [table [(columns)]]`: gather statistics (`sql/statistics`);
    /// `columns` is `None` for all of them.
    Analyze {
        table: Option<String>,
        columns: Option<Vec<String>>,
    },
    Set {
        name: String,
        value: String,
    },
    Show {
        name: String,
    },
}

/// The modes a `BEGIN` or `SET TRANSACTION` names; `None` for each it does
/// not name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransactionModes {
    pub isolation: Option<IsolationLevel>,
    pub read_only: Option<bool>,
    /// `[NOT] DEFERRABLE`, which the SQL parser does not know: the parser
    /// glue hands it on beside the statement.
    pub deferrable: Option<bool>,
}

/// The isolation level and access mode a `BEGIN` or `SET TRANSACTION`
/// names (the last of each wins, as in PostgreSQL).
fn transaction_modes(modes: &[ast::TransactionMode]) -> Result<TransactionModes> {
    let mut isolation = None;
    let mut read_only = None;
    for mode in modes {
        match mode {
            ast::TransactionMode::IsolationLevel(level) => {
                isolation = Some(match level {
                    ast::TransactionIsolationLevel::ReadUncommitted
                    | ast::TransactionIsolationLevel::ReadCommitted => {
                        IsolationLevel::ReadCommitted
                    }
                    ast::TransactionIsolationLevel::RepeatableRead => {
                        IsolationLevel::RepeatableRead
                    }
                    ast::TransactionIsolationLevel::Serializable => IsolationLevel::Serializable,
                    other => {
                        return Err(Error::Unsupported(format!("isolation level {other}")));
                    }
                })
            }
            ast::TransactionMode::AccessMode(ast::TransactionAccessMode::ReadWrite) => {
                read_only = Some(false)
            }
            ast::TransactionMode::AccessMode(ast::TransactionAccessMode::ReadOnly) => {
                read_only = Some(true)
            }
        }
    }
    Ok(TransactionModes {
        isolation,
        read_only,
        deferrable: None,
    })
}

/// Binds a control statement; `None` if the statement is not one.
/// `deferrable` is what the parser glue cut out of a transaction statement.
pub fn bind_control(statement: &Statement, deferrable: Option<bool>) -> Result<Option<Control>> {
    let mut control = match statement {
        Statement::StartTransaction {
            modes,
            statements,
            exception,
            begin,
            ..
        } => {
            if !statements.is_empty() || exception.is_some() {
                return Err(Error::Unsupported("BEGIN ... END blocks".into()));
            }
            Control::Begin {
                modes: transaction_modes(modes)?,
                // The command tag echoes the spelling, as in PostgreSQL.
                tag: if *begin { "BEGIN" } else { "START TRANSACTION" },
            }
        }
        Statement::Commit { chain: false, .. } => Control::Commit,
        Statement::Rollback {
            chain: false,
            savepoint: None,
        } => Control::Rollback,
        Statement::Rollback {
            chain: false,
            savepoint: Some(name),
        } => Control::RollbackToSavepoint {
            name: ident_name(name),
        },
        Statement::Commit { .. } | Statement::Rollback { .. } => {
            return Err(Error::Unsupported(statement_kind(statement)));
        }
        Statement::Savepoint { name } => Control::Savepoint {
            name: ident_name(name),
        },
        Statement::ReleaseSavepoint { name } => Control::ReleaseSavepoint {
            name: ident_name(name),
        },
        Statement::Vacuum(vacuum) => {
            if vacuum.sort_only
                || vacuum.delete_only
                || vacuum.reindex
                || vacuum.recluster
                || vacuum.boost
                || vacuum.threshold.is_some()
            {
                return Err(Error::Unsupported(format!("{vacuum}")));
            }
            // FULL needs no rewrite here: collected versions free their
            // space in the B+tree, which reuses it.
            Control::Vacuum {
                table: vacuum.table_name.as_ref().map(object_name).transpose()?,
            }
        }
        Statement::Analyze(analyze) => {
            if analyze.partitions.is_some()
                || analyze.for_columns
                || analyze.cache_metadata
                || analyze.noscan
                || analyze.compute_statistics
                || analyze.has_table_keyword
            {
                return Err(Error::Unsupported(format!("{analyze}")));
            }
            let table = analyze.table_name.as_ref().map(object_name).transpose()?;
            // A name like VERBOSE is taken as a table by the parser; a
            // table of that name does not exist, which is reported then.
            Control::Analyze {
                table,
                columns: (!analyze.columns.is_empty())
                    .then(|| analyze.columns.iter().map(ident_name).collect()),
            }
        }
        Statement::Set(ast::Set::SingleAssignment {
            variable, values, ..
        }) => {
            let name = variable.to_string().to_lowercase();
            let value = values
                .iter()
                .map(setting_value)
                .collect::<Vec<_>>()
                .join(", ");
            Control::Set { name, value }
        }
        Statement::Set(ast::Set::SetTransaction {
            modes,
            snapshot: None,
            session,
        }) => Control::SetTransaction {
            modes: transaction_modes(modes)?,
            session: *session,
        },
        Statement::Set(ast::Set::SetTransaction {
            snapshot: Some(_), ..
        }) => return Err(Error::Unsupported("SET TRANSACTION SNAPSHOT".into())),
        Statement::Set(ast::Set::SetTimeZone { value, .. }) => Control::Set {
            name: "timezone".into(),
            value: setting_value(value),
        },
        Statement::Set(_) => return Err(Error::Unsupported(statement_kind(statement))),
        Statement::ShowVariable { variable } => {
            // The parser drops the dots of a qualified name (`SHOW
            // basalt.ssi_coarsenings`); only PostgreSQL's few
            // multi-word names are spaced.
            let words: Vec<String> = variable.iter().map(|i| i.value.to_lowercase()).collect();
            let spaced = words.join(" ");
            let name = match spaced.as_str() {
                "transaction isolation level" | "time zone" | "session authorization" => spaced,
                _ => words.join("."),
            };
            Control::Show { name }
        }
        _ => return Ok(None),
    };
    if let Control::Begin { modes, .. } | Control::SetTransaction { modes, .. } = &mut control {
        modes.deferrable = deferrable;
    }
    Ok(Some(control))
}

/// The text of a SET value: strings unquoted, identifiers as written.
fn setting_value(expr: &ast::Expr) -> String {
    match expr {
        ast::Expr::Value(value) => match &value.value {
            ast::Value::SingleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        ast::Expr::Identifier(ident) => ident.value.clone(),
        other => other.to_string(),
    }
}
