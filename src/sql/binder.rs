//! Statement binding: sqlparser statements → [`BoundStatement`]s holding
//! typed expressions and query [`Plan`]s, resolved against the catalog as
//! seen by the current transaction.
//!
//! A SELECT binds in this order, mirroring SQL's logical evaluation:
//! FROM (one table or none) → WHERE → GROUP BY / aggregates → HAVING →
//! select list → DISTINCT → ORDER BY → LIMIT/OFFSET. ORDER BY may name an
//! output column (by alias or position) or any expression over the input;
//! extra sort expressions ride along as hidden trailing columns and are cut
//! by a final projection.

use sqlparser::ast::{self, SelectItem, SetExpr, Statement, TableFactor};

use super::bind_expr::{
    ExprBinder, Grouping, Scope, ScopeColumn, Typed, bind_data_type, ident_name,
};
use super::bind_function::{aggregate_function, function_name};
use super::catalog::{self, Table, TableColumn};
use super::expr::Expr;
use super::plan::{Plan, SortKey, access_path};
use super::session::Column;
use super::types::DataType;
use crate::error::{Error, Result, SqlState};
use crate::txn::{IsolationLevel, Transaction};

/// A bound statement, ready to execute.
#[derive(Clone, Debug)]
pub enum BoundStatement {
    Query {
        plan: Plan,
        columns: Vec<Column>,
    },
    Explain {
        plan: Plan,
    },
    Insert {
        table: Table,
        source: Plan,
    },
    Update {
        table: Table,
        source: Plan,
        assignments: Vec<(usize, Expr)>,
    },
    Delete {
        table: Table,
        source: Plan,
    },
    CreateTable {
        table: Table,
        if_not_exists: bool,
    },
    DropTable {
        names: Vec<String>,
        if_exists: bool,
    },
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
    /// `[NOT] DEFERRABLE`, which the SQL parser does not know: the session
    /// fills it in from `sql/deferrable.rs`.
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

/// Binds statements within one transaction.
pub struct Binder<'a> {
    pub txn: &'a mut Transaction,
    pub exprs: ExprBinder,
}

pub(crate) fn object_name(name: &ast::ObjectName) -> Result<String> {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|part| part.as_ident().map(ident_name).unwrap_or_default())
        .collect();
    match parts.as_slice() {
        [table] => Ok(table.clone()),
        [schema, table] if schema == "public" => Ok(table.clone()),
        _ => Err(Error::Unsupported(format!("schema-qualified name {name}"))),
    }
}

/// The output column name PostgreSQL gives an unaliased select expression.
fn column_name(expr: &ast::Expr) -> String {
    match expr {
        ast::Expr::Identifier(ident) => ident_name(ident),
        ast::Expr::CompoundIdentifier(parts) => parts.last().map(ident_name).unwrap_or_default(),
        ast::Expr::Function(function) => function_name(function),
        ast::Expr::Nested(inner) => column_name(inner),
        ast::Expr::Cast {
            expr, data_type, ..
        } => match column_name(expr).as_str() {
            "?column?" => match bind_data_type(data_type) {
                Ok(DataType::Boolean) => "bool".into(),
                Ok(DataType::SmallInt) => "int2".into(),
                Ok(DataType::Integer) => "int4".into(),
                Ok(DataType::BigInt) => "int8".into(),
                Ok(DataType::Real) => "float4".into(),
                Ok(DataType::Double) => "float8".into(),
                Ok(DataType::Text) => "text".into(),
                Ok(DataType::Varchar(_)) => "varchar".into(),
                Err(_) => "?column?".into(),
            },
            name => name.to_string(),
        },
        ast::Expr::Case { .. } => "case".into(),
        ast::Expr::Value(value) if matches!(value.value, ast::Value::Boolean(_)) => "bool".into(),
        _ => "?column?".into(),
    }
}

