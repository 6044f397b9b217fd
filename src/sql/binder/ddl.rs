//! DDL binding: `CREATE TABLE` → a [`Table`] definition, `CREATE [OR
//! REPLACE] VIEW` → a [`View`] (its query bound once here, to check it and
//! to learn its columns and the relations it reads), and `DROP TABLE` /
//! `DROP VIEW` / `DROP INDEX` (`index.rs` binds CREATE INDEX and UNIQUE).
//!
//! Column types map through `bind_data_type`; `PRIMARY KEY` may be a column
//! or a table constraint (composite keys allowed) and makes its columns
//! NOT NULL; a DEFAULT is stored as SQL text and bound once here to reject
//! bad defaults at CREATE time, as PostgreSQL does.

use sqlparser::ast;

use super::expr::bind_data_type;
use super::index::{IndexKeyColumn, unique_constraint};
use super::sequence::{nextval_default, serial_type};
use super::{Binder, BoundStatement, ident_name, object_name};
use crate::error::{Error, Result, SqlState};
use crate::sql::catalog::{Identity, Table, TableColumn, View};
use crate::sql::sequence::Sequence;

const NULL_CONFLICT: &str = "conflicting NULL/NOT NULL declarations";

impl Binder<'_> {
    pub(crate) fn bind_create_table(
        &mut self,
        create: &ast::CreateTable,
    ) -> Result<BoundStatement> {
        if create.query.is_some() {
            return Err(Error::Unsupported("CREATE TABLE AS".into()));
        }
        if create.temporary {
            return Err(Error::Unsupported("temporary tables".into()));
        }
        let name = object_name(&create.name)?;
        match &create.table_options {
            ast::CreateTableOptions::None => {}
            ast::CreateTableOptions::With(options) => storage_parameters(options)?,
            other => return Err(Error::Unsupported(format!("table options {other}"))),
        }
        let mut columns = Vec::new();
        let mut sequences = Vec::new();
        let mut primary_key: Option<Vec<usize>> = None;
        let mut unique = Vec::new();
        let multiple = || {
            Error::sql(
                SqlState::INVALID_TABLE_DEFINITION,
                format!("multiple primary keys for table \"{name}\" are not allowed"),
            )
        };
        for (index, def) in create.columns.iter().enumerate() {
            let column_name = ident_name(&def.name);
            if columns.iter().any(|c: &TableColumn| c.name == column_name) {
                return Err(Error::sql(
                    SqlState::DUPLICATE_COLUMN,
                    format!("column \"{column_name}\" specified more than once"),
                ));
            }
            let serial = serial_type(&def.data_type);
            let data_type = match serial {
                Some(data_type) => data_type,
                None => bind_data_type(&def.data_type)?,
            };
            let mut column = TableColumn {
                name: column_name,
                data_type,
                nullable: true,
                default: None,
                identity: None,
            };
            let (mut said_null, mut said_not_null) = (false, false);
            let mut identity: Option<(Identity, &[ast::SequenceOptions])> = None;
            let conflict = |message: &str, column: &str| {
                Error::sql(
                    SqlState::SYNTAX_ERROR,
                    format!("{message} for column \"{column}\" of table \"{name}\""),
                )
            };
            for option in &def.options {
                match &option.option {
                    ast::ColumnOption::Null => {
                        if said_not_null {
                            return Err(conflict(NULL_CONFLICT, &column.name));
                        }
                        said_null = true;
                        column.nullable = true;
                    }
                    ast::ColumnOption::NotNull => {
                        if said_null {
                            return Err(conflict(NULL_CONFLICT, &column.name));
                        }
                        said_not_null = true;
                        column.nullable = false;
                    }
                    ast::ColumnOption::Default(expr) => {
                        if column.default.is_some() || serial.is_some() {
                            return Err(conflict(
                                "multiple default values specified",
                                &column.name,
                            ));
                        }
                        if identity.is_some() {
                            return Err(conflict(
                                "both default and identity specified",
                                &column.name,
                            ));
                        }
                        column.default = Some(expr.to_string());
                    }
                    ast::ColumnOption::Generated {
                        generated_as,
                        sequence_options,
                        generation_expr: None,
                        ..
                    } => {
                        let kind = match generated_as {
                            ast::GeneratedAs::Always => Identity::Always,
                            ast::GeneratedAs::ByDefault => Identity::ByDefault,
                            ast::GeneratedAs::ExpStored => {
                                return Err(Error::Unsupported("generated columns".into()));
                            }
                        };
                        if identity.is_some() {
                            return Err(conflict("multiple identity specifications", &column.name));
                        }
                        if column.default.is_some() || serial.is_some() {
                            return Err(conflict(
                                "both default and identity specified",
                                &column.name,
                            ));
                        }
                        identity = Some((kind, sequence_options.as_deref().unwrap_or(&[])));
                    }
                    ast::ColumnOption::Generated { .. } => {
                        return Err(Error::Unsupported("generated columns".into()));
                    }
                    ast::ColumnOption::PrimaryKey(_) => {
                        if primary_key.is_some() {
                            return Err(multiple());
                        }
                        primary_key = Some(vec![index]);
                    }
                    ast::ColumnOption::Unique(constraint) => {
                        let mut definition = unique_constraint(&name, constraint)?;
                        definition.columns = vec![IndexKeyColumn {
                            name: column.name.clone(),
                            expression: None,
                            descending: false,
                            nulls_first: false,
                        }];
                        unique.push(definition);
                    }
                    other => return Err(Error::Unsupported(format!("column constraint {other}"))),
                }
            }
            if serial.is_some() || identity.is_some() {
                if said_null {
                    return Err(conflict(NULL_CONFLICT, &column.name));
                }
                if !column.data_type.is_integer() {
                    return Err(Error::sql(
                        SqlState::INVALID_PARAMETER_VALUE,
                        "identity column type must be smallint, integer, or bigint",
                    ));
                }
                let (kind, options) = identity.map_or((None, &[][..]), |(k, o)| (Some(k), o));
                let taken: Vec<String> = sequences
                    .iter()
                    .map(|s: &Sequence| s.name.clone())
                    .collect();
                let sequence =
                    self.owned_sequence(&name, &column.name, column.data_type, options, &taken)?;
                column.default = Some(nextval_default(&sequence.name));
                column.identity = kind;
                column.nullable = false;
                sequences.push(sequence);
            } else {
                // Check the default binds and fits the column now, as
                // PostgreSQL does.
                self.default_expr(&column)?;
            }
            columns.push(column);
        }
        for constraint in &create.constraints {
            match constraint {
                ast::TableConstraint::PrimaryKey(pk) => {
                    if primary_key.is_some() {
                        return Err(multiple());
                    }
                    let mut indices = Vec::new();
                    for key in &pk.columns {
                        let ast::Expr::Identifier(ident) = &key.column.expr else {
                            return Err(Error::Unsupported("expressions in PRIMARY KEY".into()));
                        };
                        let key_name = ident_name(ident);
                        let index =
                            columns
                                .iter()
                                .position(|c| c.name == key_name)
                                .ok_or_else(|| {
                                    Error::sql(
                                        SqlState::UNDEFINED_COLUMN,
                                        format!(
                                            "column \"{key_name}\" named in key does not exist"
                                        ),
                                    )
                                })?;
                        indices.push(index);
                    }
                    primary_key = Some(indices);
                }
                ast::TableConstraint::Unique(constraint) => {
                    unique.push(unique_constraint(&name, constraint)?);
                }
                other => return Err(Error::Unsupported(format!("table constraint {other}"))),
            }
        }
        let primary_key = primary_key.unwrap_or_default();
        for index in &primary_key {
            columns[*index].nullable = false;
        }
        let table = Table {
            name,
            tree: 0,
            columns,
            primary_key,
            indexes: Vec::new(),
            catalog_epoch: 0,
        };
        Ok(BoundStatement::CreateTable {
            table,
            unique,
            sequences,
            if_not_exists: create.if_not_exists,
        })
    }

    pub(crate) fn bind_create_view(&mut self, create: &ast::CreateView) -> Result<BoundStatement> {
        if create.materialized {
            return Err(Error::Unsupported("materialized views".into()));
        }
        if create.temporary {
            return Err(Error::Unsupported("temporary views".into()));
        }
        if create.or_alter || create.if_not_exists || create.to.is_some() {
            return Err(Error::sql(
                SqlState::SYNTAX_ERROR,
                format!(
                    "syntax error in {}",
                    super::statement_kind(&ast::Statement::CreateView(create.clone()))
                ),
            ));
        }
        let name = object_name(&create.name)?;
        self.dependencies.clear();
        let (_, mut columns) = self.bind_query(&create.query)?;
        if create.columns.len() > columns.len() {
            return Err(Error::sql(
                SqlState::SYNTAX_ERROR,
                "CREATE VIEW specifies more column names than columns",
            ));
        }
        for (column, definition) in columns.iter_mut().zip(&create.columns) {
            column.name = ident_name(&definition.name);
        }
        for (index, column) in columns.iter().enumerate() {
            if columns[..index].iter().any(|c| c.name == column.name) {
                return Err(Error::sql(
                    SqlState::DUPLICATE_COLUMN,
                    format!("column \"{}\" specified more than once", column.name),
                ));
            }
        }
        let mut dependencies = std::mem::take(&mut self.dependencies);
        dependencies.sort();
        dependencies.dedup();
        Ok(BoundStatement::CreateView {
            view: View {
                name,
                query: create.query.to_string(),
                columns: columns.iter().map(|c| c.name.clone()).collect(),
                dependencies,
            },
            types: columns.iter().map(|c| c.data_type).collect(),
            replace: create.or_replace,
        })
    }

    pub(crate) fn bind_drop(
        &mut self,
        object_type: &ast::ObjectType,
        if_exists: bool,
        names: &[ast::ObjectName],
        cascade: bool,
    ) -> Result<BoundStatement> {
        let names = names.iter().map(object_name).collect::<Result<_>>()?;
        match object_type {
            ast::ObjectType::Table => Ok(BoundStatement::DropTable {
                names,
                if_exists,
                cascade,
            }),
            ast::ObjectType::View => Ok(BoundStatement::DropView {
                names,
                if_exists,
                cascade,
            }),
            ast::ObjectType::Index => Ok(BoundStatement::DropIndex {
                names,
                if_exists,
                cascade,
            }),
            ast::ObjectType::Sequence => Ok(BoundStatement::DropSequence {
                names,
                if_exists,
                cascade,
            }),
            other => Err(Error::Unsupported(format!("DROP {other}"))),
        }
    }
}

