//! Running DDL against the catalog: tables, views and indexes, with
//! PostgreSQL's dependency rules between them.
//!
//! DDL that changes a table's definition takes a relation lock on it first
//! (`txn/relation_lock.rs`): CREATE INDEX `Share`, DROP INDEX and DROP
//! TABLE `Exclusive`, and then works on the definition as it is now, not
//! as its snapshot shows it, so that no writer of the table misses an
//! index it must maintain.
//!
//! A view records the relations its query reads. Dropping a relation that
//! a view reads is 2BP01 unless `CASCADE`, which drops those views too (and
//! the views that read them, transitively). `CREATE OR REPLACE VIEW` keeps
//! the old view's columns: the new query must return them first, with the
//! same names and types, and may add more (42P16 otherwise).

use std::sync::Arc;

use super::statement::{Notice, Outcome, command, command_with_notice};
use crate::error::{Error, Result, SqlState};
use crate::sql::binder::{IndexDefinition, bind_index_expression};
use crate::sql::catalog::{
    self, Index, IndexColumn, IndexExpressionRole, IndexKey, IndexName, Relation, Table, View,
};
use crate::sql::encoding::decode_row;
use crate::sql::execution::byte_sort::ByteSorter;
use crate::sql::execution::dml::write_entry;
use crate::sql::execution::spill::SpillSpace;
use crate::sql::expr::Expr;
use crate::sql::index_entry::{EntryLayout, IndexEntry, describe_entry_key, encode_index_entry};
use crate::sql::sequence::{Sequence, Sequences};
use crate::sql::statistics;
use crate::sql::types::DataType;
use crate::storage::{Direction, KeyRange};
use crate::txn::{RelationLockMode, Transaction};

pub(super) fn create_table(
    txn: &mut Transaction,
    table: &Table,
    unique: &[IndexDefinition],
    sequences: &[Sequence],
    positions: &Sequences,
    if_not_exists: bool,
) -> Result<Outcome> {
    if catalog::get_relation(txn, &table.name)?.is_some() {
        if if_not_exists {
            return Ok(skipping("CREATE TABLE", &table.name));
        }
        return Err(already_exists(&table.name));
    }
    let mut table = table.clone();
    table.tree = txn.create_tree()?;
    for sequence in sequences {
        super::sequence_ddl::create_sequence_entry(txn, positions, sequence)?;
    }
    // Constraints on the same columns share one index, as in PostgreSQL.
    let mut seen: Vec<&IndexDefinition> = Vec::new();
    for definition in unique {
        if definition.name.is_none()
            && seen.iter().any(|s| {
                s.columns == definition.columns
                    && s.nulls_not_distinct == definition.nulls_not_distinct
            })
        {
            continue;
        }
        seen.push(definition);
        let index = new_index(txn, &table, definition)?;
        attach_index(txn, &mut table, index)?;
    }
    catalog::put_table(txn, &table)?;
    Ok(command("CREATE TABLE"))
}

/// Takes `mode` on `table` and returns its definition as it is now (a
/// concurrent DDL may have changed it since the snapshot; 40001 if it was
/// dropped or replaced).
fn lock_current(txn: &mut Transaction, table: &Table, mode: RelationLockMode) -> Result<Table> {
    txn.lock_relation(table.tree, mode)?;
    catalog::current_table(txn, table)
}

/// Adds `index` to `table`'s definition (stored by the caller) and enters
/// its name in the catalog.
fn attach_index(txn: &mut Transaction, table: &mut Table, index: Index) -> Result<()> {
    catalog::put_index_name(
        txn,
        &IndexName {
            name: index.name.clone(),
            table: table.name.clone(),
        },
    )?;
    table.indexes.push(index);
    Ok(())
}

