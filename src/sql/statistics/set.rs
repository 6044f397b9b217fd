//! The statistics of the tables one statement reads, loaded once before
//! it is optimized (and kept with its plan, for `EXPLAIN`).

use std::collections::HashMap;
use std::sync::Arc;

use super::store::{self, TableStatistics};
use crate::error::Result;
use crate::sql::plan::LogicalPlan;
use crate::storage::TreeId;
use crate::txn::Transaction;

/// Statistics by table tree; a table never analyzed has none.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatisticsSet {
    tables: HashMap<TreeId, Arc<TableStatistics>>,
}

impl StatisticsSet {
    /// The latest statistics of every table `plans` scan, subqueries
    /// included (`store::get_current`: no serializable read).
    pub fn load<'p>(
        txn: &mut Transaction,
        plans: impl IntoIterator<Item = &'p LogicalPlan>,
    ) -> Result<StatisticsSet> {
        let mut trees = Vec::new();
        for plan in plans {
            plan.for_each_plan(&mut |node| {
                if let LogicalPlan::Scan { table, .. } = node {
                    trees.push(table.tree);
                }
            });
        }
        let mut tables = HashMap::new();
        for tree in trees {
            if tables.contains_key(&tree) {
                continue;
            }
            if let Some(statistics) = store::get_current(txn, tree)? {
                tables.insert(tree, Arc::new(statistics));
            }
        }
        Ok(StatisticsSet { tables })
    }

    /// Sets a table's statistics (for tests of the planner).
    pub fn insert(&mut self, tree: TreeId, statistics: TableStatistics) {
        self.tables.insert(tree, Arc::new(statistics));
    }

    pub fn table(&self, tree: TreeId) -> Option<&TableStatistics> {
        self.tables.get(&tree).map(Arc::as_ref)
    }
}