/// Checks `WITH (…)` storage parameters. `fillfactor` (10 to 100) is
/// accepted and has no effect: basalt's pages are B+tree leaves that split
/// when full, with no free space kept for in-place updates as PostgreSQL's
/// heap keeps it. Any other parameter is refused as PostgreSQL refuses an
/// unknown one, or as 0A000 when PostgreSQL knows it and basalt does not.
pub(super) fn storage_parameters(options: &[ast::SqlOption]) -> Result<()> {
    for option in options {
        let (key, value) = match option {
            ast::SqlOption::KeyValue { key, value } => {
                (key.to_string().to_lowercase(), Some(value))
            }
            ast::SqlOption::Ident(key) => (key.to_string().to_lowercase(), None),
            other => return Err(Error::Unsupported(format!("table option {other}"))),
        };
        match key.as_str() {
            "fillfactor" => {
                let number = match value {
                    Some(ast::Expr::Value(value)) => match &value.value {
                        ast::Value::Number(text, _) => text.parse::<i64>().ok(),
                        ast::Value::SingleQuotedString(text) => text.trim().parse::<i64>().ok(),
                        _ => None,
                    },
                    _ => None,
                };
                let text = match value {
                    Some(ast::Expr::Value(value)) => match &value.value {
                        ast::Value::SingleQuotedString(text) => text.clone(),
                        other => other.to_string(),
                    },
                    Some(other) => other.to_string(),
                    None => "true".into(),
                };
                let Some(number) = number else {
                    return Err(Error::sql(
                        SqlState::INVALID_PARAMETER_VALUE,
                        format!("invalid value for integer option \"fillfactor\": {text}"),
                    ));
                };
                if !(10..=100).contains(&number) {
                    return Err(Error::sql(
                        SqlState::INVALID_PARAMETER_VALUE,
                        format!("value {number} out of bounds for option \"fillfactor\""),
                    ));
                }
            }
            "autovacuum_enabled"
            | "toast_tuple_target"
            | "parallel_workers"
            | "autovacuum_vacuum_threshold"
            | "autovacuum_vacuum_scale_factor"
            | "autovacuum_analyze_threshold"
            | "autovacuum_analyze_scale_factor"
            | "user_catalog_table"
            | "vacuum_index_cleanup"
            | "vacuum_truncate"
            | "log_autovacuum_min_duration" => {
                return Err(Error::Unsupported(format!("storage parameter {key}")));
            }
            _ => {
                return Err(Error::sql(
                    SqlState::INVALID_PARAMETER_VALUE,
                    format!("unrecognized parameter \"{key}\""),
                ));
            }
        }
    }
    Ok(())
}