/// Resolves a definition against `table` and names it (PostgreSQL's
/// generated name, made unique with a number, when none is given; 42P07
/// if a given name is taken). Creates its empty tree.
fn new_index(txn: &mut Transaction, table: &Table, definition: &IndexDefinition) -> Result<Index> {
    let find = |name: &str| {
        table.column_index(name).ok_or_else(|| {
            Error::sql(
                SqlState::UNDEFINED_COLUMN,
                if definition.constraint {
                    format!("column \"{name}\" named in key does not exist")
                } else {
                    format!("column \"{name}\" does not exist")
                },
            )
        })
    };
    let mut bind =
        |text: &str, role| bind_index_expression(txn, &table.name, &table.columns, text, role);
    let mut columns = Vec::with_capacity(definition.columns.len());
    let mut expressions = Vec::new();
    for column in &definition.columns {
        let key = match &column.expression {
            None => IndexKey::Column(find(&column.name)?),
            Some(text) => {
                let expression = bind(text, IndexExpressionRole::Key)?;
                match expression.expr {
                    // `((a))` is column `a`.
                    Expr::Slot(position) => IndexKey::Column(position),
                    _ => {
                        expressions.push(expression);
                        IndexKey::Expression(expressions.len() - 1)
                    }
                }
            }
        };
        columns.push(IndexColumn {
            key,
            descending: column.descending,
            nulls_first: column.nulls_first,
        });
    }
    let include = definition
        .include
        .iter()
        .map(|name| find(name))
        .collect::<Result<Vec<_>>>()?;
    let predicate = definition
        .predicate
        .as_deref()
        .map(|text| bind(text, IndexExpressionRole::Predicate))
        .transpose()?;
    let name = match &definition.name {
        Some(name) => {
            if catalog::get_relation(txn, name)?.is_some() {
                return Err(already_exists(name));
            }
            name.clone()
        }
        None => {
            let base = definition.default_name();
            let mut name = base.clone();
            let mut suffix = 0;
            while catalog::get_relation(txn, &name)?.is_some() {
                suffix += 1;
                name = format!("{base}{suffix}");
            }
            name
        }
    };
    Ok(Index {
        name,
        tree: txn.create_tree()?,
        unique: definition.unique,
        nulls_not_distinct: definition.nulls_not_distinct,
        constraint: definition.constraint,
        columns,
        expressions,
        include,
        predicate,
    })
}

/// Rows between progress messages of an index build.
const BUILD_PROGRESS_ROWS: u64 = 1_000_000;

/// Where an index build sorts its entries: spill files in `space` past
/// `budget` bytes (`maintenance_work_mem`).
pub(super) struct SortSpace<'a> {
    pub space: &'a Arc<SpillSpace>,
    pub budget: usize,
}

