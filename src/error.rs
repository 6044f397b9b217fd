//! The crate-wide error type and its one mapping to SQLSTATE codes.
//!
//! Every layer returns [`Result<T>`]. The variants are few and mean something to
//! the caller: a user-facing SQL error carries its SQLSTATE directly; the other
//! variants map to a fixed SQLSTATE in [`Error::sqlstate`], the only place where
//! that mapping lives.

use std::fmt;

/// The crate-wide result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A five-character SQLSTATE code, as PostgreSQL reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SqlState(pub &'static str);

impl SqlState {
    pub const SUCCESSFUL_COMPLETION: SqlState = SqlState("00000");
    pub const FEATURE_NOT_SUPPORTED: SqlState = SqlState("0A000");
    pub const CARDINALITY_VIOLATION: SqlState = SqlState("21000");
    pub const STRING_DATA_RIGHT_TRUNCATION: SqlState = SqlState("22001");
    pub const NUMERIC_VALUE_OUT_OF_RANGE: SqlState = SqlState("22003");
    pub const NULL_VALUE_NOT_ALLOWED: SqlState = SqlState("22004");
    pub const INVALID_PARAMETER_VALUE: SqlState = SqlState("22023");
    pub const SEQUENCE_GENERATOR_LIMIT_EXCEEDED: SqlState = SqlState("2200H");
    pub const GENERATED_ALWAYS: SqlState = SqlState("428C9");
    pub const INVALID_NAME: SqlState = SqlState("42602");
    pub const SUBSTRING_ERROR: SqlState = SqlState("22011");
    pub const INVALID_SCHEMA_NAME: SqlState = SqlState("3F000");
    pub const DIVISION_BY_ZERO: SqlState = SqlState("22012");
    pub const INVALID_TEXT_REPRESENTATION: SqlState = SqlState("22P02");
    pub const INVALID_DATETIME_FORMAT: SqlState = SqlState("22007");
    pub const DATETIME_FIELD_OVERFLOW: SqlState = SqlState("22008");
    pub const INVALID_TIME_ZONE_DISPLACEMENT_VALUE: SqlState = SqlState("22009");
    pub const INTERVAL_FIELD_OVERFLOW: SqlState = SqlState("22015");
    pub const INVALID_ARGUMENT_FOR_LOG: SqlState = SqlState("2201E");
    pub const INVALID_ARGUMENT_FOR_POWER_FUNCTION: SqlState = SqlState("2201F");
    pub const INVALID_ARGUMENT_FOR_WIDTH_BUCKET: SqlState = SqlState("2201G");
    pub const INVALID_OBJECT_DEFINITION: SqlState = SqlState("42P17");
    pub const INVALID_BINARY_REPRESENTATION: SqlState = SqlState("22P03");
    pub const INVALID_ESCAPE_SEQUENCE: SqlState = SqlState("22025");
    pub const NOT_NULL_VIOLATION: SqlState = SqlState("23502");
    pub const UNIQUE_VIOLATION: SqlState = SqlState("23505");
    pub const ACTIVE_SQL_TRANSACTION: SqlState = SqlState("25001");
    pub const NO_ACTIVE_SQL_TRANSACTION: SqlState = SqlState("25P01");
    pub const IN_FAILED_SQL_TRANSACTION: SqlState = SqlState("25P02");
    pub const READ_ONLY_SQL_TRANSACTION: SqlState = SqlState("25006");
    pub const INVALID_SAVEPOINT_SPECIFICATION: SqlState = SqlState("3B001");
    pub const INVALID_SQL_STATEMENT_NAME: SqlState = SqlState("26000");
    pub const INVALID_CURSOR_NAME: SqlState = SqlState("34000");
    pub const SERIALIZATION_FAILURE: SqlState = SqlState("40001");
    pub const DEADLOCK_DETECTED: SqlState = SqlState("40P01");
    pub const LOCK_NOT_AVAILABLE: SqlState = SqlState("55P03");
    pub const SYNTAX_ERROR: SqlState = SqlState("42601");
    pub const UNDEFINED_COLUMN: SqlState = SqlState("42703");
    pub const UNDEFINED_TABLE: SqlState = SqlState("42P01");
    pub const UNDEFINED_FUNCTION: SqlState = SqlState("42883");
    pub const AMBIGUOUS_FUNCTION: SqlState = SqlState("42725");
    pub const UNDEFINED_OBJECT: SqlState = SqlState("42704");
    pub const DUPLICATE_TABLE: SqlState = SqlState("42P07");
    pub const DUPLICATE_COLUMN: SqlState = SqlState("42701");
    pub const DUPLICATE_PREPARED_STATEMENT: SqlState = SqlState("42P05");
    pub const AMBIGUOUS_COLUMN: SqlState = SqlState("42702");
    pub const DATATYPE_MISMATCH: SqlState = SqlState("42804");
    pub const INVALID_TABLE_DEFINITION: SqlState = SqlState("42P16");
    pub const GROUPING_ERROR: SqlState = SqlState("42803");
    pub const INVALID_COLUMN_REFERENCE: SqlState = SqlState("42P10");
    pub const INDETERMINATE_DATATYPE: SqlState = SqlState("42P18");
    pub const CANNOT_COERCE: SqlState = SqlState("42846");
    pub const PROTOCOL_VIOLATION: SqlState = SqlState("08P01");
    pub const CANT_CHANGE_RUNTIME_PARAM: SqlState = SqlState("55P02");
    pub const DUPLICATE_CURSOR: SqlState = SqlState("42P03");
    pub const OBJECT_NOT_IN_PREREQUISITE_STATE: SqlState = SqlState("55000");
    pub const ADMIN_SHUTDOWN: SqlState = SqlState("57P01");
    pub const TOO_MANY_CONNECTIONS: SqlState = SqlState("53300");
    pub const UNDEFINED_PARAMETER: SqlState = SqlState("42P02");
    pub const INVALID_AUTHORIZATION_SPECIFICATION: SqlState = SqlState("28000");
    pub const CHARACTER_NOT_IN_REPERTOIRE: SqlState = SqlState("22021");
    pub const INVALID_ROW_COUNT_IN_LIMIT_CLAUSE: SqlState = SqlState("2201W");
    pub const INVALID_ROW_COUNT_IN_RESULT_OFFSET_CLAUSE: SqlState = SqlState("2201X");
    pub const STATEMENT_TOO_COMPLEX: SqlState = SqlState("54001");
    pub const PROGRAM_LIMIT_EXCEEDED: SqlState = SqlState("54000");
    pub const DEPENDENT_OBJECTS_STILL_EXIST: SqlState = SqlState("2BP01");
    pub const WRONG_OBJECT_TYPE: SqlState = SqlState("42809");
    pub const DUPLICATE_ALIAS: SqlState = SqlState("42712");
    pub const INVALID_RECURSION: SqlState = SqlState("42P19");
    pub const WINDOWING_ERROR: SqlState = SqlState("42P20");
    pub const INVALID_ARGUMENT_FOR_NTILE: SqlState = SqlState("22014");
    pub const INVALID_ARGUMENT_FOR_NTH_VALUE: SqlState = SqlState("22016");
    pub const INVALID_PRECEDING_OR_FOLLOWING_SIZE: SqlState = SqlState("22013");
    pub const IO_ERROR: SqlState = SqlState("58030");
    pub const DATA_CORRUPTED: SqlState = SqlState("XX001");
    pub const INTERNAL_ERROR: SqlState = SqlState("XX000");

