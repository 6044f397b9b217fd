//! FROM binding: tables, views, common table expressions, subqueries,
//! table functions and joins → a plan and the scope its columns form.
//!
//! A comma list is a chain of cross joins, left to right. Each item and
//! each joined relation gets fresh column ids, so a self join's two sides
//! are different columns. `JOIN … USING (a)` and `NATURAL JOIN` merge the
//! named columns: unqualified `a` (and `*`) see one merged column, the
//! left one for INNER and LEFT joins, the right one for RIGHT, and
//! `COALESCE(left, right)` for FULL; `t.a` still reaches each side.
//!
//! A LATERAL item, and any function in FROM (implicitly lateral, as in
//! PostgreSQL), sees the items before it: their scope is pushed as an
//! enclosing level while it binds, so its references to them become free
//! columns of its plan, and the join runs it once per left row
//! (`JoinStrategy::Parameterized`).

use sqlparser::ast::{self, JoinConstraint, JoinOperator, TableFactor};

use super::expr::Typed;
use super::scope::{Scope, ScopeColumn};
use super::{Binder, ident_name, object_name};
use crate::error::{Error, Result, SqlState};
use crate::sql::catalog::{self, Relation, View};
use crate::sql::expr::{BinaryOp, ColumnId, Expr, Function};
use crate::sql::parser::parse_query;
use crate::sql::plan::{Column, JoinKind, JoinStrategy, LogicalPlan, TableFunction};
use crate::sql::statistics::{self, view::PG_STATS_COLUMNS};
use crate::sql::types::DataType;

/// The most relations one query may read (joined, listed, or nested in
/// views); beyond it PostgreSQL would still plan, slowly, but every plan
/// stage recurses over joins, so basalt refuses with 54001.
pub const MAX_RELATIONS: usize = 1000;