impl<'a> Binder<'a> {
    pub fn new(txn: &'a mut Transaction, declared_params: &[Option<DataType>]) -> Binder<'a> {
        Binder {
            txn,
            exprs: ExprBinder::new(declared_params),
        }
    }

    pub fn bind_statement(&mut self, statement: &Statement) -> Result<BoundStatement> {
        match statement {
            Statement::Query(query) => {
                let (plan, columns) = self.bind_query(query)?;
                Ok(BoundStatement::Query { plan, columns })
            }
            Statement::Explain {
                statement, analyze, ..
            } => {
                if *analyze {
                    return Err(Error::Unsupported("EXPLAIN ANALYZE".into()));
                }
                match statement.as_ref() {
                    Statement::Query(query) => {
                        let (plan, _) = self.bind_query(query)?;
                        Ok(BoundStatement::Explain { plan })
                    }
                    other => Err(Error::Unsupported(format!(
                        "EXPLAIN of {}",
                        statement_kind(other)
                    ))),
                }
            }
            Statement::Insert(insert) => self.bind_insert(insert),
            Statement::Update(update) => self.bind_update(update),
            Statement::Delete(delete) => self.bind_delete(delete),
            Statement::CreateTable(create) => self.bind_create_table(create),
            Statement::Drop {
                object_type,
                if_exists,
                names,
                cascade,
                ..
            } => {
                if *object_type != ast::ObjectType::Table {
                    return Err(Error::Unsupported(format!("DROP {object_type}")));
                }
                if *cascade {
                    return Err(Error::Unsupported("DROP ... CASCADE".into()));
                }
                let names = names.iter().map(object_name).collect::<Result<_>>()?;
                Ok(BoundStatement::DropTable {
                    names,
                    if_exists: *if_exists,
                })
            }
            Statement::StartTransaction { .. }
            | Statement::Commit { .. }
            | Statement::Rollback { .. }
            | Statement::Savepoint { .. }
            | Statement::ReleaseSavepoint { .. }
            | Statement::Vacuum(_)
            | Statement::Set(_)
            | Statement::ShowVariable { .. } => Self::bind_control(statement),
            other => Err(Error::Unsupported(statement_kind(other))),
        }
    }

    /// Binds transaction control, SET and SHOW, which need no catalog.
    pub fn bind_control(statement: &Statement) -> Result<BoundStatement> {
        match statement {
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
                Ok(BoundStatement::Begin {
                    modes: transaction_modes(modes)?,
                    // The command tag echoes the spelling, as in PostgreSQL.
                    tag: if *begin { "BEGIN" } else { "START TRANSACTION" },
                })
            }
            Statement::Commit { chain: false, .. } => Ok(BoundStatement::Commit),
            Statement::Rollback {
                chain: false,
                savepoint: None,
            } => Ok(BoundStatement::Rollback),
            Statement::Rollback {
                chain: false,
                savepoint: Some(name),
            } => Ok(BoundStatement::RollbackToSavepoint {
                name: ident_name(name),
            }),
            Statement::Savepoint { name } => Ok(BoundStatement::Savepoint {
                name: ident_name(name),
            }),
            Statement::ReleaseSavepoint { name } => Ok(BoundStatement::ReleaseSavepoint {
                name: ident_name(name),
            }),
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
                Ok(BoundStatement::Vacuum {
                    table: vacuum.table_name.as_ref().map(object_name).transpose()?,
                })
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
                Ok(BoundStatement::Set { name, value })
            }
            Statement::Set(ast::Set::SetTransaction {
                modes,
                snapshot: None,
                session,
            }) => Ok(BoundStatement::SetTransaction {
                modes: transaction_modes(modes)?,
                session: *session,
            }),
            Statement::Set(ast::Set::SetTransaction {
                snapshot: Some(_), ..
            }) => Err(Error::Unsupported("SET TRANSACTION SNAPSHOT".into())),
            Statement::Set(ast::Set::SetTimeZone { value, .. }) => Ok(BoundStatement::Set {
                name: "timezone".into(),
                value: setting_value(value),
            }),
            Statement::ShowVariable { variable } => {
                let name = variable
                    .iter()
                    .map(|i| i.value.to_lowercase())
                    .collect::<Vec<_>>()
                    .join(" ");
                Ok(BoundStatement::Show { name })
            }
            other => Err(Error::Unsupported(statement_kind(other))),
        }
    }

    fn table_scope(table: &Table, alias: Option<&str>) -> Scope {
        let qualifier = alias.unwrap_or(&table.name).to_string();
        Scope {
            columns: table
                .columns
                .iter()
                .map(|c| ScopeColumn {
                    table: Some(qualifier.clone()),
                    name: c.name.clone(),
                    data_type: c.data_type,
                })
                .collect(),
        }
    }

    /// Resolves the single table of a FROM/UPDATE/DELETE target.
    fn bind_relation(&mut self, from: &ast::TableWithJoins) -> Result<(Table, Option<String>)> {
        if !from.joins.is_empty() {
            return Err(Error::Unsupported("JOIN".into()));
        }
        match &from.relation {
            TableFactor::Table {
                name,
                alias,
                args: None,
                ..
            } => {
                let table = catalog::require_table(self.txn, &object_name(name)?)?;
                if let Some(alias) = alias
                    && !alias.columns.is_empty()
                {
                    return Err(Error::Unsupported("column aliases in FROM".into()));
                }
                Ok((table, alias.as_ref().map(|a| ident_name(&a.name))))
            }
            TableFactor::Derived { .. } => Err(Error::Unsupported("subqueries in FROM".into())),
            other => Err(Error::Unsupported(format!("FROM item {other}"))),
        }
    }

    fn filtered_scan(
        &mut self,
        table: &Table,
        scope: &Scope,
        selection: Option<&ast::Expr>,
    ) -> Result<Plan> {
        let filter = match selection {
            Some(selection) => Some(self.exprs.bind_condition(selection, scope, None, "WHERE")?),
            None => None,
        };
        Ok(access_path(
            table.clone(),
            filter,
            &self.exprs.param_types(),
        ))
    }

    pub fn bind_query(&mut self, query: &ast::Query) -> Result<(Plan, Vec<Column>)> {
        if query.with.is_some() {
            return Err(Error::Unsupported("WITH".into()));
        }
        if query.fetch.is_some() || !query.locks.is_empty() {
            return Err(Error::Unsupported("FETCH / FOR UPDATE".into()));
        }
        let select = match query.body.as_ref() {
            SetExpr::Select(select) => select,
            SetExpr::Values(values) => return self.bind_values_query(values, query),
            SetExpr::SetOperation { op, .. } => return Err(Error::Unsupported(format!("{op}"))),
            _ => return Err(Error::Unsupported(format!("query {}", query.body))),
        };
        // FROM
        let (mut plan, scope) = match select.from.as_slice() {
            [] => {
                if let Some(selection) = &select.selection {
                    let filter =
                        self.exprs
                            .bind_condition(selection, &Scope::default(), None, "WHERE")?;
                    (
                        Plan::Filter {
                            input: Box::new(Plan::Values { rows: vec![vec![]] }),
                            predicate: filter,
                        },
                        Scope::default(),
                    )
                } else {
                    (Plan::Values { rows: vec![vec![]] }, Scope::default())
                }
            }
            [from] => {
                let (table, alias) = self.bind_relation(from)?;
                let scope = Self::table_scope(&table, alias.as_deref());
                (
                    self.filtered_scan(&table, &scope, select.selection.as_ref())?,
                    scope,
                )
            }
            _ => return Err(Error::Unsupported("multiple tables in FROM (joins)".into())),
        };
        if select.having.is_some() && !matches!(select.group_by, ast::GroupByExpr::Expressions(..))
        {
            return Err(Error::Unsupported("HAVING".into()));
        }
        // Select list items, expanded.
        let mut items: Vec<(ast::Expr, String)> = Vec::new();
        for item in &select.projection {
            match item {
                SelectItem::UnnamedExpr(expr) => items.push((expr.clone(), column_name(expr))),
                SelectItem::ExprWithAlias { expr, alias } => {
                    items.push((expr.clone(), ident_name(alias)))
                }
                SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                    if scope.columns.is_empty() {
                        return Err(Error::sql(
                            SqlState::SYNTAX_ERROR,
                            "SELECT * with no tables specified is not valid",
                        ));
                    }
                    for column in &scope.columns {
                        let ident = ast::Ident::with_quote('"', column.name.clone());
                        items.push((ast::Expr::Identifier(ident), column.name.clone()));
                    }
                }
                other => return Err(Error::Unsupported(format!("select item {other}"))),
            }
        }
        // GROUP BY and aggregates.
        let group_exprs: Vec<ast::Expr> = match &select.group_by {
            ast::GroupByExpr::Expressions(exprs, modifiers) if modifiers.is_empty() => {
                exprs.clone()
            }
            _ => return Err(Error::Unsupported("GROUP BY ALL / modifiers".into())),
        };
        let mut grouping = Grouping {
            keys: Vec::new(),
            aggregates: Vec::new(),
        };
        for expr in &group_exprs {
            // GROUP BY may name an output column by position or alias.
            let resolved = match expr {
                _ if is_constant(expr) => {
                    let position = ordinal(expr, items.len(), "GROUP BY")?;
                    items[position].0.clone()
                }
                ast::Expr::Identifier(ident)
                    if scope.columns.iter().all(|c| c.name != ident_name(ident)) =>
                {
                    match items.iter().find(|(_, name)| *name == ident_name(ident)) {
                        Some((item, _)) => item.clone(),
                        None => expr.clone(),
                    }
                }
                _ => expr.clone(),
            };
            let bound = self.exprs.bind(&resolved, &scope, None)?;
            let (bound, _) = self.exprs.default_text(bound)?;
            grouping.keys.push((resolved, bound));
        }
        let has_aggregates = !group_exprs.is_empty()
            || select.having.is_some()
            || items.iter().any(|(expr, _)| contains_aggregate(expr))
            || order_exprs(query)
                .iter()
                .any(|o| contains_aggregate(&o.expr));
        let mut grouping = if has_aggregates { Some(grouping) } else { None };
        // Select list.
        let mut exprs = Vec::new();
        let mut columns = Vec::new();
        for (expr, name) in &items {
            let typed = self.exprs.bind(expr, &scope, grouping.as_mut())?;
            let (expr, data_type) = self.exprs.default_text(typed)?;
            exprs.push(expr);
            columns.push(Column {
                name: name.clone(),
                data_type,
            });
        }
        let having = match &select.having {
            Some(having) => {
                Some(
                    self.exprs
                        .bind_condition(having, &scope, grouping.as_mut(), "HAVING")?,
                )
            }
            None => None,
        };
        // ORDER BY: output columns by position or alias, else expressions over the input.
        let mut keys = Vec::new();
        let mut hidden = Vec::new();
        let distinct = match &select.distinct {
            None | Some(ast::Distinct::All) => false,
            Some(ast::Distinct::Distinct) => true,
            Some(_) => return Err(Error::Unsupported("DISTINCT ON".into())),
        };
        for order in order_exprs(query) {
            let descending = matches!(order.options.sort, Some(ast::OrderBySort::Desc));
            if matches!(order.options.sort, Some(ast::OrderBySort::Using(_))) {
                return Err(Error::Unsupported("ORDER BY USING".into()));
            }
            let nulls_first = order.options.nulls_first.unwrap_or(descending);
            let position = match &order.expr {
                _ if is_constant(&order.expr) => {
                    Some(ordinal(&order.expr, items.len(), "ORDER BY")?)
                }
                ast::Expr::Identifier(ident) => {
                    let name = ident_name(ident);
                    let matches: Vec<_> = items
                        .iter()
                        .enumerate()
                        .filter(|(_, (_, n))| *n == name)
                        .map(|(i, _)| i)
                        .collect();
                    match matches.as_slice() {
                        [only] => Some(*only),
                        [first, ..] if matches.iter().all(|i| exprs[*i] == exprs[*first]) => {
                            Some(*first)
                        }
                        [] => None,
                        _ => {
                            return Err(Error::sql(
                                SqlState::AMBIGUOUS_COLUMN,
                                format!("ORDER BY \"{name}\" is ambiguous"),
                            ));
                        }
                    }
                }
                _ => items.iter().position(|(item, _)| *item == order.expr),
            };
            let index = match position {
                Some(position) => position,
                None => {
                    if distinct {
                        return Err(Error::sql(
                            SqlState::INVALID_COLUMN_REFERENCE,
                            "for SELECT DISTINCT, ORDER BY expressions must appear in select list",
                        ));
                    }
                    let typed = self.exprs.bind(&order.expr, &scope, grouping.as_mut())?;
                    let (expr, _) = self.exprs.default_text(typed)?;
                    hidden.push(expr);
                    items.len() + hidden.len() - 1
                }
            };
            keys.push(SortKey {
                expr: Expr::Column(index),
                descending,
                nulls_first,
            });
        }
        // Assemble: Aggregate → Filter(HAVING) → Project → Distinct → Sort → Limit → Project.
        if let Some(grouping) = grouping {
            let group_by = grouping.keys.into_iter().map(|(_, bound)| bound).collect();
            plan = Plan::Aggregate {
                input: Box::new(plan),
                group_by,
                aggregates: grouping.aggregates,
            };
            if let Some(having) = having {
                plan = Plan::Filter {
                    input: Box::new(plan),
                    predicate: having,
                };
            }
        }
        let visible = exprs.len();
        let hidden_count = hidden.len();
        exprs.extend(hidden);
        plan = Plan::Project {
            input: Box::new(plan),
            exprs,
        };
        if distinct {
            plan = Plan::Distinct {
                input: Box::new(plan),
            };
        }
        if !keys.is_empty() {
            plan = Plan::Sort {
                input: Box::new(plan),
                keys,
            };
        }
        plan = self.bind_limit(plan, query)?;
        if hidden_count > 0 {
            plan = Plan::Project {
                input: Box::new(plan),
                exprs: (0..visible).map(Expr::Column).collect(),
            };
        }
        Ok((plan, columns))
    }

    fn bind_limit(&mut self, plan: Plan, query: &ast::Query) -> Result<Plan> {
        let (limit, offset) = match &query.limit_clause {
            None => (None, None),
            Some(ast::LimitClause::LimitOffset {
                limit,
                offset,
                limit_by,
            }) => {
                if !limit_by.is_empty() {
                    return Err(Error::Unsupported("LIMIT BY".into()));
                }
                (limit.clone(), offset.as_ref().map(|o| o.value.clone()))
            }
            Some(ast::LimitClause::OffsetCommaLimit { .. }) => {
                return Err(Error::sql(
                    SqlState::SYNTAX_ERROR,
                    "LIMIT #,# syntax is not supported",
                ));
            }
        };
        if limit.is_none() && offset.is_none() {
            return Ok(plan);
        }
        let mut bind_count = |expr: Option<ast::Expr>| -> Result<Option<Expr>> {
            let Some(expr) = expr else { return Ok(None) };
            if matches!(&expr, ast::Expr::Value(v) if v.value == ast::Value::Null) {
                return Ok(None);
            }
            let typed = self.exprs.bind(&expr, &Scope::default(), None)?;
            // A float count (`LIMIT 1.5`) must be cast, not just relabelled:
            // the executor reads the value as an integer.
            // (Integers are read as they are, keeping EXPLAIN plain.)
            Ok(Some(match typed.data_type {
                Some(DataType::Real | DataType::Double) => {
                    self.exprs.coerce_cast(typed, DataType::BigInt)?
                }
                _ => self.exprs.coerce(typed, DataType::BigInt)?,
            }))
        };
        let limit = bind_count(limit)?;
        let offset = bind_count(offset)?;
        Ok(Plan::Limit {
            input: Box::new(plan),
            limit,
            offset,
        })
    }

    fn bind_values_query(
        &mut self,
        values: &ast::Values,
        query: &ast::Query,
    ) -> Result<(Plan, Vec<Column>)> {
        let (rows, types) = self.bind_values(values, None)?;
        let columns = types
            .iter()
            .enumerate()
            .map(|(i, t)| Column {
                name: format!("column{}", i + 1),
                data_type: *t,
            })
            .collect();
        if !order_exprs(query).is_empty() {
            return Err(Error::Unsupported("ORDER BY on VALUES".into()));
        }
        let plan = self.bind_limit(Plan::Values { rows }, query)?;
        Ok((plan, columns))
    }

    /// Binds VALUES rows; with `targets`, each column is assignment-coerced
    /// to the target type, otherwise rows get a common type per column.
    fn bind_values(
        &mut self,
        values: &ast::Values,
        targets: Option<&[(DataType, String)]>,
    ) -> Result<(Vec<Vec<Expr>>, Vec<DataType>)> {
        let width = values.rows.first().map(|r| r.content.len()).unwrap_or(0);
        let mut typed_rows: Vec<Vec<Typed>> = Vec::new();
        for row in &values.rows {
            if row.content.len() != width {
                return Err(Error::sql(
                    SqlState::SYNTAX_ERROR,
                    "VALUES lists must all be the same length",
                ));
            }
            let mut typed = Vec::with_capacity(width);
            for expr in &row.content {
                if matches!(expr, ast::Expr::Identifier(ident) if ident.value.eq_ignore_ascii_case("default") && ident.quote_style.is_none())
                {
                    return Err(Error::Unsupported("DEFAULT in VALUES".into()));
                }
                typed.push(self.exprs.bind(expr, &Scope::default(), None)?);
            }
            typed_rows.push(typed);
        }
        let types: Vec<DataType> = match targets {
            Some(targets) => targets.iter().map(|(t, _)| *t).collect(),
            None => (0..width)
                .map(|i| {
                    typed_rows
                        .iter()
                        .filter_map(|row| row[i].data_type)
                        .try_fold(None::<DataType>, |acc, t| -> Result<Option<DataType>> {
                            Ok(Some(match acc {
                                None => t,
                                Some(a) if a == t => a,
                                Some(a) if a.is_numeric() && t.is_numeric() => {
                                    if a.numeric_rank() >= t.numeric_rank() {
                                        a
                                    } else {
                                        t
                                    }
                                }
                                Some(a) if a.is_text() && t.is_text() => DataType::Text,
                                Some(a) => {
                                    return Err(Error::sql(
                                        SqlState::DATATYPE_MISMATCH,
                                        format!(
                                            "VALUES types {} and {} cannot be matched",
                                            a.name(),
                                            t.name()
                                        ),
                                    ));
                                }
                            }))
                        })
                        .map(|t| t.unwrap_or(DataType::Text))
                })
                .collect::<Result<_>>()?,
        };
        let mut rows = Vec::with_capacity(typed_rows.len());
        for row in typed_rows {
            let mut bound = Vec::with_capacity(width);
            for (i, typed) in row.into_iter().enumerate() {
                let name = targets.map(|t| t[i].1.as_str()).unwrap_or("?column?");
                bound.push(self.exprs.coerce_assign(typed, types[i], name)?);
            }
            rows.push(bound);
        }
        Ok((rows, types))
    }

    fn bind_insert(&mut self, insert: &ast::Insert) -> Result<BoundStatement> {
        if insert.on.is_some() || insert.returning.is_some() {
            return Err(Error::Unsupported(
                "INSERT ... ON CONFLICT / RETURNING".into(),
            ));
        }
        let ast::TableObject::TableName(name) = &insert.table else {
            return Err(Error::Unsupported("INSERT INTO TABLE FUNCTION".into()));
        };
        let table = catalog::require_table(self.txn, &object_name(name)?)?;
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
        let target_types: Vec<(DataType, String)> = targets
            .iter()
            .map(|i| (table.columns[*i].data_type, table.columns[*i].name.clone()))
            .collect();
        let Some(source) = &insert.source else {
            return Err(Error::Unsupported("INSERT without a source".into()));
        };
        let (source_plan, source_width) = match source.body.as_ref() {
            SetExpr::Values(values)
                if source.order_by.is_none() && source.limit_clause.is_none() =>
            {
                let width = values.rows.first().map(|r| r.content.len()).unwrap_or(0);
                if width > targets.len() {
                    return Err(Error::sql(
                        SqlState::SYNTAX_ERROR,
                        "INSERT has more expressions than target columns",
                    ));
                }
                let (rows, _) = self.bind_values(values, Some(&target_types[..width]))?;
                (Plan::Values { rows }, width)
            }
            _ => {
                let (plan, columns) = self.bind_query(source)?;
                if columns.len() > targets.len() {
                    return Err(Error::sql(
                        SqlState::SYNTAX_ERROR,
                        "INSERT has more expressions than target columns",
                    ));
                }
                let mut exprs = Vec::new();
                for (i, column) in columns.iter().enumerate() {
                    let typed = Typed {
                        expr: Expr::Column(i),
                        data_type: Some(column.data_type),
                    };
                    exprs.push(self.exprs.coerce_assign(
                        typed,
                        target_types[i].0,
                        &target_types[i].1,
                    )?);
                }
                let width = columns.len();
                (
                    Plan::Project {
                        input: Box::new(plan),
                        exprs,
                    },
                    width,
                )
            }
        };
        // Full-width rows: source columns where given, defaults elsewhere.
        let mut full = Vec::with_capacity(table.columns.len());
        for (index, column) in table.columns.iter().enumerate() {
            match targets[..source_width].iter().position(|t| *t == index) {
                Some(position) => full.push(Expr::Column(position)),
                None => full.push(self.default_expr(column)?),
            }
        }
        let source = Plan::Project {
            input: Box::new(source_plan),
            exprs: full,
        };
        Ok(BoundStatement::Insert { table, source })
    }

    /// The bound DEFAULT of a column (NULL if none).
    pub(crate) fn default_expr(&mut self, column: &TableColumn) -> Result<Expr> {
        let Some(text) = &column.default else {
            return Ok(Expr::Literal(super::types::Value::Null));
        };
        let expr = parse_expr(text)?;
        let typed = self.exprs.bind(&expr, &Scope::default(), None)?;
        self.exprs
            .coerce_assign(typed, column.data_type, &column.name)
    }

    fn bind_update(&mut self, update: &ast::Update) -> Result<BoundStatement> {
        if update.from.is_some() || update.returning.is_some() {
            return Err(Error::Unsupported("UPDATE ... FROM / RETURNING".into()));
        }
        let (table, alias) = self.bind_relation(&update.table)?;
        let scope = Self::table_scope(&table, alias.as_deref());
        let source = self.filtered_scan(&table, &scope, update.selection.as_ref())?;
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
            let column = &table.columns[index];
            let expr = if matches!(&assignment.value, ast::Expr::Identifier(i) if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("default"))
            {
                self.default_expr(&column.clone())?
            } else {
                let typed = self.exprs.bind(&assignment.value, &scope, None)?;
                self.exprs
                    .coerce_assign(typed, column.data_type, &column.name)?
            };
            assignments.push((index, expr));
        }
        Ok(BoundStatement::Update {
            table,
            source,
            assignments,
        })
    }

    fn bind_delete(&mut self, delete: &ast::Delete) -> Result<BoundStatement> {
        if delete.using.is_some() || delete.returning.is_some() || !delete.tables.is_empty() {
            return Err(Error::Unsupported("DELETE ... USING / RETURNING".into()));
        }
        let from = match &delete.from {
            ast::FromTable::WithFromKeyword(from) | ast::FromTable::WithoutKeyword(from) => from,
        };
        let [from] = from.as_slice() else {
            return Err(Error::Unsupported("DELETE from several tables".into()));
        };
        let (table, alias) = self.bind_relation(from)?;
        let scope = Self::table_scope(&table, alias.as_deref());
        let source = self.filtered_scan(&table, &scope, delete.selection.as_ref())?;
        Ok(BoundStatement::Delete { table, source })
    }
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