    pub fn code(&self) -> &'static str {
        self.0
    }
}

impl fmt::Display for SqlState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// The crate-wide error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A user-facing SQL error with its own SQLSTATE (syntax, undefined table, …).
    #[error("{message}")]
    Sql { state: SqlState, message: String },
    /// SQL the engine does not support yet (SQLSTATE 0A000); the message names the feature.
    #[error("{0} is not supported")]
    Unsupported(String),
    /// The transaction cannot be serialized with a concurrent one (SQLSTATE 40001).
    #[error("could not serialize access due to {0}")]
    Serialization(String),
    /// Bytes read from disk are not what was written: a checksum mismatch or a malformed page.
    #[error("data corrupted: {0}")]
    Corrupt(String),
    /// An operating-system I/O error.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A broken internal invariant that is reported instead of panicking.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// A SQL error with the given SQLSTATE.
    pub fn sql(state: SqlState, message: impl Into<String>) -> Error {
        Error::Sql {
            state,
            message: message.into(),
        }
    }

    /// The SQLSTATE this error reports to clients: the one place of that mapping.
    pub fn sqlstate(&self) -> SqlState {
        match self {
            Error::Sql { state, .. } => *state,
            Error::Unsupported(_) => SqlState::FEATURE_NOT_SUPPORTED,
            Error::Serialization(_) => SqlState::SERIALIZATION_FAILURE,
            Error::Corrupt(_) => SqlState::DATA_CORRUPTED,
            Error::Io(_) => SqlState::IO_ERROR,
            Error::Internal(_) => SqlState::INTERNAL_ERROR,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstate_mapping() {
        assert_eq!(Error::Unsupported("JOIN".into()).sqlstate().code(), "0A000");
        assert_eq!(Error::Serialization("x".into()).sqlstate().code(), "40001");
        assert_eq!(Error::Corrupt("page 3".into()).sqlstate().code(), "XX001");
        assert_eq!(
            Error::sql(SqlState::SYNTAX_ERROR, "bad").sqlstate(),
            SqlState::SYNTAX_ERROR
        );
        assert_eq!(
            Error::Unsupported("JOIN".into()).to_string(),
            "JOIN is not supported"
        );
    }
}
