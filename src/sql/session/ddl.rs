//! Running DDL against the catalog: tables and views, with PostgreSQL's
//! dependency rules between them.
//!
//! A view records the relations its query reads. Dropping a relation that
//! a view reads is 2BP01 unless `CASCADE`, which drops those views too (and
//! the views that read them, transitively). `CREATE OR REPLACE VIEW` keeps
//! the old view's columns: the new query must return them first, with the
//! same names and types, and may add more (42P16 otherwise).

use super::statement::{Outcome, command};
use crate::error::{Error, Result, SqlState};
use crate::sql::catalog::{self, Relation, Table, View};
use crate::sql::types::DataType;
use crate::txn::Transaction;

pub(super) fn create_table(
    txn: &mut Transaction,
    table: &Table,
    if_not_exists: bool,
) -> Result<Outcome> {
    if catalog::get_relation(txn, &table.name)?.is_some() {
        if if_not_exists {
            return Ok(command("CREATE TABLE"));
        }
        return Err(already_exists(&table.name));
    }
    let mut table = table.clone();
    table.tree = txn.create_tree()?;
    catalog::put_table(txn, &table)?;
    Ok(command("CREATE TABLE"))
}

fn already_exists(name: &str) -> Error {
    Error::sql(
        SqlState::DUPLICATE_TABLE,
        format!("relation \"{name}\" already exists"),
    )
}

/// Which kind of relation a DROP names.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum DropKind {
    Table,
    View,
}

impl DropKind {
    fn noun(self) -> &'static str {
        match self {
            DropKind::Table => "table",
            DropKind::View => "view",
        }
    }
}

/// `DROP TABLE` / `DROP VIEW`: every name is checked before anything is
/// dropped, so a failing DROP drops nothing.
pub(super) fn drop_relations(
    txn: &mut Transaction,
    kind: DropKind,
    names: &[String],
    if_exists: bool,
    cascade: bool,
) -> Result<Outcome> {
    let mut targets = Vec::new();
    for name in names {
        match (catalog::get_relation(txn, name)?, kind) {
            (Some(relation @ Relation::Table(_)), DropKind::Table)
            | (Some(relation @ Relation::View(_)), DropKind::View) => targets.push(relation),
            (Some(_), _) => {
                return Err(Error::sql(
                    SqlState::WRONG_OBJECT_TYPE,
                    format!("\"{name}\" is not a {}", kind.noun()),
                ));
            }
            (None, _) if if_exists => {}
            (None, _) => {
                return Err(Error::sql(
                    SqlState::UNDEFINED_TABLE,
                    format!("{} \"{name}\" does not exist", kind.noun()),
                ));
            }
        }
    }
    let views: Vec<View> = catalog::list_relations(txn)?
        .into_iter()
        .filter_map(|relation| match relation {
            Relation::View(view) => Some(view),
            Relation::Table(_) => None,
        })
        .collect();
    // The views reading the targets, transitively, in discovery order.
    let mut dependents: Vec<&View> = Vec::new();
    let mut frontier: Vec<String> = targets.iter().map(|r| r.name().to_string()).collect();
    while let Some(name) = frontier.pop() {
        for view in &views {
            let dropped = targets.iter().any(|t| t.name() == view.name)
                || dependents.iter().any(|d| d.name == view.name);
            if !dropped && view.dependencies.contains(&name) {
                if !cascade {
                    let target_kind = match targets.iter().find(|t| t.name() == name) {
                        Some(Relation::Table(_)) => "table",
                        _ => "view",
                    };
                    return Err(Error::sql(
                        SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
                        format!(
                            "cannot drop {target_kind} {name} because other objects depend on it"
                        ),
                    ));
                }
                dependents.push(view);
                frontier.push(view.name.clone());
            }
        }
    }
    for view in dependents {
        catalog::delete_relation(txn, &view.name)?;
    }
    for target in &targets {
        catalog::delete_relation(txn, target.name())?;
        if let Relation::Table(table) = target {
            txn.drop_tree(table.tree);
        }
    }
    Ok(command(match kind {
        DropKind::Table => "DROP TABLE",
        DropKind::View => "DROP VIEW",
    }))
}

/// `CREATE [OR REPLACE] VIEW`.
pub(super) fn create_view(
    txn: &mut Transaction,
    view: &View,
    types: &[DataType],
    replace: bool,
    old_types: impl FnOnce(&mut Transaction, &View) -> Result<Vec<DataType>>,
) -> Result<Outcome> {
    match catalog::get_relation(txn, &view.name)? {
        None => {}
        Some(Relation::Table(_)) if replace => {
            return Err(Error::sql(
                SqlState::WRONG_OBJECT_TYPE,
                format!("\"{}\" is not a view", view.name),
            ));
        }
        Some(Relation::View(old)) if replace => {
            let old_types = old_types(txn, &old)?;
            if view.columns.len() < old.columns.len() {
                return Err(Error::sql(
                    SqlState::INVALID_TABLE_DEFINITION,
                    "cannot drop columns from view",
                ));
            }
            for (index, old_name) in old.columns.iter().enumerate() {
                if view.columns[index] != *old_name {
                    return Err(Error::sql(
                        SqlState::INVALID_TABLE_DEFINITION,
                        format!(
                            "cannot change name of view column \"{old_name}\" to \"{}\"",
                            view.columns[index]
                        ),
                    ));
                }
                if let (Some(old_type), Some(new_type)) = (old_types.get(index), types.get(index))
                    && old_type != new_type
                {
                    return Err(Error::sql(
                        SqlState::INVALID_TABLE_DEFINITION,
                        format!(
                            "cannot change data type of view column \"{old_name}\" from {} to {}",
                            old_type.name(),
                            new_type.name()
                        ),
                    ));
                }
            }
        }
        Some(_) => return Err(already_exists(&view.name)),
    }
    if view.dependencies.contains(&view.name) {
        return Err(Error::sql(
            SqlState::INVALID_RECURSION,
            format!(
                "infinite recursion detected in rules for relation \"{}\"",
                view.name
            ),
        ));
    }
    catalog::put_view(txn, view)?;
    Ok(command("CREATE VIEW"))
}
