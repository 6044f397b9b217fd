//! Running `ANALYZE` in transactions of its own: for the statement outside
//! a transaction block (each table in its own transaction, as PostgreSQL
//! does), and for the automatic analyze, a background thread that wakes
//! every `naptime` and analyzes each table whose committed row changes
//! (`txn/changes.rs`) exceed `threshold + scale_factor × rows` (rows as of
//! its last analysis, 0 if never), as PostgreSQL's autovacuum launcher
//! does for analyze.
//!
//! A table's analysis takes its relation lock in `Write` mode, which
//! writers share, so it never blocks them but keeps `DROP TABLE` and
//! `CREATE INDEX` out until it commits. Its commit raises the catalog
//! generation, so cached plans are made again with the new statistics.

use std::sync::{Arc, Weak};

use super::analyze::analyze_and_store;
use super::store;
use crate::config::AutoAnalyze;
use crate::error::{Error, Result};
use crate::sql::Instance;
use crate::sql::catalog::{self, Table};
use crate::txn::{IsolationLevel, RelationLockMode, Transaction};

/// How often a conflicting concurrent analysis of the same table is
/// retried before the error is reported.
const ATTEMPTS: usize = 3;

/// `ANALYZE [table [(columns)]]` outside a transaction block.
pub fn analyze_now(
    instance: &Instance,
    table: Option<&str>,
    columns: Option<&[String]>,
) -> Result<()> {
    let names: Vec<String> = match table {
        Some(name) => vec![name.to_string()],
        None => tables(instance)?
            .into_iter()
            .map(|table| table.name)
            .collect(),
    };
    for name in names {
        let mut attempt = 1;
        loop {
            match analyze_in_own_transaction(instance, &name, columns) {
                Err(Error::Serialization(_)) if attempt < ATTEMPTS => attempt += 1,
                // A table dropped since the list was read is skipped.
                Err(Error::Sql { state, .. })
                    if table.is_none() && state == crate::error::SqlState::UNDEFINED_TABLE =>
                {
                    break;
                }
                other => {
                    other?;
                    break;
                }
            }
        }
    }
    Ok(())
}

/// `ANALYZE` inside a transaction block: the statistics commit or roll
/// back with it.
pub fn analyze_in(
    txn: &mut Transaction,
    table: Option<&str>,
    columns: Option<&[String]>,
) -> Result<()> {
    let tables = match table {
        Some(name) => vec![catalog::require_table(txn, name)?],
        None => catalog::list_tables(txn)?,
    };
    for table in tables {
        let table = lock(txn, &table)?;
        analyze_and_store(txn, &table, columns)?;
    }
    Ok(())
}

fn lock(txn: &mut Transaction, table: &Table) -> Result<Table> {
    txn.lock_relation(table.tree, RelationLockMode::Write)?;
    catalog::current_table(txn, table)
}

fn tables(instance: &Instance) -> Result<Vec<Table>> {
    let mut txn = instance.mvcc().begin(IsolationLevel::ReadCommitted)?;
    txn.begin_statement();
    let tables = catalog::list_tables(&mut txn)?;
    txn.commit()?;
    Ok(tables)
}

/// Analyzes one table in a transaction of its own; the changes counted
/// before it started are consumed once it committed.
fn analyze_in_own_transaction(
    instance: &Instance,
    name: &str,
    columns: Option<&[String]>,
) -> Result<()> {
    let mvcc = instance.mvcc();
    let mut txn = mvcc.begin(IsolationLevel::ReadCommitted)?;
    txn.begin_statement();
    let table = catalog::require_table(&mut txn, name)?;
    let table = lock(&mut txn, &table)?;
    let seen = mvcc.changes.get(table.tree);
    analyze_and_store(&mut txn, &table, columns)?;
    txn.commit()?;
    mvcc.changes.consume(table.tree, seen);
    instance.catalog_changed();
    Ok(())
}

/// Starts the automatic analyze thread; it ends with the instance.
pub fn start(instance: &Arc<Instance>, settings: AutoAnalyze) -> std::io::Result<()> {
    if !settings.enabled {
        return Ok(());
    }
    let weak = Arc::downgrade(instance);
    std::thread::Builder::new()
        .name("basalt-autoanalyze".into())
        .spawn(move || launcher(weak, settings))
        .map(drop)
}

fn launcher(instance: Weak<Instance>, settings: AutoAnalyze) {
    // Sleep in short steps, so the thread ends soon after the instance.
    let step = settings.naptime.min(std::time::Duration::from_millis(100));
    let mut slept = std::time::Duration::ZERO;
    loop {
        std::thread::sleep(step);
        slept += step;
        let Some(instance) = instance.upgrade() else {
            return;
        };
        if slept < settings.naptime {
            continue;
        }
        slept = std::time::Duration::ZERO;
        if let Err(error) = round(&instance, &settings) {
            tracing::warn!(%error, "automatic analyze stopped");
        }
    }
}

/// One pass over the tables: analyzes those changed enough.
pub fn round(instance: &Instance, settings: &AutoAnalyze) -> Result<()> {
    let mvcc = instance.mvcc();
    if mvcc.engine().fatal_error().is_some() {
        return Ok(());
    }
    // The tables changed enough, found in one transaction.
    let mut due = Vec::new();
    let mut txn = mvcc.begin(IsolationLevel::ReadCommitted)?;
    txn.begin_statement();
    for table in catalog::list_tables(&mut txn)? {
        let changes = mvcc.changes.get(table.tree);
        if changes == 0 {
            continue;
        }
        let rows = store::get_current(&mut txn, table.tree)?.map_or(0.0, |stats| stats.rows);
        if (changes as f64) > settings.threshold as f64 + settings.scale_factor * rows {
            due.push((table, changes));
        }
    }
    txn.commit()?;
    for (table, changes) in due {
        match analyze_in_own_transaction(instance, &table.name, None) {
            Ok(()) => tracing::debug!(table = %table.name, changes, "automatic analyze"),
            // Dropped, or analyzed by someone else meanwhile: next round.
            Err(error) => tracing::debug!(table = %table.name, %error, "automatic analyze skipped"),
        }
    }
    Ok(())
}
