//! Running sequence DDL: CREATE, ALTER and DROP SEQUENCE, the sequences a
//! table's SERIAL and identity columns own, and what depends on them.
//!
//! Dependencies are read from the catalog rather than recorded: a column
//! depends on the sequences its DEFAULT text names with a constant
//! (`nextval('s'::regclass)`), and a sequence with an owner goes with its
//! table. So:
//! - DROP SEQUENCE of a sequence a default draws from is 2BP01, unless
//!   CASCADE, which drops those defaults; an identity column's sequence
//!   cannot be dropped at all (the column requires it);
//! - DROP TABLE drops the sequences its columns own, and is 2BP01 if
//!   another table's default draws from one of them, unless CASCADE.

use sqlparser::ast;

use super::statement::{Notice, Outcome, command};
use crate::error::{Error, Result, SqlState};
use crate::sql::binder::sequences_in_default;
use crate::sql::catalog::{self, Relation, Table};
use crate::sql::sequence::{Restart, Sequence, SequenceOwner, Sequences, not_a_sequence};
use crate::txn::Transaction;

/// Stores a new sequence: its tree, its first position, its definition.
pub(super) fn create_sequence_entry(
    txn: &mut Transaction,
    positions: &Sequences,
    sequence: &Sequence,
) -> Result<()> {
    if catalog::get_relation(txn, &sequence.name)?.is_some() {
        return Err(super::ddl::already_exists(&sequence.name));
    }
    let mut sequence = sequence.clone();
    sequence.tree = txn.create_tree()?;
    sequence.id = sequence.tree;
    positions.create(&sequence, sequence.start)?;
    catalog::put_sequence(txn, &sequence)
}

/// Restarts a sequence at `value` inside the transaction, as PostgreSQL
/// does by giving it a new relfilenode: a new tree holds the new position
/// and the definition moves to it. A rollback, or a crash before the
/// commit, leaves the definition on the old tree and its position; the
/// commit drops the old tree. (`setval`, by contrast, is not
/// transactional, in PostgreSQL either.)
fn restart_sequence(
    txn: &mut Transaction,
    positions: &Sequences,
    sequence: &Sequence,
    value: i64,
) -> Result<()> {
    let mut restarted = sequence.clone();
    restarted.tree = txn.create_tree()?;
    positions.create(&restarted, value)?;
    catalog::put_sequence(txn, &restarted)?;
    txn.drop_tree(sequence.tree);
    Ok(())
}

/// `CREATE SEQUENCE [IF NOT EXISTS]`.
pub(super) fn create_sequence(
    txn: &mut Transaction,
    sequence: &Sequence,
    positions: &Sequences,
    if_not_exists: bool,
) -> Result<Outcome> {
    if if_not_exists && catalog::get_relation(txn, &sequence.name)?.is_some() {
        return Ok(super::ddl::skipping("CREATE SEQUENCE", &sequence.name));
    }
    create_sequence_entry(txn, positions, sequence)?;
    Ok(command("CREATE SEQUENCE"))
}

/// What an `ALTER SEQUENCE` asks.
pub(super) struct SequenceChange<'a> {
    pub name: &'a str,
    pub if_exists: bool,
    pub options: &'a [ast::SequenceOptions],
    pub restart: &'a Restart,
    pub owner: Option<&'a Option<SequenceOwner>>,
}

/// `ALTER SEQUENCE`: the definition as it is now, changed and checked
/// against the current position; a RESTART moves the position at once.
pub(super) fn alter_sequence(
    txn: &mut Transaction,
    positions: &Sequences,
    change: SequenceChange<'_>,
) -> Result<Outcome> {
    let sequence = match catalog::get_current_relation(txn, change.name)? {
        Some(Relation::Sequence(sequence)) => sequence,
        Some(_) => return Err(not_a_sequence(change.name)),
        None if change.if_exists => {
            return Ok(Outcome::Command {
                tag: "ALTER SEQUENCE".into(),
                notices: vec![Notice {
                    code: SqlState::SUCCESSFUL_COMPLETION,
                    message: format!("relation \"{}\" does not exist, skipping", change.name),
                }],
            });
        }
        None => {
            return Err(Error::sql(
                SqlState::UNDEFINED_TABLE,
                format!("relation \"{}\" does not exist", change.name),
            ));
        }
    };
    let last = positions.last_value(&sequence)?;
    let mut altered = sequence.clone();
    let (restart_at, _) = altered.alter(change.options, change.restart, last)?;
    if let Some(owner) = change.owner {
        altered.owner = owner.clone();
    }
    match restart_at {
        Some(value) => restart_sequence(txn, positions, &altered, value)?,
        None if altered != sequence => catalog::put_sequence(txn, &altered)?,
        None => {}
    }
    Ok(command("ALTER SEQUENCE"))
}