impl Binder<'_> {
    /// The FROM clause: its plan and scope (one empty row for none).
    pub(crate) fn bind_from(
        &mut self,
        from: &[ast::TableWithJoins],
    ) -> Result<(LogicalPlan, Scope)> {
        let mut result: Option<(LogicalPlan, Scope)> = None;
        for item in from {
            result = Some(match result {
                None => self.bind_table_with_joins(item, None)?,
                Some((left, left_scope)) => {
                    let (right, right_scope) =
                        self.bind_table_with_joins(item, Some(&left_scope))?;
                    let scope = combine(left_scope, right_scope)?;
                    (join(left, right, JoinKind::Inner, None), scope)
                }
            });
        }
        Ok(result.unwrap_or_else(|| {
            (
                LogicalPlan::Values {
                    columns: Vec::new(),
                    rows: vec![Vec::new()],
                },
                Scope::default(),
            )
        }))
    }

    /// One comma-separated FROM item: a relation and its joins.
    /// `preceding` is the scope of the items before it, for LATERAL.
    fn bind_table_with_joins(
        &mut self,
        item: &ast::TableWithJoins,
        preceding: Option<&Scope>,
    ) -> Result<(LogicalPlan, Scope)> {
        let (mut plan, mut scope) = self.bind_table_factor(&item.relation, preceding)?;
        for joined in &item.joins {
            let (kind, constraint) = match &joined.join_operator {
                JoinOperator::Join(c) | JoinOperator::Inner(c) => (JoinKind::Inner, c),
                JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => (JoinKind::Left, c),
                JoinOperator::Right(c) | JoinOperator::RightOuter(c) => (JoinKind::Right, c),
                JoinOperator::FullOuter(c) => (JoinKind::Full, c),
                JoinOperator::CrossJoin(c) => (JoinKind::Inner, c),
                other => return Err(Error::Unsupported(format!("join {other:?}"))),
            };
            // The right side of a join sees the left only if LATERAL; with
            // both the preceding items and this join's left side.
            let mut visible = preceding.cloned().unwrap_or_default();
            visible.extend(scope.clone());
            let (right, right_scope) = self.bind_table_factor(&joined.relation, Some(&visible))?;
            (plan, scope) = self.bind_join(plan, scope, right, right_scope, kind, constraint)?;
        }
        Ok((plan, scope))
    }

    fn bind_join(
        &mut self,
        left: LogicalPlan,
        left_scope: Scope,
        right: LogicalPlan,
        right_scope: Scope,
        kind: JoinKind,
        constraint: &JoinConstraint,
    ) -> Result<(LogicalPlan, Scope)> {
        if matches!(kind, JoinKind::Right | JoinKind::Full) && !is_closed(&right, &left) {
            return Err(Error::sql(
                SqlState::INVALID_COLUMN_REFERENCE,
                "invalid reference to FROM-clause entry: the right side of a RIGHT or FULL \
                 JOIN cannot be LATERAL",
            ));
        }
        let using: Vec<String> = match constraint {
            JoinConstraint::On(condition) => {
                let scope = combine(left_scope, right_scope)?;
                let condition = self.bind_condition(condition, &scope, None, "JOIN/ON")?;
                return Ok((join(left, right, kind, Some(condition)), scope));
            }
            JoinConstraint::None => {
                let scope = combine(left_scope, right_scope)?;
                return Ok((join(left, right, kind, None), scope));
            }
            JoinConstraint::Using(names) => names
                .iter()
                .map(|name| {
                    name.0
                        .last()
                        .and_then(|part| part.as_ident())
                        .map(ident_name)
                        .unwrap_or_default()
                })
                .collect(),
            JoinConstraint::Natural => {
                let right_names: Vec<&str> =
                    right_scope.star().iter().map(|c| c.name.as_str()).collect();
                let mut names: Vec<String> = Vec::new();
                for column in left_scope.star() {
                    if right_names.contains(&column.name.as_str()) && !names.contains(&column.name)
                    {
                        names.push(column.name.clone());
                    }
                }
                names
            }
            JoinConstraint::UsingAlias(..) => {
                return Err(Error::Unsupported("JOIN USING … AS alias".into()));
            }
        };
        self.bind_using(left, left_scope, right, right_scope, kind, &using)
    }

    /// `USING (names)` (and NATURAL): equality on each name, one merged
    /// column each.
    fn bind_using(
        &mut self,
        left: LogicalPlan,
        mut left_scope: Scope,
        right: LogicalPlan,
        mut right_scope: Scope,
        kind: JoinKind,
        names: &[String],
    ) -> Result<(LogicalPlan, Scope)> {
        let mut conjuncts = Vec::new();
        let mut merged: Vec<(String, ColumnId, ColumnId, DataType)> = Vec::new();
        for name in names {
            if merged.iter().any(|(n, ..)| n == name) {
                return Err(Error::sql(
                    SqlState::DUPLICATE_COLUMN,
                    format!("column name \"{name}\" appears more than once in USING clause"),
                ));
            }
            let side = |scope: &Scope, which: &str| -> Result<(ColumnId, DataType)> {
                let matching: Vec<&ScopeColumn> = scope
                    .star()
                    .into_iter()
                    .filter(|c| c.name == *name)
                    .collect();
                match matching.as_slice() {
                    [one] => Ok((one.id, one.data_type)),
                    [] => Err(Error::sql(
                        SqlState::UNDEFINED_COLUMN,
                        format!(
                            "column \"{name}\" specified in USING clause does not exist in {which} table"
                        ),
                    )),
                    _ => Err(Error::sql(
                        SqlState::AMBIGUOUS_COLUMN,
                        format!(
                            "common column name \"{name}\" appears more than once in {which} table"
                        ),
                    )),
                }
            };
            let (left_id, left_type) = side(&left_scope, "left")?;
            let (right_id, right_type) = side(&right_scope, "right")?;
            let condition = self.bind_comparison(
                BinaryOp::Equal,
                Typed {
                    expr: Expr::Column(left_id),
                    data_type: Some(left_type),
                },
                Typed {
                    expr: Expr::Column(right_id),
                    data_type: Some(right_type),
                },
            )?;
            conjuncts.push(condition);
            let data_type = self.common_type(left_type, right_type, "JOIN/USING")?;
            merged.push((name.clone(), left_id, right_id, data_type));
        }
        let condition = Expr::conjunction(conjuncts);
        let mut plan = join(left, right, kind, condition);
        for scope in [&mut left_scope, &mut right_scope] {
            for column in &mut scope.columns {
                if merged.iter().any(|(name, ..)| *name == column.name) {
                    column.hidden = true;
                }
            }
        }
        let mut scope = Scope::default();
        let mut full_exprs = Vec::new();
        for (name, left_id, right_id, data_type) in &merged {
            let id = match kind {
                JoinKind::Right => *right_id,
                JoinKind::Full => {
                    let id = self.columns.add(name.clone(), *data_type);
                    let side = |id: ColumnId, from: DataType| {
                        if from == *data_type {
                            Expr::Column(id)
                        } else {
                            Expr::Cast {
                                expr: Box::new(Expr::Column(id)),
                                to: *data_type,
                                explicit: false,
                            }
                        }
                    };
                    full_exprs.push((
                        id,
                        Expr::Function {
                            function: Function::Coalesce,
                            args: vec![
                                side(*left_id, self.columns.data_type(*left_id)),
                                side(*right_id, self.columns.data_type(*right_id)),
                            ],
                        },
                    ));
                    id
                }
                _ => *left_id,
            };
            scope.columns.push(ScopeColumn::new(
                None,
                name.clone(),
                id,
                self.columns.data_type(id),
            ));
        }
        scope.extend(combine(left_scope, right_scope)?);
        if !full_exprs.is_empty() {
            let passed = plan.output().into_iter().map(|id| (id, Expr::Column(id)));
            full_exprs.extend(passed);
            plan = LogicalPlan::Project {
                input: Box::new(plan),
                exprs: full_exprs,
            };
        }
        Ok((plan, scope))
    }

    /// One relation of FROM. `visible` is what a LATERAL item may see.
    fn bind_table_factor(
        &mut self,
        factor: &TableFactor,
        visible: Option<&Scope>,
    ) -> Result<(LogicalPlan, Scope)> {
        crate::sql::stack::check()?;
        self.relations += 1;
        if self.relations > MAX_RELATIONS {
            return Err(Error::sql(
                SqlState::STATEMENT_TOO_COMPLEX,
                format!("a query may read at most {MAX_RELATIONS} relations"),
            ));
        }
        match factor {
            TableFactor::Table {
                name,
                alias,
                args: None,
                with_hints,
                version: None,
                with_ordinality: false,
                partitions,
                json_path: None,
                sample: None,
                index_directives,
                ..
            } if with_hints.is_empty() && partitions.is_empty() && index_directives.is_empty() => {
                self.bind_named_relation(name, alias.as_ref())
            }
            TableFactor::Table {
                name,
                alias,
                args: Some(args),
                ..
            } => {
                let args: Vec<ast::FunctionArg> = args.args.clone();
                self.lateral(visible, |binder| {
                    binder.bind_table_function(name, &args, alias.as_ref())
                })
            }
            TableFactor::Function {
                name,
                args,
                alias,
                with_ordinality: false,
                ..
            } => self.lateral(visible, |binder| {
                binder.bind_table_function(name, args, alias.as_ref())
            }),
            TableFactor::Derived {
                lateral,
                subquery,
                alias,
                sample: None,
            } => {
                let Some(alias) = alias else {
                    return Err(Error::sql(
                        SqlState::SYNTAX_ERROR,
                        "subquery in FROM must have an alias",
                    ));
                };
                let bind = |binder: &mut Binder<'_>| binder.bind_query(subquery);
                let (plan, columns) = if *lateral {
                    self.lateral(visible, bind)?
                } else {
                    // Not LATERAL: the items before it are out of reach.
                    let invisible = visible.map(|scope| Scope {
                        invisible: true,
                        ..scope.clone()
                    });
                    self.lateral(invisible.as_ref(), bind)?
                };
                self.derived(plan, &columns, &ident_name(&alias.name), alias)
            }
            TableFactor::NestedJoin {
                table_with_joins,
                alias: None,
            } => self.bind_table_with_joins(table_with_joins, visible),
            TableFactor::NestedJoin { alias: Some(_), .. } => Err(Error::Unsupported(
                "an alias on a parenthesized join".into(),
            )),
            other => Err(Error::Unsupported(format!("FROM item {other}"))),
        }
    }

    /// Binds with `visible` pushed as an enclosing level, so the item can
    /// read the FROM items before it.
    fn lateral<T>(
        &mut self,
        visible: Option<&Scope>,
        bind: impl FnOnce(&mut Binder<'_>) -> Result<T>,
    ) -> Result<T> {
        let Some(visible) = visible else {
            return bind(self);
        };
        self.outer.push(visible.clone());
        let result = bind(self);
        self.outer.pop();
        result
    }

    /// A table, view or common table expression by name.
    fn bind_named_relation(
        &mut self,
        name: &ast::ObjectName,
        alias: Option<&ast::TableAlias>,
    ) -> Result<(LogicalPlan, Scope)> {
        if is_pg_stats(name) {
            return self.bind_pg_stats(alias);
        }
        let relation_name = object_name(name)?;
        if name.0.len() == 1
            && let Some(bound) = self.bind_cte_reference(&relation_name, alias)?
        {
            return Ok(bound);
        }
        let relation = catalog::require_relation(self.txn, &relation_name)?;
        self.dependencies.push(relation_name.clone());
        match relation {
            Relation::Table(table) => {
                let qualifier = alias.map_or(relation_name, |a| ident_name(&a.name));
                let (plan, mut scope) = self.scan(table, Some(&qualifier));
                if let Some(alias) = alias {
                    rename_columns(&mut scope, alias, &qualifier)?;
                }
                Ok((plan, scope))
            }
            Relation::Sequence(sequence) => Err(Error::Unsupported(format!(
                "reading sequence \"{}\" as a table",
                sequence.name
            ))),
            Relation::Index(index) => Err(Error::sql(
                SqlState::WRONG_OBJECT_TYPE,
                format!("\"{}\" is an index", index.name),
            )),
            Relation::View(view) => {
                let (plan, columns) = self.bind_view(&view)?;
                let qualifier = alias.map_or(view.name.clone(), |a| ident_name(&a.name));
                let scope = self.derived_scope(&plan, &columns, &qualifier, alias)?;
                Ok((plan, scope))
            }
        }
    }

    /// The `pg_stats` system view: its rows, read from the statistics in
    /// this statement's snapshot, as literal rows (a cached plan is made
    /// again after every `ANALYZE`, which raises the catalog generation).
    fn bind_pg_stats(&mut self, alias: Option<&ast::TableAlias>) -> Result<(LogicalPlan, Scope)> {
        let rows = statistics::view::pg_stats_rows(self.txn)?;
        let qualifier = alias.map_or("pg_stats".to_string(), |a| ident_name(&a.name));
        let mut scope = Scope::default();
        let mut columns = Vec::with_capacity(PG_STATS_COLUMNS.len());
        for (name, data_type) in PG_STATS_COLUMNS {
            let id = self.columns.add(name, data_type);
            self.columns.set_table(id, &qualifier);
            columns.push(id);
            scope.columns.push(ScopeColumn::new(
                Some(qualifier.clone()),
                name.to_string(),
                id,
                data_type,
            ));
        }
        if let Some(alias) = alias {
            rename_columns(&mut scope, alias, &qualifier)?;
        }
        let rows = rows
            .into_iter()
            .map(|row| row.into_iter().map(Expr::Literal).collect())
            .collect();
        Ok((LogicalPlan::Values { columns, rows }, scope))
    }

    /// A view's query, bound afresh (it sees no enclosing query).
    pub(crate) fn bind_view(&mut self, view: &View) -> Result<(LogicalPlan, Vec<Column>)> {
        let query = parse_query(&view.query)?;
        let outer = std::mem::take(&mut self.outer);
        let ctes = std::mem::take(&mut self.ctes);
        let result = self.bind_query(&query);
        self.outer = outer;
        self.ctes = ctes;
        let (plan, mut columns) = result?;
        for (column, name) in columns.iter_mut().zip(&view.columns) {
            column.name = name.clone();
        }
        Ok((plan, columns))
    }

    /// A subquery in FROM under `qualifier`.
    pub(crate) fn derived(
        &mut self,
        plan: LogicalPlan,
        columns: &[Column],
        qualifier: &str,
        alias: &ast::TableAlias,
    ) -> Result<(LogicalPlan, Scope)> {
        let scope = self.derived_scope(&plan, columns, qualifier, Some(alias))?;
        Ok((plan, scope))
    }

    /// The scope of a plan's output columns, named by `columns` (then by
    /// the alias's column list) and qualified by `qualifier`.
    pub(crate) fn derived_scope(
        &mut self,
        plan: &LogicalPlan,
        columns: &[Column],
        qualifier: &str,
        alias: Option<&ast::TableAlias>,
    ) -> Result<Scope> {
        let mut scope = Scope::default();
        for (id, column) in plan.output().into_iter().zip(columns) {
            scope.columns.push(ScopeColumn::new(
                Some(qualifier.to_string()),
                column.name.clone(),
                id,
                column.data_type,
            ));
        }
        if let Some(alias) = alias {
            rename_columns(&mut scope, alias, qualifier)?;
        }
        // A computed column is only seen through this FROM item: EXPLAIN
        // names it as the outer query does.
        for column in &scope.columns {
            if self.columns.get(column.id).table.is_none() {
                self.columns.rename(column.id, column.name.clone());
                self.columns.set_table(column.id, qualifier);
            }
        }
        Ok(scope)
    }

    /// `generate_series(start, stop [, step])` in FROM.
    fn bind_table_function(
        &mut self,
        name: &ast::ObjectName,
        args: &[ast::FunctionArg],
        alias: Option<&ast::TableAlias>,
    ) -> Result<(LogicalPlan, Scope)> {
        let function_name = object_name(name)?;
        if function_name != "generate_series" {
            return Err(Error::sql(
                SqlState::UNDEFINED_FUNCTION,
                format!("function {function_name} does not exist"),
            ));
        }
        let mut bound = Vec::with_capacity(args.len());
        for arg in args {
            let ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(expr)) = arg else {
                return Err(Error::Unsupported(format!("table function argument {arg}")));
            };
            bound.push(self.bind(expr, &Scope::default(), None)?);
        }
        if !(2..=3).contains(&bound.len()) {
            return Err(Error::sql(
                SqlState::UNDEFINED_FUNCTION,
                format!(
                    "function generate_series with {} arguments does not exist",
                    bound.len()
                ),
            ));
        }
        let is_time = |t: Option<DataType>| {
            matches!(
                t,
                Some(DataType::Date | DataType::Timestamp(_) | DataType::Timestamptz(_))
            )
        };
        let data_type = if bound.iter().take(2).any(|arg| is_time(arg.data_type)) {
            // Over timestamps: both ends timestamp, or else timestamptz (a
            // date takes the timestamptz variant), and an interval step.
            let plain = bound
                .iter()
                .take(2)
                .all(|arg| matches!(arg.data_type, Some(DataType::Timestamp(_)) | None));
            let data_type = if plain {
                DataType::Timestamp(None)
            } else {
                DataType::Timestamptz(None)
            };
            let step_ok = bound.len() == 3
                && matches!(bound[2].data_type, Some(DataType::Interval(_)) | None);
            let ends_ok = bound
                .iter()
                .take(2)
                .all(|arg| arg.data_type.is_none() || is_time(arg.data_type));
            if !step_ok || !ends_ok {
                return Err(no_series(&bound));
            }
            let step = bound.pop().expect("invariant: three arguments");
            let step = self.coerce(step, DataType::Interval(None))?;
            let mut exprs = Vec::with_capacity(3);
            for arg in bound {
                exprs.push(self.coerce(arg, data_type)?);
            }
            exprs.push(step);
            return self.series_plan(exprs, data_type, alias);
        } else {
            // The widest integer type among the arguments (unknown literals
            // are integers), as PostgreSQL resolves generate_series(int, int).
            let mut data_type = DataType::Integer;
            for arg in &bound {
                match arg.data_type {
                    None | Some(DataType::SmallInt | DataType::Integer) => {}
                    Some(DataType::BigInt) => data_type = DataType::BigInt,
                    Some(_) => return Err(no_series(&bound)),
                }
            }
            data_type
        };
        let mut exprs = Vec::with_capacity(bound.len());
        for arg in bound {
            exprs.push(self.coerce_cast(arg, data_type)?);
        }
        self.series_plan(exprs, data_type, alias)
    }

    /// The plan and scope of `generate_series` over bound arguments.
    fn series_plan(
        &mut self,
        mut exprs: Vec<Expr>,
        data_type: DataType,
        alias: Option<&ast::TableAlias>,
    ) -> Result<(LogicalPlan, Scope)> {
        let step = if exprs.len() == 3 { exprs.pop() } else { None };
        let stop = exprs.pop().expect("invariant: two or three arguments");
        let start = exprs.pop().expect("invariant: two or three arguments");
        let qualifier = alias.map_or("generate_series".to_string(), |a| ident_name(&a.name));
        let id = self.columns.add(qualifier.clone(), data_type);
        let plan = LogicalPlan::TableFunction {
            function: TableFunction::GenerateSeries {
                start,
                stop,
                step,
                data_type,
            },
            columns: vec![id],
        };
        let mut scope = Scope::default();
        scope.columns.push(ScopeColumn::new(
            Some(qualifier.clone()),
            qualifier.clone(),
            id,
            data_type,
        ));
        if let Some(alias) = alias {
            rename_columns(&mut scope, alias, &qualifier)?;
        }
        Ok((plan, scope))
    }
}

