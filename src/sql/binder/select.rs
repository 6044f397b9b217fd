//! SELECT binding, in SQL's logical evaluation order:
//!
//! ```text
//!   FROM → WHERE → GROUP BY (grouping sets) / aggregates → HAVING
//!        → window functions → select list → DISTINCT [ON] → ORDER BY → LIMIT
//!
//!   Project(visible) ◄─ Limit ◄─ Sort ◄─ Distinct ◄─ Project(visible + hidden)
//!       ◄─ Window ◄─ Filter(HAVING) ◄─ Aggregate ◄─ Filter(WHERE) ◄─ FROM
//!   (DISTINCT ON sorts first, then keeps each run's first row)
//! ```
//!
//! ORDER BY may name an output column (by alias or position) or any
//! expression over the input; an extra sort expression rides along as a
//! hidden column of the projection and is cut by the final projection.
//!
//! Grouping: GROUP BY items may be output positions or aliases, and
//! `ROLLUP`, `CUBE` and `GROUPING SETS` expand into a list of grouping sets
//! (their cross product when several are listed). Grouping by a table's
//! whole primary key makes its other columns usable ungrouped, as in
//! PostgreSQL (they are functionally dependent on the key).

use sqlparser::ast::{self, SelectItem};

use super::expr::Grouping;
use super::query::{contains_aggregate, is_constant, ordinal};
use super::scope::{Scope, ScopeColumn};
use super::window::WindowContext;
use super::{Binder, ident_name};
use crate::error::{Error, Result, SqlState};
use crate::sql::expr::{ColumnId, Expr};
use crate::sql::plan::{Column, GroupingSets, LogicalPlan, SortKey};
use crate::sql::types::DataType;

/// One select-list item: its syntax and output name.
pub(super) type Item = (ast::Expr, String);