/// `CREATE [UNIQUE] INDEX`: under a `Share` lock (writers of the table
/// finish first, and new ones wait), every row as it is now gets its
/// entry, in the creating transaction: the build commits or vanishes with
/// it, and a crash mid-build leaves nothing.
///
/// The entries are sorted first (`byte_sort.rs`) and inserted in the
/// index's order: each lands in the tree's rightmost leaf, which the
/// cache holds, and the leaves end up 90% full rather than the 70% that
/// inserts in table order leave. A unique index finds a duplicate as the
/// second of two equal keys arrives.
pub(super) fn create_index(
    txn: &mut Transaction,
    definition: &IndexDefinition,
    if_not_exists: bool,
    sort_space: SortSpace<'_>,
) -> Result<Outcome> {
    let table = match catalog::get_relation(txn, &definition.table)? {
        Some(Relation::Table(table)) => table,
        Some(_) => {
            return Err(Error::sql(
                SqlState::WRONG_OBJECT_TYPE,
                format!("cannot create index on relation \"{}\"", definition.table),
            ));
        }
        None => {
            return Err(Error::sql(
                SqlState::UNDEFINED_TABLE,
                format!("relation \"{}\" does not exist", definition.table),
            ));
        }
    };
    if if_not_exists
        && let Some(name) = &definition.name
        && catalog::get_relation(txn, name)?.is_some()
    {
        return Ok(skipping("CREATE INDEX", name));
    }
    let mut table = lock_current(txn, &table, RelationLockMode::Share)?;
    let index = new_index(txn, &table, definition)?;
    let mut sorter = ByteSorter::new(Arc::clone(sort_space.space), sort_space.budget);
    let mut scan = txn.scan_current(table.tree, KeyRange::all(), Direction::Forward);
    let mut buffer = Vec::new();
    let mut rows = 0u64;
    for entry in &mut scan {
        let (key, bytes) = entry?;
        let row = decode_row(&bytes)?;
        if let Some(entry) = encode_index_entry(&index, &row, &key, &mut buffer)? {
            sorter.push(&buffer, entry_tag(entry))?;
        }
        rows += 1;
        if rows.is_multiple_of(BUILD_PROGRESS_ROWS) {
            tracing::info!(index = %index.name, rows, "building index: rows read");
        }
    }
    let logged = rows >= BUILD_PROGRESS_ROWS;
    if logged {
        tracing::info!(
            index = %index.name,
            rows,
            spilled = sorter.spilled(),
            "building index: rows read and sorted"
        );
    }
    let mut sorted = sorter.finish()?;
    let mut entries = 0u64;
    while let Some((entry, tag)) = sorted.next_item()? {
        if !write_entry(txn, &index, &entry, tag_entry(tag))? {
            return Err(duplicate_in_build(txn, &table, &index, &entry));
        }
        entries += 1;
        if entries.is_multiple_of(BUILD_PROGRESS_ROWS) {
            tracing::info!(index = %index.name, entries, "building index: entries inserted");
        }
    }
    if logged {
        tracing::info!(index = %index.name, rows, entries, "index built");
    }
    let name = index.name.clone();
    attach_index(txn, &mut table, index)?;
    catalog::put_table(txn, &table)?;
    if definition.concurrently {
        // Said, not hidden: the build above held writers off the table.
        return Ok(command_with_notice(
            "CREATE INDEX",
            SqlState::SUCCESSFUL_COMPLETION,
            format!(
                "CREATE INDEX CONCURRENTLY ran as a plain build: writes to \"{}\" waited until index \"{name}\" was built",
                table.name
            ),
        ));
    }
    Ok(command("CREATE INDEX"))
}

/// What a build keeps of an entry's [`IndexEntry`] beside it while
/// sorting: the prefix length, shifted, and whether it holds a NULL.
fn entry_tag(entry: IndexEntry) -> u64 {
    ((entry.prefix as u64) << 1) | u64::from(entry.has_null)
}

fn tag_entry(tag: u64) -> IndexEntry {
    IndexEntry {
        prefix: usize::try_from(tag >> 1).expect("invariant: tags hold a usize prefix"),
        has_null: tag & 1 == 1,
    }
}

/// 23505 for a duplicate found while building unique `index`, naming the
/// key of the row whose entry `entry` is, as PostgreSQL's message does.
fn duplicate_in_build(txn: &mut Transaction, table: &Table, index: &Index, entry: &[u8]) -> Error {
    let described = EntryLayout::new(table, index)
        .row_key_start(entry)
        .and_then(|start| txn.get_current(table.tree, &entry[start..]))
        .and_then(|bytes| {
            bytes
                .ok_or_else(|| Error::Internal("a built entry's row is gone".into()))
                .and_then(|bytes| decode_row(&bytes))
        });
    let key = match described {
        Ok(row) => describe_entry_key(table, index, &row),
        Err(error) => return error,
    };
    Error::sql(
        SqlState::UNIQUE_VIOLATION,
        format!(
            "could not create unique index \"{}\" ({key} is duplicated.)",
            index.name
        ),
    )
}

