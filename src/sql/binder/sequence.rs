//! Sequence binding: `CREATE`/`ALTER SEQUENCE`, the sequence functions,
//! and the sequences SERIAL and identity columns own.
//!
//! A sequence function names its sequence by text, as PostgreSQL's
//! `regclass` argument does (`nextval('s')`, `nextval('s'::regclass)`).
//! A constant name is checked here, so a missing sequence is an error when
//! the statement (or a DEFAULT) is bound, as in PostgreSQL; the name is
//! looked up again when the function runs, which also serves names that
//! are computed.

use sqlparser::ast;

use super::expr::{Grouping, Typed};
use super::{Binder, BoundStatement, Scope, ident_name, object_name};
use crate::error::{Error, Result, SqlState};
use crate::sql::catalog::{self, Relation};
use crate::sql::expr::{Expr, Function, SequenceFunction};
use crate::sql::parser::{AlterSequence, parse_expr};
use crate::sql::sequence::{
    Restart, Sequence, SequenceOwner, option_integer, relation_name, sequence_named,
};
use crate::sql::types::{DataType, Value};

/// PostgreSQL's longest identifier, in bytes (`NAMEDATALEN - 1`).
const MAX_IDENTIFIER: usize = 63;

/// The integer type a SERIAL pseudo-type stands for.
pub(crate) fn serial_type(data_type: &ast::DataType) -> Option<DataType> {
    let ast::DataType::Custom(name, modifiers) = data_type else {
        return None;
    };
    if !modifiers.is_empty() {
        return None;
    }
    match name.to_string().to_ascii_lowercase().as_str() {
        "serial" | "serial4" => Some(DataType::Integer),
        "bigserial" | "serial8" => Some(DataType::BigInt),
        "smallserial" | "serial2" => Some(DataType::SmallInt),
        _ => None,
    }
}

/// The DEFAULT text of a column drawing from `sequence`, as PostgreSQL
/// shows it.
pub(crate) fn nextval_default(sequence: &str) -> String {
    format!(
        "nextval('{}'::regclass)",
        quote_name(sequence).replace('\'', "''")
    )
}

