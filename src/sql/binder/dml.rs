//! DML binding: INSERT, UPDATE and DELETE.
//!
//! INSERT's source (VALUES or a query) is coerced column by column to the
//! target columns' types, as assignment casts; a final projection widens
//! each row to the whole table in column order, with each omitted column's
//! DEFAULT (NULL if none). UPDATE and DELETE read their target through a
//! filtered scan; an assignment is an expression over the scanned row.

use std::sync::Arc;

use sqlparser::ast::{self, SetExpr};

use super::expr::Typed;
use super::query::is_default;
use super::scope::Scope;
use super::{Binder, BoundStatement, ident_name};
use crate::error::{Error, Result, SqlState};
use crate::sql::catalog::{self, Identity, Table, TableColumn};
use crate::sql::expr::{ColumnId, Expr};
use crate::sql::parser::parse_expr;
use crate::sql::plan::LogicalPlan;
use crate::sql::types::Value;

impl Binder<'_> {
    pub(crate) fn bind_insert(&mut self, insert: &ast::Insert) -> Result<BoundStatement> {
        if insert.on.is_some() || insert.returning.is_some() {
            return Err(Error::Unsupported(
                "INSERT ... ON CONFLICT / RETURNING".into(),
            ));
        }
        let ast::TableObject::TableName(name) = &insert.table else {
            return Err(Error::Unsupported("INSERT INTO TABLE FUNCTION".into()));
        };
        let table = catalog::require_table(self.txn, &super::object_name(name)?)?;
        // Which table column each source column feeds.
        let targets: Vec<usize> = if insert.columns.is_empty() {
            (0..table.columns.len()).collect()
        } else {
            let mut targets = Vec::new();
            for column in &insert.columns {
                let (index, name) = target_column(&table, column)?;
                if targets.contains(&index) {
                    return Err(Error::sql(
                        SqlState::DUPLICATE_COLUMN,
                        format!("column \"{name}\" specified more than once"),
                    ));
                }
                targets.push(index);
            }
            targets
        };
        let target_columns: Vec<TableColumn> =
            targets.iter().map(|i| table.columns[*i].clone()).collect();
        // Identity columns: a given value for a GENERATED ALWAYS one needs
        // OVERRIDING SYSTEM VALUE; OVERRIDING USER VALUE drops given values
        // for every identity column.
        let overriding = insert.overriding.as_ref();
        let mut overridden = Vec::new();
        for (position, column) in target_columns.iter().enumerate() {
            match (column.identity, overriding) {
                (Some(_), Some(ast::InsertOverriding::User)) => overridden.push(position),
                (Some(Identity::Always), None) => {
                    let given = match insert.source.as_deref().map(|s| s.body.as_ref()) {
                        Some(SetExpr::Values(values)) => values.rows.iter().any(|row| {
                            row.content
                                .get(position)
                                .is_some_and(|expr| !is_default(expr))
                        }),
                        Some(_) => true,
                        None => false,
                    };
                    if given {
                        return Err(Error::sql(
                            SqlState::GENERATED_ALWAYS,
                            format!(
                                "cannot insert a non-DEFAULT value into column \"{}\"",
                                column.name
                            ),
                        ));
                    }
                }
                _ => {}
            }
        }
        let Some(source) = &insert.source else {
            // `DEFAULT VALUES`: one row of defaults.
            if !insert.columns.is_empty() {
                return Err(Error::sql(
                    SqlState::SYNTAX_ERROR,
                    "syntax error at or near \"DEFAULT\"",
                ));
            }
            let source_plan = LogicalPlan::Values {
                columns: Vec::new(),
                rows: vec![Vec::new()],
            };
            return self.insert_with_defaults(table, &targets, source_plan, Vec::new());
        };
        let too_many = || {
            Error::sql(
                SqlState::SYNTAX_ERROR,
                "INSERT has more expressions than target columns",
            )
        };
        // With a column list, every listed column needs a value (PostgreSQL:
        // 42601); without one, trailing columns take their defaults.
        let too_few = || {
            Error::sql(
                SqlState::SYNTAX_ERROR,
                "INSERT has more target columns than expressions",
            )
        };
        let explicit_columns = !insert.columns.is_empty();
        let (source_plan, source_columns) = match source.body.as_ref() {
            SetExpr::Values(values)
                if source.order_by.is_none() && source.limit_clause.is_none() =>
            {
                let width = values.rows.first().map(|r| r.content.len()).unwrap_or(0);
                if width > targets.len() {
                    return Err(too_many());
                }
                if explicit_columns && width < targets.len() {
                    return Err(too_few());
                }
                let rows = self
                    .bind_values(values, Some(&target_columns[..width]))?
                    .rows;
                let ids: Vec<ColumnId> = target_columns[..width]
                    .iter()
                    .map(|column| self.columns.add(column.name.clone(), column.data_type))
                    .collect();
                (
                    LogicalPlan::Values {
                        columns: ids.clone(),
                        rows,
                    },
                    ids,
                )
            }
            _ => {
                let (plan, columns) = self.bind_query(source)?;
                if columns.len() > targets.len() {
                    return Err(too_many());
                }
                if explicit_columns && columns.len() < targets.len() {
                    return Err(too_few());
                }
                let mut exprs = Vec::new();
                for (id, column) in plan.output().into_iter().zip(&columns) {
                    let typed = Typed {
                        expr: Expr::Column(id),
                        data_type: Some(column.data_type),
                    };
                    let target = &target_columns[exprs.len()];
                    let expr = self.coerce_assign(typed, target.data_type, &target.name)?;
                    let output = self.columns.add(target.name.clone(), target.data_type);
                    exprs.push((output, expr));
                }
                let ids = exprs.iter().map(|(id, _)| *id).collect();
                (
                    LogicalPlan::Project {
                        input: Box::new(plan),
                        exprs,
                    },
                    ids,
                )
            }
        };
        // An overridden column takes its default, as if it were not given.
        let mut targets = targets;
        for position in overridden {
            targets[position] = usize::MAX;
        }
        self.insert_with_defaults(table, &targets, source_plan, source_columns)
    }

    /// The INSERT of `source_plan`'s columns into `targets`, the other
    /// columns taking their defaults.
    fn insert_with_defaults(
        &mut self,
        table: Table,
        targets: &[usize],
        source_plan: LogicalPlan,
        source_columns: Vec<ColumnId>,
    ) -> Result<BoundStatement> {
        // Full-width rows: source columns where given, defaults elsewhere.
        let mut full = Vec::with_capacity(table.columns.len());
        for (index, column) in table.columns.iter().enumerate() {
            let expr = match targets[..source_columns.len()]
                .iter()
                .position(|t| *t == index)
            {
                Some(position) => Expr::Column(source_columns[position]),
                None => self.default_expr(column)?,
            };
            let id = self.columns.add(column.name.clone(), column.data_type);
            full.push((id, expr));
        }
        let source = LogicalPlan::Project {
            input: Box::new(source_plan),
            exprs: full,
        };
        Ok(BoundStatement::Insert {
            table: table.into(),
            source,
        })
    }

    /// The bound DEFAULT of a column (NULL if none).
    pub(crate) fn default_expr(&mut self, column: &TableColumn) -> Result<Expr> {
        let Some(text) = &column.default else {
            return Ok(Expr::Literal(Value::Null));
        };
        let expr = parse_expr(text)?;
        let typed = self.bind(&expr, &Scope::default(), None)?;
        self.coerce_assign(typed, column.data_type, &column.name)
    }

    /// The filtered scan an UPDATE or DELETE reads its target through.
    fn target_scan(
        &mut self,
        from: &ast::TableWithJoins,
        selection: Option<&ast::Expr>,
    ) -> Result<(Table, LogicalPlan, Scope)> {
        let (table, alias) = self.bind_relation(from)?;
        let (mut plan, scope) = self.scan(table.clone(), alias.as_deref());
        if let Some(selection) = selection {
            let predicate = self.bind_condition(selection, &scope, None, "WHERE")?;
            plan = LogicalPlan::Filter {
                input: Box::new(plan),
                predicate,
            };
        }
        Ok((table, plan, scope))
    }

    /// `TRUNCATE [TABLE] [ONLY] t [*], … [RESTART | CONTINUE IDENTITY]
    /// [CASCADE | RESTRICT]`: every row of each table deleted, as one
    /// statement, and with `RESTART IDENTITY` the sequences the tables own
    /// restarted. basalt has no foreign keys yet, so `CASCADE` has nothing
    /// more to do.
    pub(crate) fn bind_truncate(&mut self, truncate: &ast::Truncate) -> Result<BoundStatement> {
        if truncate.partitions.is_some() || truncate.on_cluster.is_some() || truncate.if_exists {
            return Err(Error::Unsupported(format!(
                "{}",
                ast::Statement::Truncate(truncate.clone())
            )));
        }
        let mut tables: Vec<(Arc<Table>, LogicalPlan)> = Vec::new();
        for target in &truncate.table_names {
            let name = super::object_name(&target.name)?;
            let table = catalog::require_table(self.txn, &name)?;
            // A table named twice is truncated once, as in PostgreSQL.
            if tables.iter().any(|(seen, _)| seen.name == table.name) {
                continue;
            }
            let (plan, _) = self.scan(table.clone(), None);
            tables.push((table.into(), plan));
        }
        Ok(BoundStatement::Truncate {
            tables,
            restart_identity: matches!(
                truncate.identity,
                Some(ast::TruncateIdentityOption::Restart)
            ),
        })
    }

    pub(crate) fn bind_update(&mut self, update: &ast::Update) -> Result<BoundStatement> {
        if update.from.is_some() || update.returning.is_some() {
            return Err(Error::Unsupported("UPDATE ... FROM / RETURNING".into()));
        }
        let (table, source, scope) = self.target_scan(&update.table, update.selection.as_ref())?;
        let mut assignments = Vec::new();
        for assignment in &update.assignments {
            let ast::AssignmentTarget::ColumnName(name) = &assignment.target else {
                return Err(Error::Unsupported("multi-column assignment".into()));
            };
            let (index, name) = target_column(&table, name)?;
            if assignments.iter().any(|(i, _)| *i == index) {
                // PostgreSQL reports this one as a syntax error (42601),
                // unlike a duplicate INSERT column (42701).
                return Err(Error::sql(
                    SqlState::SYNTAX_ERROR,
                    format!("multiple assignments to same column \"{name}\""),
                ));
            }
            let column = table.columns[index].clone();
            let expr = if is_default(&assignment.value) {
                self.default_expr(&column)?
            } else if column.identity == Some(Identity::Always) {
                return Err(Error::sql(
                    SqlState::GENERATED_ALWAYS,
                    format!("column \"{name}\" can only be updated to DEFAULT"),
                ));
            } else {
                let typed = self.bind(&assignment.value, &scope, None)?;
                self.coerce_assign(typed, column.data_type, &column.name)?
            };
            assignments.push((index, expr));
        }
        Ok(BoundStatement::Update {
            table: table.into(),
            source,
            assignments,
        })
    }

    pub(crate) fn bind_delete(&mut self, delete: &ast::Delete) -> Result<BoundStatement> {
        if delete.using.is_some() || delete.returning.is_some() || !delete.tables.is_empty() {
            return Err(Error::Unsupported("DELETE ... USING / RETURNING".into()));
        }
        let from = match &delete.from {
            ast::FromTable::WithFromKeyword(from) | ast::FromTable::WithoutKeyword(from) => from,
        };
        let [from] = from.as_slice() else {
            return Err(Error::Unsupported("DELETE from several tables".into()));
        };
        let (table, source, _) = self.target_scan(from, delete.selection.as_ref())?;
        Ok(BoundStatement::Delete {
            table: table.into(),
            source,
        })
    }
}

/// Resolves an INSERT or UPDATE target column: its index and name.
fn target_column(table: &Table, column: &ast::ObjectName) -> Result<(usize, String)> {
    let name = column
        .0
        .last()
        .and_then(|p| p.as_ident())
        .map(ident_name)
        .unwrap_or_default();
    let index = table.column_index(&name).ok_or_else(|| {
        Error::sql(
            SqlState::UNDEFINED_COLUMN,
            format!(
                "column \"{name}\" of relation \"{}\" does not exist",
                table.name
            ),
        )
    })?;
    Ok((index, name))
}