/// The columns (table, column index) whose defaults draw from `sequence`,
/// among `tables`.
fn dependent_defaults(tables: &[Table], sequence: &str) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    for (table_index, table) in tables.iter().enumerate() {
        for (column_index, column) in table.columns.iter().enumerate() {
            if column
                .default
                .as_deref()
                .is_some_and(|text| sequences_in_default(text).iter().any(|s| s == sequence))
            {
                found.push((table_index, column_index));
            }
        }
    }
    found
}

/// Drops `sequences`: with `cascade`, the defaults of the tables not in
/// `dropping` that draw from them go too (each with a notice); without it,
/// such a default is 2BP01 naming `what` (the object being dropped).
pub(super) fn drop_sequence_entries(
    txn: &mut Transaction,
    sequences: &[Sequence],
    dropping: &[String],
    cascade: bool,
    what: &str,
) -> Result<Vec<Notice>> {
    let mut tables = catalog::list_tables(txn)?;
    let mut notices = Vec::new();
    let mut changed = Vec::new();
    for sequence in sequences {
        for (table_index, column_index) in dependent_defaults(&tables, &sequence.name) {
            if dropping.contains(&tables[table_index].name) {
                continue;
            }
            if !cascade {
                return Err(Error::sql(
                    SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
                    format!("cannot drop {what} because other objects depend on it"),
                ));
            }
            let table = &mut tables[table_index];
            let column = &mut table.columns[column_index];
            notices.push(Notice {
                code: SqlState::SUCCESSFUL_COMPLETION,
                message: format!(
                    "drop cascades to default value for column {} of table {}",
                    column.name, table.name
                ),
            });
            column.default = None;
            column.identity = None;
            if !changed.contains(&table_index) {
                changed.push(table_index);
            }
        }
    }
    for table_index in changed {
        catalog::put_table(txn, &tables[table_index])?;
    }
    for sequence in sequences {
        catalog::delete_relation(txn, &sequence.name)?;
        txn.drop_tree(sequence.tree);
    }
    Ok(notices)
}

/// `DROP SEQUENCE [IF EXISTS] name, … [CASCADE | RESTRICT]`.
pub(super) fn drop_sequences(
    txn: &mut Transaction,
    names: &[String],
    if_exists: bool,
    cascade: bool,
) -> Result<Outcome> {
    let mut targets: Vec<Sequence> = Vec::new();
    let mut notices = Vec::new();
    for name in names {
        match catalog::get_relation(txn, name)? {
            Some(Relation::Sequence(sequence)) => {
                if !targets.iter().any(|t| t.name == sequence.name) {
                    targets.push(sequence);
                }
            }
            Some(_) => return Err(not_a_sequence(name)),
            None if if_exists => notices.push(Notice {
                code: SqlState::SUCCESSFUL_COMPLETION,
                message: format!("sequence \"{name}\" does not exist, skipping"),
            }),
            None => {
                return Err(Error::sql(
                    SqlState::UNDEFINED_TABLE,
                    format!("sequence \"{name}\" does not exist"),
                ));
            }
        }
    }
    // An identity column requires its sequence, CASCADE or not.
    for sequence in &targets {
        if let Some(owner) = &sequence.owner
            && let Some(Relation::Table(table)) = catalog::get_relation(txn, &owner.table)?
            && table
                .columns
                .iter()
                .any(|column| column.name == owner.column && column.identity.is_some())
        {
            return Err(Error::sql(
                SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
                format!(
                    "cannot drop sequence {} because column {} of table {} requires it",
                    sequence.name, owner.column, owner.table
                ),
            ));
        }
    }
    for sequence in &targets {
        let what = format!("sequence {}", sequence.name);
        notices.extend(drop_sequence_entries(
            txn,
            std::slice::from_ref(sequence),
            &[],
            cascade,
            &what,
        )?);
    }
    Ok(Outcome::Command {
        tag: "DROP SEQUENCE".into(),
        notices,
    })
}

/// The sequences the columns of `tables` own.
pub(super) fn owned_sequences(txn: &mut Transaction, tables: &[&str]) -> Result<Vec<Sequence>> {
    Ok(catalog::list_relations(txn)?
        .into_iter()
        .filter_map(|relation| match relation {
            Relation::Sequence(sequence)
                if sequence
                    .owner
                    .as_ref()
                    .is_some_and(|owner| tables.contains(&owner.table.as_str())) =>
            {
                Some(sequence)
            }
            _ => None,
        })
        .collect())
}

/// `TRUNCATE … RESTART IDENTITY`: the tables' sequences start again.
pub(super) fn restart_owned_sequences(
    txn: &mut Transaction,
    positions: &Sequences,
    tables: &[&str],
) -> Result<()> {
    for sequence in owned_sequences(txn, tables)? {
        restart_sequence(txn, positions, &sequence, sequence.start)?;
    }
    Ok(())
}
