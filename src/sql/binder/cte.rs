//! Common table expressions: `WITH [RECURSIVE] name [(columns)] AS
//! [[NOT] MATERIALIZED] (query)`.
//!
//! A CTE is visible to the query's body and to the CTEs defined after it
//! in the same WITH (and, for RECURSIVE, to itself). Each reference either
//! inlines the CTE, binding its query afresh like a subquery in FROM, or
//! scans its one materialization (`CteScan` of a `WithCte` wrapped around
//! the query that defined it):
//! - `MATERIALIZED`: materialized;
//! - `NOT MATERIALIZED`, or neither and referenced once: inlined;
//! - neither and referenced more than once: materialized, as PostgreSQL
//!   does, so its query runs once;
//! - a CTE that reads the enclosing query's columns is always inlined,
//!   since its rows depend on them.
//!
//! `WITH RECURSIVE` with a CTE whose query is `anchor UNION [ALL]
//! recursive`, where `recursive` reads the CTE itself: the anchor binds
//! first and fixes the column types; inside the recursive term the CTE is
//! a `WorkTable` (the previous round's rows). The result is a
//! `RecursiveCte` plan, inlined at a single reference or materialized.

use std::ops::ControlFlow;

use sqlparser::ast::{self, SetExpr, SetOperator as AstSetOperator, SetQuantifier};

use super::scope::Scope;
use super::{Binder, ident_name};
use crate::error::{Error, Result, SqlState};
use crate::sql::plan::{Column, LogicalPlan};

/// A CTE in scope while its WITH's query binds.
#[derive(Clone, Debug)]
pub(crate) struct CteBinding {
    name: String,
    /// The names the definition gives its columns (may be fewer than the
    /// query's).
    aliases: Vec<String>,
    query: ast::Query,
    materialized: Option<bool>,
    recursive: bool,
    /// How many times the query that defined it names it.
    references: usize,
    /// Set once bound for sharing: the plan's id, plan and columns.
    shared: Option<SharedCte>,
    /// Set while its own recursive term binds: the work table's id and
    /// columns.
    work_table: Option<(usize, Vec<Column>)>,
}

#[derive(Clone, Debug)]
struct SharedCte {
    id: usize,
    plan: LogicalPlan,
    columns: Vec<Column>,
    /// Whether a reference uses `CteScan` (else the one reference inlined
    /// `plan` itself).
    scanned: bool,
}