/// A name as an identifier inside a text name: quoted unless it reads back
/// as itself.
fn quote_name(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// The sequences a stored DEFAULT text draws from (`nextval('s')` and the
/// other sequence functions with a constant name): what depends on them.
pub(crate) fn sequences_in_default(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let Ok(expr) = parse_expr(text) else {
        return names;
    };
    let _ = ast::visit_expressions(&expr, |expr| {
        if let ast::Expr::Function(function) = expr
            && SequenceFunction::named(&super::function::function_name(function)).is_some()
            && let ast::FunctionArguments::List(list) = &function.args
            && let Some(ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(first))) =
                list.args.first()
            && let Some(text) = constant_name(first)
            && let Ok(name) = relation_name(&text)
        {
            names.push(name);
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    names
}

/// A sequence argument's constant text (`'s'` or `'s'::regclass`).
fn constant_name(expr: &ast::Expr) -> Option<String> {
    match regclass_operand(expr) {
        ast::Expr::Value(value) => match &value.value {
            ast::Value::SingleQuotedString(text) => Some(text.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// An argument with a `::regclass` cast taken off: basalt reads the name
/// as text, which is what the cast would resolve.
fn regclass_operand(expr: &ast::Expr) -> &ast::Expr {
    match expr {
        ast::Expr::Cast {
            expr: inner,
            data_type: ast::DataType::Regclass,
            ..
        } => inner,
        ast::Expr::Cast {
            expr: inner,
            data_type: ast::DataType::Custom(name, modifiers),
            ..
        } if modifiers.is_empty() && name.to_string().eq_ignore_ascii_case("regclass") => inner,
        ast::Expr::Nested(inner) => regclass_operand(inner),
        other => other,
    }
}

/// PostgreSQL's `makeObjectName`: `table_column_label`, each part cut
/// (the longer first) until the whole fits an identifier.
fn object_name_for(table: &str, column: &str, label: &str) -> String {
    let available = MAX_IDENTIFIER - label.len() - 2;
    let (mut table_len, mut column_len) = (table.len(), column.len());
    while table_len + column_len > available {
        if table_len > column_len {
            table_len -= 1;
        } else {
            column_len -= 1;
        }
    }
    let clip = |text: &str, mut len: usize| {
        while !text.is_char_boundary(len) {
            len -= 1;
        }
        text[..len].to_string()
    };
    format!(
        "{}_{}_{label}",
        clip(table, table_len),
        clip(column, column_len)
    )
}

impl Binder<'_> {
    /// `nextval`, `currval`, `setval`, `lastval`.
    pub(crate) fn bind_sequence_function(
        &mut self,
        function: SequenceFunction,
        name: &str,
        args: &[ast::Expr],
        scope: &Scope,
        mut grouping: Option<&mut Grouping>,
    ) -> Result<Typed> {
        let mut bound = Vec::with_capacity(args.len());
        for (position, arg) in args.iter().enumerate() {
            let arg = if position == 0 {
                regclass_operand(arg)
            } else {
                arg
            };
            bound.push(self.bind(arg, scope, grouping.as_deref_mut())?);
        }
        let types: Vec<Option<DataType>> = bound.iter().map(|arg| arg.data_type).collect();
        let arity_ok = match function {
            SequenceFunction::LastVal => bound.is_empty(),
            SequenceFunction::SetVal => bound.len() == 2 || bound.len() == 3,
            _ => bound.len() == 1,
        };
        let first_is_name = types.first().is_none_or(|t| t.is_none_or(|t| t.is_text()));
        if !arity_ok || !first_is_name {
            return Err(super::function::no_such_function(name, &types));
        }
        let mut args = Vec::with_capacity(bound.len());
        for (position, arg) in bound.into_iter().enumerate() {
            args.push(match position {
                0 => {
                    let expr = self.coerce_text(arg, name)?;
                    if let Expr::Literal(Value::Text(text)) = &expr {
                        sequence_named(self.txn, text)?;
                    }
                    expr
                }
                1 => {
                    if !arg.data_type.is_none_or(|t| t.is_integer()) {
                        return Err(super::function::no_such_function(name, &types));
                    }
                    self.coerce_cast(arg, DataType::BigInt)?
                }
                _ => {
                    if !arg.data_type.is_none_or(|t| t == DataType::Boolean) {
                        return Err(super::function::no_such_function(name, &types));
                    }
                    self.coerce(arg, DataType::Boolean)?
                }
            });
        }
        Ok(Typed {
            expr: Expr::Function {
                function: Function::Sequence(function),
                args,
            },
            data_type: Some(DataType::BigInt),
        })
    }

    /// `pg_get_serial_sequence(table, column)`: the qualified name of the
    /// sequence a SERIAL or identity column draws from, or NULL. Its
    /// arguments must be constants: the answer is read from the catalog
    /// here.
    pub(crate) fn bind_pg_get_serial_sequence(&mut self, args: Vec<Typed>) -> Result<Typed> {
        let types: Vec<Option<DataType>> = args.iter().map(|arg| arg.data_type).collect();
        if args.len() != 2 || !types.iter().all(|t| t.is_none_or(|t| t.is_text())) {
            return Err(super::function::no_such_function(
                "pg_get_serial_sequence",
                &types,
            ));
        }
        let mut texts = Vec::new();
        for arg in args {
            match self.coerce_text(arg, "pg_get_serial_sequence")? {
                Expr::Literal(Value::Text(text)) => texts.push(text.to_string()),
                Expr::Literal(Value::Null) => {
                    return Ok(Typed {
                        expr: Expr::Literal(Value::Null),
                        data_type: Some(DataType::Text),
                    });
                }
                _ => {
                    return Err(Error::Unsupported(
                        "pg_get_serial_sequence with arguments that are not constants".into(),
                    ));
                }
            }
        }
        let table_name = relation_name(&texts[0])?;
        let table = catalog::require_table(self.txn, &table_name)?;
        // The column is an identifier, as PostgreSQL reads it.
        let column_name = crate::sql::sequence::split_name(&texts[1])
            .ok()
            .filter(|parts| parts.len() == 1)
            .map(|mut parts| parts.remove(0))
            .unwrap_or_else(|| texts[1].clone());
        let column = table
            .columns
            .iter()
            .find(|column| column.name == column_name)
            .ok_or_else(|| {
                Error::sql(
                    SqlState::UNDEFINED_COLUMN,
                    format!(
                        "column \"{column_name}\" of relation \"{}\" does not exist",
                        table.name
                    ),
                )
            })?;
        let mut answer = Value::Null;
        for sequence in column
            .default
            .as_deref()
            .map(sequences_in_default)
            .unwrap_or_default()
        {
            if let Some(Relation::Sequence(sequence)) = catalog::get_relation(self.txn, &sequence)?
                && sequence
                    .owner
                    .as_ref()
                    .is_some_and(|owner| owner.table == table.name && owner.column == column.name)
            {
                answer = Value::Text(format!("public.{}", quote_name(&sequence.name)).into());
            }
        }
        Ok(Typed {
            expr: Expr::Literal(answer),
            data_type: Some(DataType::Text),
        })
    }

    /// `CREATE [TEMP] SEQUENCE [IF NOT EXISTS] name options`.
    pub(crate) fn bind_create_sequence(
        &mut self,
        temporary: bool,
        if_not_exists: bool,
        name: &ast::ObjectName,
        options: &[ast::SequenceOptions],
    ) -> Result<BoundStatement> {
        if temporary {
            return Err(Error::Unsupported("temporary sequences".into()));
        }
        let name = object_name(name)?;
        let (mut sequence, owned) = Sequence::new(name, DataType::BigInt, options)?;
        if let Some(owner) = owned {
            sequence.owner = self.sequence_owner(owner.as_ref())?;
        }
        Ok(BoundStatement::CreateSequence {
            sequence,
            if_not_exists,
        })
    }

    /// `ALTER SEQUENCE`: checked against the definition when it runs.
    pub(crate) fn bind_alter_sequence(&mut self, alter: &AlterSequence) -> Result<BoundStatement> {
        let name = object_name(&alter.name)?;
        let mut owner = None;
        for option in &alter.options {
            if let ast::SequenceOptions::OwnedBy(target) = option {
                owner = Some(self.sequence_owner(target.as_ref())?);
            }
        }
        let restart = Restart {
            restart: alter
                .restart
                .as_ref()
                .map(|value| value.as_ref().map(option_integer).transpose())
                .transpose()?,
        };
        Ok(BoundStatement::AlterSequence {
            name,
            if_exists: alter.if_exists,
            options: alter
                .options
                .iter()
                .filter(|option| !matches!(option, ast::SequenceOptions::OwnedBy(_)))
                .cloned()
                .collect(),
            restart,
            owner,
        })
    }

    /// `OWNED BY table.column` (`None` for `OWNED BY NONE`).
    fn sequence_owner(
        &mut self,
        target: Option<&ast::ObjectName>,
    ) -> Result<Option<SequenceOwner>> {
        let Some(target) = target else {
            return Ok(None);
        };
        let parts: Vec<String> = target
            .0
            .iter()
            .map(|part| part.as_ident().map(ident_name).unwrap_or_default())
            .collect();
        let (table_name, column) = match parts.as_slice() {
            [table, column] => (table.clone(), column.clone()),
            [schema, table, column] if schema == "public" => (table.clone(), column.clone()),
            [_, _, _] => {
                return Err(Error::Unsupported(format!(
                    "schema-qualified name {target}"
                )));
            }
            _ => {
                return Err(Error::sql(
                    SqlState::SYNTAX_ERROR,
                    "invalid OWNED BY option",
                ));
            }
        };
        let table = match catalog::get_relation(self.txn, &table_name)? {
            Some(Relation::Table(table)) => table,
            Some(_) => {
                return Err(Error::sql(
                    SqlState::WRONG_OBJECT_TYPE,
                    format!("sequence cannot be owned by relation \"{table_name}\""),
                ));
            }
            None => {
                return Err(Error::sql(
                    SqlState::UNDEFINED_TABLE,
                    format!("relation \"{table_name}\" does not exist"),
                ));
            }
        };
        if table.column_index(&column).is_none() {
            return Err(Error::sql(
                SqlState::UNDEFINED_COLUMN,
                format!(
                    "column \"{column}\" of relation \"{}\" does not exist",
                    table.name
                ),
            ));
        }
        Ok(Some(SequenceOwner {
            table: table.name,
            column,
        }))
    }

    /// The sequence a SERIAL or identity column of `table` owns, named as
    /// PostgreSQL names it (`table_column_seq`, then `…_seq1`, … past
    /// names in use or `taken` by this statement).
    pub(crate) fn owned_sequence(
        &mut self,
        table: &str,
        column: &str,
        data_type: DataType,
        options: &[ast::SequenceOptions],
        taken: &[String],
    ) -> Result<Sequence> {
        let mut name = object_name_for(table, column, "seq");
        let mut suffix = 0;
        while taken.contains(&name)
            || name == table
            || catalog::get_relation(self.txn, &name)?.is_some()
        {
            suffix += 1;
            name = object_name_for(table, column, &format!("seq{suffix}"));
        }
        let (mut sequence, _) = Sequence::new(name, data_type, options)?;
        sequence.owner = Some(SequenceOwner {
            table: table.to_string(),
            column: column.to_string(),
        });
        Ok(sequence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_sequence_names_fit_an_identifier() {
        assert_eq!(object_name_for("t", "id", "seq"), "t_id_seq");
        let long = "a".repeat(60);
        let name = object_name_for(&long, "id", "seq");
        assert_eq!(name.len(), 63);
        assert!(name.ends_with("_id_seq"));
    }

    #[test]
    fn defaults_name_the_sequences_they_draw_from() {
        assert_eq!(
            sequences_in_default(&nextval_default("t_id_seq")),
            ["t_id_seq"]
        );
        assert_eq!(
            sequences_in_default("coalesce(currval('\"S\"'), 0) + nextval('public.b')"),
            ["S", "b"]
        );
        assert!(sequences_in_default("42").is_empty());
        assert_eq!(nextval_default("Odd"), "nextval('\"Odd\"'::regclass)");
    }
}
