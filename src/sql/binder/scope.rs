//! Name resolution: the columns a query level can see, and the chain of
//! enclosing levels a subquery can reach.
//!
//! ```text
//!   SELECT … FROM a WHERE x IN (SELECT … FROM b WHERE b.y = a.y)
//!   level 0: a.*                 level 1: b.*  ── b.y resolves here
//!                                        └────── a.y resolves one level out
//! ```
//!
//! A name resolves in the innermost level that has it (a subquery's own
//! columns hide the outer query's); a reference that resolves in an outer
//! level is a correlated reference, and becomes a free column id of the
//! subquery's plan. Within one level, a name that two FROM items both have
//! is ambiguous (42702) unless qualified.

use crate::error::{Error, Result, SqlState};
use crate::sql::expr::ColumnId;
use crate::sql::types::DataType;

/// A column visible to expressions.
#[derive(Clone, Debug)]
pub struct ScopeColumn {
    /// The FROM item's name or alias that qualifies it (`None` for the
    /// merged column of `JOIN … USING`).
    pub table: Option<String>,
    pub name: String,
    pub id: ColumnId,
    pub data_type: DataType,
    /// Found only when qualified, and left out of `*`: a join column that
    /// `USING` or `NATURAL` merged.
    pub hidden: bool,
    /// Seen from a subquery of a grouped query: not a group key, so
    /// referencing it is 42803.
    pub ungrouped: bool,
}

impl ScopeColumn {
    pub fn new(table: Option<String>, name: String, id: ColumnId, data_type: DataType) -> Self {
        ScopeColumn {
            table,
            name,
            id,
            data_type,
            hidden: false,
            ungrouped: false,
        }
    }
}

/// The columns of one query level's FROM clause, in row order.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub columns: Vec<ScopeColumn>,
    /// The FROM items before a non-LATERAL item: not visible to it, kept
    /// only to say why a reference to them fails, as PostgreSQL does.
    pub invisible: bool,
    /// Tables of this level known only by an alias: naming them by their
    /// own name is "invalid reference" rather than "missing" (42P01).
    pub renamed: Vec<String>,
}

impl Scope {
    /// The column `table.name` (or `name` in any FROM item); `None` if this
    /// level has none; 42702 if it has several.
    pub fn find(&self, table: Option<&str>, name: &str) -> Result<Option<&ScopeColumn>> {
        let mut found: Option<&ScopeColumn> = None;
        for column in &self.columns {
            let visible = match table {
                None => !column.hidden,
                Some(table) => column.table.as_deref() == Some(table),
            };
            if column.name == name && visible {
                if found.is_some_and(|f| f.id != column.id) {
                    return Err(Error::sql(
                        SqlState::AMBIGUOUS_COLUMN,
                        format!("column reference \"{name}\" is ambiguous"),
                    ));
                }
                found = Some(column);
            }
        }
        Ok(found)
    }

    /// Whether some FROM item of this level is called `table`.
    pub fn has_table(&self, table: &str) -> bool {
        self.columns
            .iter()
            .any(|c| c.table.as_deref() == Some(table))
    }

    /// The columns `*` stands for, in order.
    pub fn star(&self) -> Vec<&ScopeColumn> {
        self.columns.iter().filter(|c| !c.hidden).collect()
    }

    /// Appends another FROM item's columns (a join's right side).
    pub fn extend(&mut self, other: Scope) {
        self.columns.extend(other.columns);
        self.renamed.extend(other.renamed);
    }

    /// The columns of FROM item `table`, in order.
    pub fn table_columns(&self, table: &str) -> Vec<&ScopeColumn> {
        self.columns
            .iter()
            .filter(|c| c.table.as_deref() == Some(table))
            .collect()
    }
}

/// 42P01 for a table no level has: "invalid reference" when a level has it
/// under an alias, "missing FROM-clause entry" otherwise.
pub fn missing_table<'s>(mut levels: impl Iterator<Item = &'s Scope>, table: &str) -> Error {
    let message = if levels.any(|level| level.renamed.iter().any(|name| name == table)) {
        format!("invalid reference to FROM-clause entry for table \"{table}\"")
    } else {
        format!("missing FROM-clause entry for table \"{table}\"")
    };
    Error::sql(SqlState::UNDEFINED_TABLE, message)
}

/// Resolves a column reference through `scope` and then the enclosing
/// levels (innermost last in `outer`).
pub fn resolve<'s>(
    scope: &'s Scope,
    outer: &'s [Scope],
    table: Option<&str>,
    name: &str,
) -> Result<&'s ScopeColumn> {
    let levels = std::iter::once(scope).chain(outer.iter().rev());
    for level in levels.clone().filter(|level| !level.invisible) {
        if let Some(column) = level.find(table, name)? {
            if column.ungrouped {
                let qualified = match &column.table {
                    Some(table) => format!("{table}.{name}"),
                    None => name.to_string(),
                };
                return Err(Error::sql(
                    SqlState::GROUPING_ERROR,
                    format!("subquery uses ungrouped column \"{qualified}\" from outer query"),
                ));
            }
            return Ok(column);
        }
    }
    for level in levels.filter(|level| level.invisible) {
        if let Some(column) = level.find(table, name)? {
            return Err(match table {
                Some(table) => Error::sql(
                    SqlState::UNDEFINED_TABLE,
                    format!("invalid reference to FROM-clause entry for table \"{table}\""),
                ),
                None => Error::sql(
                    SqlState::UNDEFINED_COLUMN,
                    format!("column \"{}\" does not exist", column.name),
                ),
            });
        }
    }
    if let Some(table) = table
        && !std::iter::once(scope)
            .chain(outer.iter())
            .any(|level| level.has_table(table))
    {
        return Err(missing_table(std::iter::once(scope).chain(outer), table));
    }
    // PostgreSQL quotes a bare name but not a qualified one.
    let message = match table {
        Some(table) => format!("column {table}.{name} does not exist"),
        None => format!("column \"{name}\" does not exist"),
    };
    Err(Error::sql(SqlState::UNDEFINED_COLUMN, message))
}