impl Binder<'_> {
    /// A SELECT with the ORDER BY and LIMIT that apply to it (`limit` holds
    /// the LIMIT; `None` inside a set operation).
    pub(crate) fn bind_select(
        &mut self,
        select: &ast::Select,
        order_by: &[ast::OrderByExpr],
        limit: Option<&ast::Query>,
    ) -> Result<(LogicalPlan, Vec<Column>)> {
        if select.top.is_some()
            || select.into.is_some()
            || !select.lateral_views.is_empty()
            || select.qualify.is_some()
            || !select.connect_by.is_empty()
            || !select.cluster_by.is_empty()
            || !select.sort_by.is_empty()
        {
            return Err(Error::Unsupported(format!("SELECT clause in {select}")));
        }
        // FROM and WHERE.
        let (mut plan, scope) = self.bind_from(&select.from)?;
        if let Some(selection) = &select.selection {
            let predicate = self.in_clause("WHERE", |b| {
                b.bind_condition(selection, &scope, None, "WHERE")
            })?;
            plan = LogicalPlan::Filter {
                input: Box::new(plan),
                predicate,
            };
        }
        let items = select_items(&select.projection, &scope)?;
        // GROUP BY and aggregates.
        let (group_exprs, sets) = expand_group_by(&select.group_by)?;
        let mut grouping = Grouping::default();
        let mut key_of: Vec<usize> = Vec::new();
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
            let bound = self.in_clause("GROUP BY", |b| b.bind(&resolved, &scope, None))?;
            let (bound, data_type) = self.default_text(bound)?;
            match grouping.keys.iter().position(|(_, b, _)| *b == bound) {
                Some(existing) => key_of.push(existing),
                None => {
                    let id = self.output_column(&bound, data_type);
                    key_of.push(grouping.keys.len());
                    grouping.keys.push((resolved, bound, id));
                }
            }
        }
        if let Some(sets) = sets {
            let sets: Vec<Vec<usize>> = sets
                .into_iter()
                .map(|set| {
                    let mut keys: Vec<usize> = set.into_iter().map(|i| key_of[i]).collect();
                    keys.sort_unstable();
                    keys.dedup();
                    keys
                })
                .collect();
            let id = self.columns.add("grouping set", DataType::Integer);
            grouping.sets = Some(GroupingSets { sets, id });
        }
        grouping.functional = self.functional_dependencies(&grouping);
        let has_aggregates = !group_exprs.is_empty()
            || select.having.is_some()
            || items.iter().any(|(expr, _)| contains_aggregate(expr))
            || order_by.iter().any(|o| contains_aggregate(&o.expr));
        let mut grouping = if has_aggregates { Some(grouping) } else { None };
        // The select list, with window functions allowed.
        // Window calls belong to this SELECT: an enclosing one's context
        // is set aside while it binds (and restored whatever happens).
        let outer_windows = self
            .windows
            .replace(WindowContext::new(&select.named_window)?);
        let bound_items = self.bind_items(&items, &scope, grouping.as_mut());
        let windows = std::mem::replace(&mut self.windows, outer_windows);
        let (mut exprs, columns) = bound_items?;
        let windows =
            windows.ok_or_else(|| Error::Internal("the window calls were lost".into()))?;
        let having = match &select.having {
            Some(having) => Some(self.in_clause("HAVING", |b| {
                b.bind_condition(having, &scope, grouping.as_mut(), "HAVING")
            })?),
            None => None,
        };
        // DISTINCT [ON] and ORDER BY.
        let distinct = match &select.distinct {
            None | Some(ast::Distinct::All) => Distinct::None,
            Some(ast::Distinct::Distinct) => Distinct::All,
            Some(ast::Distinct::On(on)) => Distinct::On(on.clone()),
        };
        let outer_windows = self.windows.replace(windows);
        let ordered = self.bind_order(
            order_by,
            &distinct,
            &items,
            &mut exprs,
            &scope,
            grouping.as_mut(),
        );
        let windows = std::mem::replace(&mut self.windows, outer_windows);
        let (order, distinct_on) = ordered?;
        let windows =
            windows.ok_or_else(|| Error::Internal("the window calls were lost".into()))?;
        // Assemble.
        if let Some(grouping) = grouping {
            plan = LogicalPlan::Aggregate {
                input: Box::new(plan),
                group_by: grouping
                    .keys
                    .into_iter()
                    .map(|(_, bound, id)| (id, bound))
                    .collect(),
                aggregates: grouping
                    .aggregates
                    .into_iter()
                    .map(|(aggregate, id)| (id, aggregate))
                    .collect(),
                grouping_sets: grouping.sets,
            };
            if let Some(having) = having {
                plan = LogicalPlan::Filter {
                    input: Box::new(plan),
                    predicate: having,
                };
            }
        }
        if !windows.calls.is_empty() {
            plan = LogicalPlan::Window {
                input: Box::new(plan),
                functions: windows.calls,
            };
        }
        let visible = columns.len();
        let projected: Vec<(ColumnId, Expr)> = exprs
            .into_iter()
            .map(|(expr, data_type, unknown)| {
                let id = self.output_column(&expr, data_type);
                if unknown {
                    // A set operation may still give it another type.
                    self.unknown_columns.insert(id);
                }
                (id, expr)
            })
            .collect();
        let output: Vec<ColumnId> = projected.iter().map(|(id, _)| *id).collect();
        let hidden = output.len() > visible;
        plan = LogicalPlan::Project {
            input: Box::new(plan),
            exprs: projected,
        };
        let sort_keys: Vec<SortKey> = order
            .into_iter()
            .map(|(index, descending, nulls_first)| SortKey {
                expr: Expr::Column(output[index]),
                descending,
                nulls_first,
            })
            .collect();
        match distinct_on {
            Some(on) => {
                // Sort by ORDER BY (which starts with the ON expressions),
                // or by the ON expressions alone, then keep each run's first.
                let keys = if sort_keys.is_empty() {
                    on.iter()
                        .map(|index| SortKey {
                            expr: Expr::Column(output[*index]),
                            descending: false,
                            nulls_first: false,
                        })
                        .collect()
                } else {
                    sort_keys
                };
                plan = LogicalPlan::Sort {
                    input: Box::new(plan),
                    keys,
                };
                plan = LogicalPlan::DistinctOn {
                    input: Box::new(plan),
                    on: on
                        .iter()
                        .map(|index| Expr::Column(output[*index]))
                        .collect(),
                };
            }
            None => {
                if matches!(distinct, Distinct::All) {
                    plan = LogicalPlan::Distinct {
                        input: Box::new(plan),
                    };
                }
                if !sort_keys.is_empty() {
                    plan = LogicalPlan::Sort {
                        input: Box::new(plan),
                        keys: sort_keys,
                    };
                }
            }
        }
        if let Some(query) = limit {
            plan = self.bind_limit(plan, query)?;
        }
        if hidden {
            plan = LogicalPlan::Project {
                input: Box::new(plan),
                exprs: output[..visible]
                    .iter()
                    .map(|id| (*id, Expr::Column(*id)))
                    .collect(),
            };
        }
        Ok((plan, columns))
    }

    /// Runs `bind` with window functions refused as in `clause`.
    pub(crate) fn in_clause<T>(
        &mut self,
        clause: &'static str,
        bind: impl FnOnce(&mut Binder<'_>) -> Result<T>,
    ) -> Result<T> {
        let outer = std::mem::replace(&mut self.clause, clause);
        let windows = self.windows.take();
        let result = bind(self);
        self.windows = windows;
        self.clause = outer;
        result
    }

    /// The select list: each item bound, its type, and whether it is an
    /// unknown-typed literal (which a set operation may still type).
    #[allow(clippy::type_complexity)]
    fn bind_items(
        &mut self,
        items: &[Item],
        scope: &Scope,
        mut grouping: Option<&mut Grouping>,
    ) -> Result<(Vec<(Expr, DataType, bool)>, Vec<Column>)> {
        let mut exprs = Vec::with_capacity(items.len());
        let mut columns = Vec::with_capacity(items.len());
        for (expr, name) in items {
            let typed = self.bind(expr, scope, grouping.as_deref_mut())?;
            let unknown = typed.data_type.is_none();
            let (expr, data_type) = self.default_text(typed)?;
            exprs.push((expr, data_type, unknown));
            columns.push(Column {
                name: name.clone(),
                data_type,
            });
        }
        Ok((exprs, columns))
    }

    /// ORDER BY (and DISTINCT ON): each key as a position among the select
    /// items, extra expressions appended as hidden items. Returns the sort
    /// keys `(item, descending, nulls first)` and, for DISTINCT ON, its
    /// items.
    #[allow(clippy::type_complexity)]
    fn bind_order(
        &mut self,
        order_by: &[ast::OrderByExpr],
        distinct: &Distinct,
        items: &[Item],
        exprs: &mut Vec<(Expr, DataType, bool)>,
        scope: &Scope,
        mut grouping: Option<&mut Grouping>,
    ) -> Result<(Vec<(usize, bool, bool)>, Option<Vec<usize>>)> {
        let visible = items.len();
        let mut locate = |binder: &mut Binder<'_>,
                          expr: &ast::Expr,
                          clause: &str,
                          exprs: &mut Vec<(Expr, DataType, bool)>|
         -> Result<usize> {
            let position = match expr {
                _ if is_constant(expr) => Some(ordinal(expr, visible, clause)?),
                ast::Expr::Identifier(ident) => {
                    let name = ident_name(ident);
                    let matches: Vec<usize> = items[..visible]
                        .iter()
                        .enumerate()
                        .filter(|(_, (_, n))| *n == name)
                        .map(|(i, _)| i)
                        .collect();
                    match matches.as_slice() {
                        [only] => Some(*only),
                        [first, ..] if matches.iter().all(|i| exprs[*i].0 == exprs[*first].0) => {
                            Some(*first)
                        }
                        [] => None,
                        _ => {
                            return Err(Error::sql(
                                SqlState::AMBIGUOUS_COLUMN,
                                format!("{clause} \"{name}\" is ambiguous"),
                            ));
                        }
                    }
                }
                _ => items[..visible].iter().position(|(item, _)| item == expr),
            };
            if let Some(position) = position {
                return Ok(position);
            }
            if matches!(distinct, Distinct::All) {
                return Err(Error::sql(
                    SqlState::INVALID_COLUMN_REFERENCE,
                    "for SELECT DISTINCT, ORDER BY expressions must appear in select list",
                ));
            }
            let typed = binder.bind(expr, scope, grouping.as_deref_mut())?;
            let (bound, data_type) = binder.default_text(typed)?;
            if let Some(existing) = exprs[visible..].iter().position(|(e, ..)| *e == bound) {
                return Ok(visible + existing);
            }
            exprs.push((bound, data_type, false));
            Ok(exprs.len() - 1)
        };
        let distinct_on = match distinct {
            Distinct::On(on) => {
                let mut positions = Vec::with_capacity(on.len());
                for expr in on {
                    positions.push(locate(self, expr, "DISTINCT ON", exprs)?);
                }
                Some(positions)
            }
            _ => None,
        };
        let mut order = Vec::with_capacity(order_by.len());
        for item in order_by {
            if matches!(item.options.sort, Some(ast::OrderBySort::Using(_))) {
                return Err(Error::Unsupported("ORDER BY USING".into()));
            }
            let descending = matches!(item.options.sort, Some(ast::OrderBySort::Desc));
            let nulls_first = item.options.nulls_first.unwrap_or(descending);
            let index = locate(self, &item.expr, "ORDER BY", exprs)?;
            order.push((index, descending, nulls_first));
        }
        if let Some(on) = &distinct_on
            && !order.is_empty()
        {
            // The leading ORDER BY items must be the DISTINCT ON items.
            let leading: Vec<usize> = order.iter().take(on.len()).map(|(i, ..)| *i).collect();
            let mut expected = on.clone();
            expected.sort_unstable();
            expected.dedup();
            let mut got = leading.clone();
            got.sort_unstable();
            got.dedup();
            if order.len() < on.len() || got != expected {
                return Err(Error::sql(
                    SqlState::INVALID_COLUMN_REFERENCE,
                    "SELECT DISTINCT ON expressions must match initial ORDER BY expressions",
                ));
            }
        }
        Ok((order, distinct_on))
    }

    /// The columns made usable ungrouped by grouping on their table's whole
    /// primary key (only without grouping sets, where a key column could be
    /// NULL in some sets).
    fn functional_dependencies(&self, grouping: &Grouping) -> Vec<ColumnId> {
        if grouping.sets.is_some() {
            return Vec::new();
        }
        let grouped: Vec<ColumnId> = grouping
            .keys
            .iter()
            .filter_map(|(_, bound, _)| match bound {
                Expr::Column(id) => Some(*id),
                _ => None,
            })
            .collect();
        self.keyed_tables
            .iter()
            .filter(|(key, _)| !key.is_empty() && key.iter().all(|id| grouped.contains(id)))
            .flat_map(|(_, columns)| columns.iter().copied())
            .collect()
    }
}