/// Parses a standalone SQL expression (stored DEFAULTs).
pub fn parse_expr(text: &str) -> Result<ast::Expr> {
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    sqlparser::parser::Parser::new(&dialect)
        .try_with_sql(text)
        .and_then(|mut parser| parser.parse_expr())
        .map_err(|e| Error::sql(SqlState::SYNTAX_ERROR, e.to_string()))
}

fn order_exprs(query: &ast::Query) -> Vec<ast::OrderByExpr> {
    match &query.order_by {
        Some(ast::OrderBy {
            kind: ast::OrderByKind::Expressions(exprs),
            ..
        }) => exprs.clone(),
        _ => Vec::new(),
    }
}

/// Whether a GROUP BY / ORDER BY item is a bare constant, which PostgreSQL
/// takes as an output position (the grammar folds `-1` into a constant).
fn is_constant(expr: &ast::Expr) -> bool {
    match expr {
        ast::Expr::Value(v) => !matches!(v.value, ast::Value::Placeholder(_)),
        ast::Expr::UnaryOp {
            op: ast::UnaryOperator::Minus,
            expr,
        } => matches!(&**expr, ast::Expr::Value(v) if matches!(v.value, ast::Value::Number(..))),
        _ => false,
    }
}

/// Resolves a constant GROUP BY / ORDER BY item to an output position. Only
/// an int4 constant is a position; `1.5`, `'a'` or `NULL` is a syntax error
/// in PostgreSQL rather than a constant sort key.
fn ordinal(expr: &ast::Expr, count: usize, clause: &str) -> Result<usize> {
    let text = expr.to_string();
    match text.parse::<i32>() {
        Ok(n) if n >= 1 && n as usize <= count => Ok(n as usize - 1),
        Ok(_) => Err(Error::sql(
            SqlState::INVALID_COLUMN_REFERENCE,
            format!("{clause} position {text} is not in select list"),
        )),
        Err(_) => Err(Error::sql(
            SqlState::SYNTAX_ERROR,
            format!("non-integer constant in {clause}"),
        )),
    }
}

/// Whether an aggregate function is called anywhere in the expression.
fn contains_aggregate(expr: &ast::Expr) -> bool {
    ast::visit_expressions(expr, |e| match e {
        ast::Expr::Function(function) if aggregate_function(function).is_some() => {
            std::ops::ControlFlow::Break(())
        }
        _ => std::ops::ControlFlow::Continue(()),
    })
    .is_break()
}

/// A short name for a statement kind, for "not supported" messages.
pub fn statement_kind(statement: &Statement) -> String {
    let text = statement.to_string();
    let words: Vec<&str> = text.split_whitespace().take(2).collect();
    words.join(" ").to_uppercase()
}