/// 42883 for `generate_series` over argument types it has no variant for.
fn no_series(bound: &[super::expr::Typed]) -> Error {
    let names: Vec<String> = bound
        .iter()
        .map(|a| a.data_type.map_or("unknown".into(), |t| t.name()))
        .collect();
    Error::sql(
        SqlState::UNDEFINED_FUNCTION,
        format!(
            "function generate_series({}) does not exist",
            names.join(", ")
        ),
    )
}

/// `pg_stats` or `pg_catalog.pg_stats` (the system schema comes first in
/// PostgreSQL's search path, so a table of that name would not hide it).
fn is_pg_stats(name: &ast::ObjectName) -> bool {
    let parts: Vec<Option<String>> = name
        .0
        .iter()
        .map(|part| part.as_ident().map(ident_name))
        .collect();
    match parts.as_slice() {
        [Some(view)] => view == "pg_stats",
        [Some(schema), Some(view)] => schema == "pg_catalog" && view == "pg_stats",
        _ => false,
    }
}

/// The scope of two FROM items side by side; one name for two of them is
/// 42712, as in PostgreSQL.
fn combine(mut left: Scope, right: Scope) -> Result<Scope> {
    for column in &right.columns {
        if let Some(table) = &column.table
            && left.has_table(table)
        {
            return Err(Error::sql(
                SqlState::DUPLICATE_ALIAS,
                format!("table name \"{table}\" specified more than once"),
            ));
        }
    }
    left.extend(right);
    Ok(left)
}