impl Binder<'_> {
    /// Brings the CTEs of `query`'s WITH clause into scope.
    pub(crate) fn define_ctes(&mut self, with: &ast::With, query: &ast::Query) -> Result<()> {
        let mut names: Vec<String> = Vec::new();
        for cte in &with.cte_tables {
            let name = ident_name(&cte.alias.name);
            if names.contains(&name) {
                return Err(Error::sql(
                    SqlState::DUPLICATE_ALIAS,
                    format!("WITH query name \"{name}\" specified more than once"),
                ));
            }
            names.push(name.clone());
            if cte.from.is_some() {
                return Err(Error::Unsupported("WITH … FROM".into()));
            }
            let materialized = match cte.materialized {
                Some(ast::CteAsMaterialized::Materialized) => Some(true),
                Some(ast::CteAsMaterialized::NotMaterialized) => Some(false),
                None => None,
            };
            if !matches!(
                cte.query.body.as_ref(),
                SetExpr::Select(_)
                    | SetExpr::Query(_)
                    | SetExpr::SetOperation { .. }
                    | SetExpr::Values(_)
            ) {
                return Err(Error::Unsupported(
                    "data-modifying statements in WITH".into(),
                ));
            }
            self.ctes.push(CteBinding {
                name: name.clone(),
                aliases: cte
                    .alias
                    .columns
                    .iter()
                    .map(|c| ident_name(&c.name))
                    .collect(),
                query: (*cte.query).clone(),
                materialized,
                recursive: with.recursive,
                references: 0,
                shared: None,
                work_table: None,
            });
        }
        // Count each CTE's references in the body and in the other CTEs'
        // queries, to decide between inlining and sharing. (A name that a
        // nested WITH redefines is counted too: that only shares more.)
        let first = self.ctes.len() - with.cte_tables.len();
        for (offset, definition) in with.cte_tables.iter().enumerate() {
            let name = ident_name(&definition.alias.name);
            let mut count = references(query.body.as_ref(), &name)
                + query.order_by.as_ref().map_or(0, |o| references(o, &name));
            for (other, cte) in with.cte_tables.iter().enumerate() {
                if other != offset {
                    count += references(cte.query.as_ref(), &name);
                }
            }
            self.ctes[first + offset].references = count;
        }
        Ok(())
    }

    /// Wraps `plan` in a `WithCte` for each CTE defined since `outer_ctes`
    /// that is scanned.
    pub(crate) fn attach_ctes(
        &mut self,
        mut plan: LogicalPlan,
        outer_ctes: usize,
    ) -> Result<LogicalPlan> {
        for cte in self.ctes[outer_ctes..].iter().rev() {
            if let Some(shared) = &cte.shared
                && shared.scanned
            {
                plan = LogicalPlan::WithCte {
                    id: shared.id,
                    name: cte.name.clone(),
                    definition: Box::new(shared.plan.clone()),
                    input: Box::new(plan),
                };
            }
        }
        Ok(plan)
    }

    /// A FROM reference to `name`, if a CTE of that name is in scope.
    pub(crate) fn bind_cte_reference(
        &mut self,
        name: &str,
        alias: Option<&ast::TableAlias>,
    ) -> Result<Option<(LogicalPlan, Scope)>> {
        let Some(index) = self.ctes.iter().rposition(|c| c.name == name) else {
            return Ok(None);
        };
        let qualifier = alias.map_or(name.to_string(), |a| ident_name(&a.name));
        // Inside its own recursive term: the work table.
        if let Some((id, columns)) = self.ctes[index].work_table.clone() {
            let ids = columns
                .iter()
                .map(|c| self.columns.add(c.name.clone(), c.data_type))
                .collect();
            let plan = LogicalPlan::WorkTable {
                id,
                name: name.to_string(),
                columns: ids,
            };
            let scope = self.derived_scope(&plan, &columns, &qualifier, alias)?;
            return Ok(Some((plan, scope)));
        }
        let cte = self.ctes[index].clone();
        let recursive = cte.recursive && is_recursive_union(&cte.query, name);
        let share = recursive
            || cte.materialized == Some(true)
            || (cte.materialized.is_none() && cte.references > 1);
        if !share {
            let (plan, columns) = self.bind_cte_query(index)?;
            let scope = self.derived_scope(&plan, &columns, &qualifier, alias)?;
            return Ok(Some((plan, scope)));
        }
        if self.ctes[index].shared.is_none() {
            let (plan, columns) = if recursive {
                self.bind_recursive_cte(index)?
            } else {
                self.bind_cte_query(index)?
            };
            if !plan.free_columns().is_empty() && !recursive {
                // Rows that depend on the enclosing row cannot be shared.
                let scope = self.derived_scope(&plan, &columns, &qualifier, alias)?;
                return Ok(Some((plan, scope)));
            }
            if !plan.free_columns().is_empty() {
                return Err(Error::Unsupported(
                    "a recursive WITH query that reads the enclosing query's columns".into(),
                ));
            }
            let id = self.next_cte_id();
            self.ctes[index].shared = Some(SharedCte {
                id,
                plan,
                columns,
                scanned: false,
            });
            // The first reference of a CTE referenced once inlines it.
            if self.ctes[index].references <= 1 && self.ctes[index].materialized != Some(true) {
                let shared = self.ctes[index]
                    .shared
                    .as_ref()
                    .expect("invariant: just set");
                let (plan, columns) = (shared.plan.clone(), shared.columns.clone());
                let scope = self.derived_scope(&plan, &columns, &qualifier, alias)?;
                return Ok(Some((plan, scope)));
            }
        }
        let shared = self.ctes[index]
            .shared
            .as_mut()
            .expect("invariant: bound above");
        shared.scanned = true;
        let (id, columns) = (shared.id, shared.columns.clone());
        let ids = columns
            .iter()
            .map(|c| self.columns.add(c.name.clone(), c.data_type))
            .collect();
        let plan = LogicalPlan::CteScan {
            id,
            name: name.to_string(),
            columns: ids,
        };
        let scope = self.derived_scope(&plan, &columns, &qualifier, alias)?;
        Ok(Some((plan, scope)))
    }

    /// Binds CTE `index`'s query with only the CTEs defined before it in
    /// scope, and names its columns by the definition's aliases.
    fn bind_cte_query(&mut self, index: usize) -> Result<(LogicalPlan, Vec<Column>)> {
        let query = self.ctes[index].query.clone();
        let hidden = self.ctes.split_off(index);
        let result = self.bind_query(&query);
        self.ctes.extend(hidden);
        let (plan, mut columns) = result?;
        self.apply_aliases(index, &mut columns)?;
        Ok((plan, columns))
    }

    fn apply_aliases(&self, index: usize, columns: &mut [Column]) -> Result<()> {
        let cte = &self.ctes[index];
        if cte.aliases.len() > columns.len() {
            return Err(Error::sql(
                SqlState::INVALID_COLUMN_REFERENCE,
                format!(
                    "WITH query \"{}\" has {} columns available but {} columns specified",
                    cte.name,
                    columns.len(),
                    cte.aliases.len()
                ),
            ));
        }
        for (column, alias) in columns.iter_mut().zip(&cte.aliases) {
            column.name = alias.clone();
        }
        Ok(())
    }

    /// `anchor UNION [ALL] recursive` → a `RecursiveCte` plan.
    fn bind_recursive_cte(&mut self, index: usize) -> Result<(LogicalPlan, Vec<Column>)> {
        let query = self.ctes[index].query.clone();
        let name = self.ctes[index].name.clone();
        let SetExpr::SetOperation {
            left,
            right,
            set_quantifier,
            ..
        } = query.body.as_ref()
        else {
            return Err(Error::Internal("a recursive CTE without UNION".into()));
        };
        if query.order_by.is_some() || query.limit_clause.is_some() {
            return Err(Error::Unsupported(
                "ORDER BY or LIMIT in a recursive query".into(),
            ));
        }
        let all = matches!(set_quantifier, SetQuantifier::All);
        if references(left.as_ref(), &name) > 0 {
            return Err(Error::sql(
                SqlState::INVALID_RECURSION,
                format!(
                    "recursive reference to query \"{name}\" must not appear within its non-recursive term"
                ),
            ));
        }
        // The anchor: the CTE itself is not visible.
        let hidden = self.ctes.split_off(index);
        let anchor = self.bind_set_expr(left);
        self.ctes.extend(hidden);
        let (anchor, mut columns) = anchor?;
        self.apply_aliases(index, &mut columns)?;
        let id = self.next_cte_id();
        // The recursive term: the CTE is the work table.
        let hidden = self.ctes.split_off(index + 1);
        self.ctes[index].work_table = Some((id, columns.clone()));
        let recursive = self.bind_set_expr(right);
        self.ctes[index].work_table = None;
        self.ctes.extend(hidden);
        let (recursive, recursive_columns) = recursive?;
        if recursive_columns.len() != columns.len() {
            return Err(Error::sql(
                SqlState::SYNTAX_ERROR,
                "each UNION query must have the same number of columns",
            ));
        }
        for (i, (anchor_column, recursive_column)) in
            columns.iter().zip(&recursive_columns).enumerate()
        {
            let unknown = self.unknown_columns.contains(&recursive.output()[i]);
            if anchor_column.data_type != recursive_column.data_type && !unknown {
                return Err(Error::sql(
                    SqlState::DATATYPE_MISMATCH,
                    format!(
                        "recursive query \"{name}\" column {} has type {} in non-recursive term but type {} overall",
                        i + 1,
                        anchor_column.data_type.name(),
                        recursive_column.data_type.name()
                    ),
                ));
            }
        }
        let ids = columns
            .iter()
            .map(|c| self.columns.add(c.name.clone(), c.data_type))
            .collect();
        let plan = LogicalPlan::RecursiveCte {
            id,
            name,
            anchor: Box::new(anchor),
            recursive: Box::new(recursive),
            all,
            columns: ids,
        };
        Ok((plan, columns))
    }

    fn next_cte_id(&mut self) -> usize {
        self.cte_count += 1;
        self.cte_count - 1
    }
}

/// Whether a CTE's query is `anchor UNION recursive` reading itself (on
/// either side: on the anchor's it is then 42P19).
fn is_recursive_union(query: &ast::Query, name: &str) -> bool {
    matches!(
        query.body.as_ref(),
        SetExpr::SetOperation {
            op: AstSetOperator::Union,
            left,
            right,
            ..
        } if references(left.as_ref(), name) + references(right.as_ref(), name) > 0
    )
}

/// How often a syntax tree names relation `name` (anywhere, subqueries
/// too).
fn references<V: ast::Visit>(node: &V, name: &str) -> usize {
    let mut count = 0;
    let _ = ast::visit_relations(node, |relation| {
        if relation.0.len() == 1
            && relation.0[0].as_ident().map(ident_name).as_deref() == Some(name)
        {
            count += 1;
        }
        ControlFlow::<()>::Continue(())
    });
    count
}
