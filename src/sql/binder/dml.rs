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
use super::upsert::{ConflictAction, OnConflict};
use super::{Binder, BoundStatement, Returning, ident_name};
use crate::error::{Error, Result, SqlState};
use crate::sql::catalog::{self, Identity, Table, TableColumn};
use crate::sql::expr::{ColumnId, Expr};
use crate::sql::parser::parse_expr;
use crate::sql::plan::Column;
use crate::sql::plan::LogicalPlan;
use crate::sql::types::{DataType, Value};

impl Binder<'_> {
    pub(crate) fn bind_insert(&mut self, insert: &ast::Insert) -> Result<BoundStatement> {
        let ast::TableObject::TableName(name) = &insert.table else {
            return Err(Error::Unsupported("INSERT INTO TABLE FUNCTION".into()));
        };
        let table = catalog::require_table(self.txn, &super::object_name(name)?)?;
        let alias = insert
            .table_alias
            .as_ref()
            .map(|alias| ident_name(&alias.alias));
        let on_conflict = insert
            .on
            .as_ref()
            .map(|on| self.bind_on_conflict(&table, alias.as_deref(), on))
            .transpose()?;
        let returning = match &insert.returning {
            Some(items) => {
                let qualifier = alias.as_deref().unwrap_or(&table.name).to_string();
                let (_, mut scope) = self.table_scope(&qualifier, &table.columns);
                if qualifier != table.name {
                    scope.renamed.push(table.name.clone());
                }
                // DO UPDATE's `excluded` is out of RETURNING's reach.
                if on_conflict
                    .as_ref()
                    .is_some_and(|on| matches!(on.action, ConflictAction::Update { .. }))
                {
                    scope.renamed.push("excluded".into());
                }
                self.bind_returning(Some(items), &scope)?
            }
            None => None,
        };
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
            return self.insert_with_defaults(
                table,
                &targets,
                source_plan,
                Vec::new(),
                (returning, on_conflict),
            );
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
        self.insert_with_defaults(
            table,
            &targets,
            source_plan,
            source_columns,
            (returning, on_conflict),
        )
    }

    /// A RETURNING list over `scope`, the written row's columns in table
    /// column order.
    fn bind_returning(
        &mut self,
        items: Option<&[ast::SelectItem]>,
        scope: &Scope,
    ) -> Result<Option<Returning>> {
        let Some(items) = items else {
            return Ok(None);
        };
        let row = scope.columns.iter().map(|column| column.id).collect();
        let items = super::select::select_items(items, scope)?;
        let mut exprs = Vec::with_capacity(items.len());
        let mut columns = Vec::with_capacity(items.len());
        for (expr, name) in items {
            if super::query::contains_aggregate(&expr) {
                return Err(Error::sql(
                    SqlState::GROUPING_ERROR,
                    "aggregate functions are not allowed in RETURNING",
                ));
            }
            let typed = self.in_clause("RETURNING", |binder| binder.bind(&expr, scope, None))?;
            let data_type = typed.data_type.unwrap_or(DataType::Text);
            let expr = match typed.data_type {
                Some(_) => typed.expr,
                None => self.coerce(typed, DataType::Text)?,
            };
            exprs.push(expr);
            columns.push(Column { name, data_type });
        }
        Ok(Some(Returning {
            row,
            exprs,
            columns: columns.into(),
        }))
    }

    /// The INSERT of `source_plan`'s columns into `targets`, the other
    /// columns taking their defaults.
    fn insert_with_defaults(
        &mut self,
        table: Table,
        targets: &[usize],
        source_plan: LogicalPlan,
        source_columns: Vec<ColumnId>,
        (returning, on_conflict): (Option<Returning>, Option<OnConflict>),
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
            returning,
            on_conflict,
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
        if update.from.is_some() {
            return Err(Error::Unsupported("UPDATE ... FROM".into()));
        }
        let (table, source, scope) = self.target_scan(&update.table, update.selection.as_ref())?;
        let assignments = self.bind_assignments(&table, &update.assignments, &scope)?;
        let returning = self.bind_returning(update.returning.as_deref(), &scope)?;
        Ok(BoundStatement::Update {
            table: table.into(),
            source,
            assignments,
            returning,
        })
    }

    /// An UPDATE's (or an upsert's) SET list over `scope`: each table
    /// column set, by index, with its expression.
    pub(crate) fn bind_assignments(
        &mut self,
        table: &Table,
        list: &[ast::Assignment],
        scope: &Scope,
    ) -> Result<Vec<(usize, Expr)>> {
        // Each target column with the expression it takes, in order.
        let mut targets: Vec<(&ast::ObjectName, ast::Expr)> = Vec::new();
        for assignment in list {
            match &assignment.target {
                ast::AssignmentTarget::ColumnName(name) => {
                    targets.push((name, assignment.value.clone()));
                }
                ast::AssignmentTarget::Tuple(names) => {
                    let values = self.multiple_assignment(names.len(), &assignment.value, scope)?;
                    targets.extend(names.iter().zip(values));
                }
            }
        }
        let mut assignments = Vec::new();
        for (name, value) in targets {
            let (index, name) = target_column(table, name)?;
            if assignments.iter().any(|(i, _)| *i == index) {
                // PostgreSQL reports this one as a syntax error (42601),
                // unlike a duplicate INSERT column (42701).
                return Err(Error::sql(
                    SqlState::SYNTAX_ERROR,
                    format!("multiple assignments to same column \"{name}\""),
                ));
            }
            if super::query::contains_aggregate(&value) {
                return Err(Error::sql(
                    SqlState::GROUPING_ERROR,
                    "aggregate functions are not allowed in UPDATE",
                ));
            }
            let column = table.columns[index].clone();
            let expr = if is_default(&value) {
                self.default_expr(&column)?
            } else if column.identity == Some(Identity::Always) {
                return Err(Error::sql(
                    SqlState::GENERATED_ALWAYS,
                    format!("column \"{name}\" can only be updated to DEFAULT"),
                ));
            } else {
                let typed = self.bind(&value, scope, None)?;
                self.coerce_assign(typed, column.data_type, &column.name)?
            };
            assignments.push((index, expr));
        }
        Ok(assignments)
    }

    /// The values of `SET (a, b, …) = source`: a `(x, y, …)` list, a
    /// `ROW(…)`, or a sub-SELECT of that many columns (each column then
    /// read by its own scalar subquery over it, so no row gives NULLs and
    /// several rows 21000, as PostgreSQL's MULTIEXPR does).
    fn multiple_assignment(
        &mut self,
        count: usize,
        source: &ast::Expr,
        scope: &Scope,
    ) -> Result<Vec<ast::Expr>> {
        let mismatch = || {
            Error::sql(
                SqlState::SYNTAX_ERROR,
                "number of columns does not match number of values",
            )
        };
        let values: Vec<ast::Expr> = match source {
            ast::Expr::Tuple(values) => values.clone(),
            ast::Expr::Function(function)
                if super::function::function_name(function) == "row"
                    && function.name.0.len() == 1 =>
            {
                match &function.args {
                    ast::FunctionArguments::List(list) if list.clauses.is_empty() => list
                        .args
                        .iter()
                        .map(|arg| match arg {
                            ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(expr)) => {
                                Ok(expr.clone())
                            }
                            other => Err(Error::Unsupported(format!("ROW argument {other}"))),
                        })
                        .collect::<Result<_>>()?,
                    ast::FunctionArguments::None => Vec::new(),
                    other => return Err(Error::Unsupported(format!("ROW{other}"))),
                }
            }
            ast::Expr::Subquery(query) => {
                // Bound once here for its width and its errors.
                self.outer.push(scope.clone());
                let bound = self.bind_query(query);
                self.outer.pop();
                let (_, columns) = bound?;
                if columns.len() != count {
                    return Err(mismatch());
                }
                let aliases: Vec<String> = (1..=count).map(|i| format!("basalt_row_{i}")).collect();
                return aliases
                    .iter()
                    .map(|alias| row_column(query, &aliases, alias))
                    .collect();
            }
            _ => {
                return Err(Error::Unsupported(
                    "source for a multiple-column UPDATE item must be a sub-SELECT or ROW() \
                     expression"
                        .into(),
                ));
            }
        };
        if values.len() != count {
            return Err(mismatch());
        }
        Ok(values)
    }

    pub(crate) fn bind_delete(&mut self, delete: &ast::Delete) -> Result<BoundStatement> {
        if delete.using.is_some() || !delete.tables.is_empty() {
            return Err(Error::Unsupported("DELETE ... USING".into()));
        }
        let from = match &delete.from {
            ast::FromTable::WithFromKeyword(from) | ast::FromTable::WithoutKeyword(from) => from,
        };
        let [from] = from.as_slice() else {
            return Err(Error::Unsupported("DELETE from several tables".into()));
        };
        let (table, source, scope) = self.target_scan(from, delete.selection.as_ref())?;
        let returning = self.bind_returning(delete.returning.as_deref(), &scope)?;
        Ok(BoundStatement::Delete {
            table: table.into(),
            source,
            returning,
        })
    }
}

/// `(SELECT basalt_row_i FROM (query) AS basalt_row(basalt_row_1, …))`:
/// column `alias` of a row sub-SELECT, as a scalar subquery.
fn row_column(query: &ast::Query, aliases: &[String], alias: &str) -> Result<ast::Expr> {
    parse_expr(&format!(
        "(SELECT {alias} FROM ({query}) AS basalt_row({}))",
        aliases.join(", ")
    ))
}

/// Resolves an INSERT or UPDATE target column: its index and name.
fn target_column(table: &Table, column: &ast::ObjectName) -> Result<(usize, String)> {
    // `SET a.b = …` names column `a` (and its field `b`), as PostgreSQL
    // reads it: a qualified name is not the table's.
    let name = column
        .0
        .first()
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
    if let Some(field) = column.0.get(1).and_then(|p| p.as_ident()) {
        return Err(Error::sql(
            SqlState::DATATYPE_MISMATCH,
            format!(
                "cannot assign to field \"{}\" of column \"{name}\" because its type {} is not a composite type",
                ident_name(field),
                table.columns[index].data_type.name()
            ),
        ));
    }
    Ok((index, name))
}