/// What DISTINCT a SELECT asks for.
enum Distinct {
    None,
    All,
    On(Vec<ast::Expr>),
}

/// A select list (or RETURNING list) with `*` and `t.*` expanded into
/// column references.
pub(super) fn select_items(projection: &[SelectItem], scope: &Scope) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    for item in projection {
        match item {
            SelectItem::UnnamedExpr(expr) => {
                items.push((expr.clone(), super::query::column_name(expr)))
            }
            SelectItem::ExprWithAlias { expr, alias } => {
                items.push((expr.clone(), ident_name(alias)))
            }
            SelectItem::Wildcard(_) => {
                if scope.columns.is_empty() {
                    return Err(Error::sql(
                        SqlState::SYNTAX_ERROR,
                        "SELECT * with no tables specified is not valid",
                    ));
                }
                for column in scope.star() {
                    items.push((column_reference(column), column.name.clone()));
                }
            }
            SelectItem::QualifiedWildcard(
                ast::SelectItemQualifiedWildcardKind::ObjectName(name),
                _,
            ) => {
                let table = name
                    .0
                    .last()
                    .and_then(|part| part.as_ident())
                    .map(ident_name)
                    .unwrap_or_default();
                let columns = scope.table_columns(&table);
                if columns.is_empty() {
                    return Err(super::scope::missing_table(std::iter::once(scope), &table));
                }
                for column in columns {
                    items.push((column_reference(column), column.name.clone()));
                }
            }
            other => return Err(Error::Unsupported(format!("select item {other}"))),
        }
    }
    Ok(items)
}

