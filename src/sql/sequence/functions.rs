//! `nextval`, `currval`, `setval` and `lastval` at run time, and the
//! resolution of a sequence named by text (`'s'`, `'"S"'`, `'public.s'`),
//! as PostgreSQL's text-to-`regclass` conversion reads it.

use super::definition::Sequence;
use super::generator::SequenceAccess;
use crate::error::{Error, Result, SqlState};
use crate::sql::catalog::{self, Relation};
use crate::sql::execution::Context;
use crate::sql::expr::SequenceFunction;
use crate::sql::types::Value;
use crate::txn::Transaction;

fn invalid_name() -> Error {
    Error::sql(SqlState::INVALID_NAME, "invalid name syntax")
}

/// Splits a possibly qualified name written as text: unquoted parts fold
/// to lower case, `"…"` keeps its case (`""` is a quote), parts are
/// separated by dots with optional spaces around them.
pub fn split_name(text: &str) -> Result<Vec<String>> {
    let mut parts = Vec::new();
    let mut chars = text.trim_start().chars().peekable();
    loop {
        let mut part = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        part.push('"');
                    }
                    Some('"') => break,
                    Some(c) => part.push(c),
                    None => return Err(invalid_name()),
                }
            }
            if part.is_empty() {
                return Err(invalid_name());
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == '.' || c.is_whitespace() || c == '"' {
                    break;
                }
                part.extend(c.to_lowercase());
                chars.next();
            }
            if part.is_empty() {
                return Err(invalid_name());
            }
        }
        parts.push(part);
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            None => return Ok(parts),
            Some('.') => {
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
            }
            Some(_) => return Err(invalid_name()),
        }
    }
}

/// The relation a text names (its unqualified name; `public.x` is `x`).
pub fn relation_name(text: &str) -> Result<String> {
    let parts = split_name(text)?;
    match parts.as_slice() {
        [name] => Ok(name.clone()),
        [schema, name] if schema == "public" => Ok(name.clone()),
        [schema, _] => Err(Error::sql(
            SqlState::INVALID_SCHEMA_NAME,
            format!("schema \"{schema}\" does not exist"),
        )),
        _ => Err(Error::sql(
            SqlState::SYNTAX_ERROR,
            format!("improper relation name (too many dotted names): {text}"),
        )),
    }
}

/// The sequence a text names in the transaction's snapshot: 42P01 if there
/// is no such relation, 42809 if it is not a sequence.
pub fn sequence_named(txn: &mut Transaction, text: &str) -> Result<Sequence> {
    let name = relation_name(text)?;
    sequence_of(catalog::get_relation(txn, &name)?, &name)
}

/// The sequence a text names as its definition is now: the functions use
/// the committed definition, whatever the snapshot, because the position
/// they move is outside transactions too (a restart committed since the
/// snapshot moved it to another tree).
fn current_sequence_named(txn: &mut Transaction, text: &str) -> Result<Sequence> {
    let name = relation_name(text)?;
    sequence_of(catalog::get_current_relation(txn, &name)?, &name)
}

fn sequence_of(relation: Option<Relation>, name: &str) -> Result<Sequence> {
    match relation {
        Some(Relation::Sequence(sequence)) => Ok(sequence),
        Some(_) => Err(not_a_sequence(name)),
        None => Err(Error::sql(
            SqlState::UNDEFINED_TABLE,
            format!("relation \"{name}\" does not exist"),
        )),
    }
}

/// 42809 for a relation named where a sequence must be.
pub fn not_a_sequence(name: &str) -> Error {
    Error::sql(
        SqlState::WRONG_OBJECT_TYPE,
        format!("\"{name}\" is not a sequence"),
    )
}

fn read_only(function: &str) -> Error {
    Error::sql(
        SqlState::READ_ONLY_SQL_TRANSACTION,
        format!("cannot execute {function}() in a read-only transaction"),
    )
}

/// Evaluates a sequence function; a NULL argument gives NULL.
pub fn call(
    function: SequenceFunction,
    args: &[Value],
    context: &mut Context<'_>,
) -> Result<Value> {
    if args.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    let access: SequenceAccess = context.sequences()?;
    if function == SequenceFunction::LastVal {
        let session = access.session.lock();
        let undefined = || {
            Error::sql(
                SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                "lastval is not yet defined in this session",
            )
        };
        let (name, id, value) = session.last().ok_or_else(undefined)?;
        let (name, value) = (name.to_string(), value);
        drop(session);
        // The sequence must still exist, as PostgreSQL checks.
        return match catalog::get_current_relation(context.transaction()?, &name)? {
            Some(Relation::Sequence(sequence)) if sequence.id == id => Ok(Value::BigInt(value)),
            _ => Err(undefined()),
        };
    }
    let Value::Text(name) = &args[0] else {
        return Err(Error::Internal(format!(
            "a sequence named by {:?}",
            args[0].data_type()
        )));
    };
    let txn = context.transaction()?;
    let sequence = current_sequence_named(txn, name)?;
    match function {
        SequenceFunction::NextVal => {
            if txn.is_read_only() {
                return Err(read_only("nextval"));
            }
            let value = access.shared.next_value(&sequence)?;
            access.session.lock().record_next(&sequence, value);
            Ok(Value::BigInt(value))
        }
        SequenceFunction::CurrVal => match access.session.lock().current(sequence.id) {
            Some(value) => Ok(Value::BigInt(value)),
            None => Err(Error::sql(
                SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!(
                    "currval of sequence \"{}\" is not yet defined in this session",
                    sequence.name
                ),
            )),
        },
        SequenceFunction::SetVal => {
            if txn.is_read_only() {
                return Err(read_only("setval"));
            }
            let value = match &args[1] {
                Value::BigInt(value) => *value,
                other => {
                    return Err(Error::Internal(format!("setval of {other:?}")));
                }
            };
            let is_called = match args.get(2) {
                None => true,
                Some(Value::Boolean(flag)) => *flag,
                Some(other) => {
                    return Err(Error::Internal(format!("setval flag {other:?}")));
                }
            };
            if value < sequence.min || value > sequence.max {
                return Err(Error::sql(
                    SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                    format!(
                        "setval: value {value} is out of bounds for sequence \"{}\" ({}..{})",
                        sequence.name, sequence.min, sequence.max
                    ),
                ));
            }
            access.shared.set_value(&sequence, value, is_called)?;
            if is_called {
                access.session.lock().record_set(&sequence, value);
            }
            Ok(Value::BigInt(value))
        }
        SequenceFunction::LastVal => Err(Error::Internal("lastval names no sequence".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_as_postgres_reads_text_names() {
        assert_eq!(split_name("S").expect("valid"), ["s"]);
        assert_eq!(split_name("\"S\"").expect("valid"), ["S"]);
        assert_eq!(split_name(" public . s ").expect("valid"), ["public", "s"]);
        assert_eq!(split_name("\"a\"\"b\".c").expect("valid"), ["a\"b", "c"]);
        for bad in ["", "a.", ".a", "\"\"", "\"open", "a b"] {
            assert!(split_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(relation_name("public.s").expect("valid"), "s");
        assert_eq!(
            relation_name("other.s").expect_err("no schema").sqlstate(),
            SqlState::INVALID_SCHEMA_NAME
        );
    }
}