/// A join with the default strategy, parameterized when the right side
/// reads the left's columns (LATERAL).
pub(crate) fn join(
    left: LogicalPlan,
    right: LogicalPlan,
    kind: JoinKind,
    condition: Option<Expr>,
) -> LogicalPlan {
    let strategy = if is_closed(&right, &left) {
        JoinStrategy::NestedLoop
    } else {
        JoinStrategy::Parameterized
    };
    LogicalPlan::Join {
        left: Box::new(left),
        right: Box::new(right),
        kind,
        condition,
        strategy,
    }
}

/// Whether `right` reads none of `left`'s columns.
fn is_closed(right: &LogicalPlan, left: &LogicalPlan) -> bool {
    let left_columns = left.output();
    right
        .free_columns()
        .iter()
        .all(|id| !left_columns.contains(id))
}

/// Applies a FROM alias's column list: the first columns take its names
/// (too many names is 42P10, as in PostgreSQL's "has N columns available").
fn rename_columns(scope: &mut Scope, alias: &ast::TableAlias, qualifier: &str) -> Result<()> {
    if alias.columns.len() > scope.columns.len() {
        return Err(Error::sql(
            SqlState::INVALID_COLUMN_REFERENCE,
            format!(
                "table \"{qualifier}\" has {} columns available but {} columns specified",
                scope.columns.len(),
                alias.columns.len()
            ),
        ));
    }
    for (column, name) in scope.columns.iter_mut().zip(&alias.columns) {
        column.name = ident_name(&name.name);
    }
    Ok(())
}