/// A syntax tree naming a scope column exactly: qualified by its FROM item
/// (a `USING` merged column unqualified), quoted so case survives.
fn column_reference(column: &ScopeColumn) -> ast::Expr {
    let name = ast::Ident::with_quote('"', column.name.clone());
    match &column.table {
        Some(table) => {
            ast::Expr::CompoundIdentifier(vec![ast::Ident::with_quote('"', table.clone()), name])
        }
        None => ast::Expr::Identifier(name),
    }
}

/// GROUP BY's items: the distinct expressions, and, when it has `ROLLUP`,
/// `CUBE` or `GROUPING SETS`, the grouping sets as indices into them.
#[allow(clippy::type_complexity)]
fn expand_group_by(
    group_by: &ast::GroupByExpr,
) -> Result<(Vec<ast::Expr>, Option<Vec<Vec<usize>>>)> {
    let items = match group_by {
        ast::GroupByExpr::Expressions(items, modifiers) if modifiers.is_empty() => items,
        _ => return Err(Error::Unsupported("GROUP BY ALL / modifiers".into())),
    };
    let mut exprs: Vec<ast::Expr> = Vec::new();
    let mut index = |expr: &ast::Expr| -> usize {
        match exprs.iter().position(|e| e == expr) {
            Some(i) => i,
            None => {
                exprs.push(expr.clone());
                exprs.len() - 1
            }
        }
    };
    let mut any_sets = false;
    // Each item is a list of alternatives (sets); the grouping sets are
    // their cross product.
    let mut factors: Vec<Vec<Vec<usize>>> = Vec::new();
    for item in items {
        let lists = |lists: &[Vec<ast::Expr>], index: &mut dyn FnMut(&ast::Expr) -> usize| {
            lists
                .iter()
                .map(|list| list.iter().map(&mut *index).collect::<Vec<usize>>())
                .collect::<Vec<Vec<usize>>>()
        };
        match item {
            ast::Expr::Rollup(groups) => {
                any_sets = true;
                let groups = lists(groups, &mut index);
                let mut sets = Vec::with_capacity(groups.len() + 1);
                for n in (0..=groups.len()).rev() {
                    sets.push(groups[..n].concat());
                }
                factors.push(sets);
            }
            ast::Expr::Cube(groups) => {
                any_sets = true;
                let groups = lists(groups, &mut index);
                if groups.len() > 12 {
                    return Err(Error::sql(
                        SqlState::PROGRAM_LIMIT_EXCEEDED,
                        "CUBE is limited to 12 elements",
                    ));
                }
                let mut sets = Vec::with_capacity(1 << groups.len());
                for mask in (0..1usize << groups.len()).rev() {
                    let mut set = Vec::new();
                    for (bit, group) in groups.iter().enumerate() {
                        if mask & (1 << (groups.len() - 1 - bit)) != 0 {
                            set.extend(group);
                        }
                    }
                    sets.push(set);
                }
                factors.push(sets);
            }
            ast::Expr::GroupingSets(sets) => {
                any_sets = true;
                factors.push(lists(sets, &mut index));
            }
            ast::Expr::Tuple(items) if items.is_empty() => factors.push(vec![Vec::new()]),
            expr => factors.push(vec![vec![index(expr)]]),
        }
    }
    if !any_sets {
        return Ok((exprs, None));
    }
    let mut sets: Vec<Vec<usize>> = vec![Vec::new()];
    for factor in factors {
        let mut product = Vec::with_capacity(sets.len() * factor.len());
        for set in &sets {
            for alternative in &factor {
                let mut combined = set.clone();
                combined.extend(alternative);
                product.push(combined);
            }
        }
        sets = product;
    }
    if sets.len() > 4096 {
        return Err(Error::sql(
            SqlState::STATEMENT_TOO_COMPLEX,
            "too many grouping sets present (maximum 4096)",
        ));
    }
    Ok((exprs, Some(sets)))
}