/// `DROP INDEX`: under an `Exclusive` lock on its table. An index that
/// backs a UNIQUE constraint cannot be dropped on its own (2BP01).
pub(super) fn drop_indexes(
    txn: &mut Transaction,
    names: &[String],
    if_exists: bool,
) -> Result<Outcome> {
    let mut notices = Vec::new();
    for name in names {
        let entry = match catalog::get_relation(txn, name)? {
            Some(Relation::Index(entry)) => entry,
            Some(_) => {
                return Err(Error::sql(
                    SqlState::WRONG_OBJECT_TYPE,
                    format!("\"{name}\" is not an index"),
                ));
            }
            None if if_exists => {
                notices.push(missing(&format!("index \"{name}\"")));
                continue;
            }
            None => {
                return Err(Error::sql(
                    SqlState::UNDEFINED_OBJECT,
                    format!("index \"{name}\" does not exist"),
                ));
            }
        };
        let table = catalog::require_table(txn, &entry.table)?;
        let mut table = lock_current(txn, &table, RelationLockMode::Exclusive)?;
        let position = table
            .indexes
            .iter()
            .position(|index| index.name == *name)
            .ok_or_else(|| {
                Error::Serialization(format!(
                    "index \"{name}\" was dropped by a concurrent transaction"
                ))
            })?;
        if table.indexes[position].constraint {
            return Err(Error::sql(
                SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
                format!(
                    "cannot drop index {name} because constraint {name} on table {} requires it",
                    table.name
                ),
            ));
        }
        let index = table.indexes.remove(position);
        catalog::put_table(txn, &table)?;
        catalog::delete_relation(txn, name)?;
        txn.drop_tree(index.tree);
    }
    Ok(Outcome::Command {
        tag: "DROP INDEX".into(),
        notices,
    })
}

/// `CREATE … IF NOT EXISTS` of a relation that exists: PostgreSQL's
/// notice, and nothing done.
pub(super) fn skipping(tag: &str, name: &str) -> Outcome {
    command_with_notice(
        tag,
        SqlState::DUPLICATE_TABLE,
        format!("relation \"{name}\" already exists, skipping"),
    )
}

/// `DROP … IF EXISTS` of a relation that does not exist.
fn missing(what: &str) -> Notice {
    Notice {
        code: SqlState::SUCCESSFUL_COMPLETION,
        message: format!("{what} does not exist, skipping"),
    }
}

pub(super) fn already_exists(name: &str) -> Error {
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
    let mut notices = Vec::new();
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
            (None, _) if if_exists => {
                notices.push(missing(&format!("{} \"{name}\"", kind.noun())));
            }
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
            Relation::Table(_) | Relation::Index(_) | Relation::Sequence(_) => None,
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
    // The sequences the tables' columns own go with them.
    let dropped: Vec<String> = targets.iter().map(|t| t.name().to_string()).collect();
    let mut notices_of_sequences = Vec::new();
    for target in &targets {
        if let Relation::Table(table) = target {
            let owned = super::sequence_ddl::owned_sequences(txn, &[table.name.as_str()])?;
            let what = format!("table {}", table.name);
            notices_of_sequences.extend(super::sequence_ddl::drop_sequence_entries(
                txn, &owned, &dropped, cascade, &what,
            )?);
        }
    }
    notices.extend(notices_of_sequences);
    for target in &targets {
        if let Relation::Table(table) = target {
            // Writers of the table finish first; its indexes go with it.
            let table = lock_current(txn, table, RelationLockMode::Exclusive)?;
            for index in &table.indexes {
                catalog::delete_relation(txn, &index.name)?;
                txn.drop_tree(index.tree);
            }
            statistics::store::delete(txn, table.tree)?;
            txn.drop_tree(table.tree);
        }
        catalog::delete_relation(txn, target.name())?;
    }
    let tag = match kind {
        DropKind::Table => "DROP TABLE",
        DropKind::View => "DROP VIEW",
    };
    Ok(Outcome::Command {
        tag: tag.into(),
        notices,
    })
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
        Some(Relation::Table(_) | Relation::Index(_) | Relation::Sequence(_)) if replace => {
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
