//! Measuring operators for `EXPLAIN ANALYZE`: how many times each plan
//! node ran (loops), how many rows it returned, and the time spent inside
//! it, to its first row and to its last.
//!
//! `EXPLAIN ANALYZE` runs its query inside [`measuring`]. While that runs,
//! [`build`](super::build) wraps every operator it makes in a
//! [`Measured`] one that counts into the [`NodeMeasure`] of the plan node
//! it was built from, found by the node's address. Operators built while
//! the query runs (a parameterized join's inner side, a subquery, a CTE)
//! are built inside the same call, so they are measured too; a plan
//! copied for one of them is mapped back to the nodes it was copied from
//! ([`alias`]), so the printer, which walks the original plan, finds
//! them.
//!
//! ```text
//!   next() ──► Measured ──► operator ──► …
//!                 │  loop starts at the first call after creation or
//!                 │  after the operator returned its last row
//!                 └─► NodeMeasure { loops, rows, time to first row, time }
//! ```
//!
//! Times are wall-clock time inside `next` (PostgreSQL's are the same:
//! inclusive of the inputs). The switch is per thread: the engine below
//! the server is synchronous, so a statement runs start to end on the
//! thread that started it, and [`measuring`] switches measurement off
//! again when the run ends, however it ends.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::{Context, Operator};
use crate::error::Result;
use crate::sql::plan::LogicalPlan;
use crate::sql::types::Row;

/// What one plan node did, over all its loops.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NodeMeasure {
    /// Times the node started (PostgreSQL's `loops`).
    pub loops: u64,
    /// Rows returned, over all loops.
    pub rows: u64,
    /// Time to each loop's first row (or to its end, if it returned
    /// none), summed over loops.
    pub startup: Duration,
    /// Time inside the node, summed over loops.
    pub total: Duration,
}

/// The measurements of one `EXPLAIN ANALYZE` run, by plan node address.
#[derive(Default)]
pub struct Measurements {
    nodes: Mutex<HashMap<usize, Arc<Mutex<NodeMeasure>>>>,
    /// A copied node's address → the address of the node it copies.
    aliases: Mutex<HashMap<usize, usize>>,
    /// Whether to read the clock (`TIMING`).
    timing: bool,
}

impl Measurements {
    pub fn new(timing: bool) -> Measurements {
        Measurements {
            timing,
            ..Measurements::default()
        }
    }

    /// What the node at `plan` did; `None` if it never ran.
    pub fn get(&self, plan: &LogicalPlan) -> Option<NodeMeasure> {
        let nodes = self.nodes.lock();
        nodes.get(&address(plan)).map(|node| *node.lock())
    }

    fn node(&self, plan: &LogicalPlan) -> Arc<Mutex<NodeMeasure>> {
        let mut key = address(plan);
        if let Some(original) = self.aliases.lock().get(&key) {
            key = *original;
        }
        Arc::clone(self.nodes.lock().entry(key).or_default())
    }
}

fn address(plan: &LogicalPlan) -> usize {
    plan as *const LogicalPlan as usize
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<Measurements>>> = const { RefCell::new(None) };
}

/// Runs `f` with every operator built on this thread measured into
/// `measurements`.
pub fn measuring<T>(measurements: &Arc<Measurements>, f: impl FnOnce() -> T) -> T {
    struct Reset(Option<Arc<Measurements>>);
    impl Drop for Reset {
        fn drop(&mut self) {
            let previous = self.0.take();
            CURRENT.with(|current| *current.borrow_mut() = previous);
        }
    }
    let previous = CURRENT.with(|current| current.replace(Some(Arc::clone(measurements))));
    let _reset = Reset(previous);
    f()
}

fn current() -> Option<Arc<Measurements>> {
    CURRENT.with(|current| current.borrow().clone())
}

/// `operator`, built from `plan`, measured if measurement is on.
pub(super) fn wrap(plan: &LogicalPlan, operator: Operator) -> Operator {
    match current() {
        Some(measurements) => Operator::Measured(Box::new(Measured {
            node: measurements.node(plan),
            timing: measurements.timing,
            inner: operator,
            state: LoopState::Idle,
        })),
        None => operator,
    }
}

/// Records that `copy` is a copy of `original` (same shape), so the nodes
/// of the copy count as the original's.
pub(super) fn alias(original: &LogicalPlan, copy: &LogicalPlan) {
    let Some(measurements) = current() else {
        return;
    };
    let mut originals = Vec::new();
    original.for_each_plan(&mut |node| originals.push(address(node)));
    let mut copies = Vec::new();
    copy.for_each_plan(&mut |node| copies.push(address(node)));
    debug_assert_eq!(originals.len(), copies.len());
    let mut aliases = measurements.aliases.lock();
    for (copy, original) in copies.into_iter().zip(originals) {
        aliases.insert(copy, original);
    }
}

/// Where a measured operator is in its current loop.
#[derive(Clone, Copy)]
enum LoopState {
    /// Not started, or finished its last loop.
    Idle,
    /// In a loop: the time spent in it so far, and whether it returned a
    /// row yet.
    Running { elapsed: Duration, returned: bool },
}

/// An operator and the measure it counts into.
pub struct Measured {
    inner: Operator,
    node: Arc<Mutex<NodeMeasure>>,
    timing: bool,
    state: LoopState,
}

impl Measured {
    pub fn next(&mut self, context: &mut Context<'_>) -> Result<Option<Row>> {
        let (mut elapsed, mut returned) = match self.state {
            LoopState::Idle => {
                self.node.lock().loops += 1;
                (Duration::ZERO, false)
            }
            LoopState::Running { elapsed, returned } => (elapsed, returned),
        };
        let started = self.timing.then(Instant::now);
        let result = self.inner.next(context);
        let spent = started.map_or(Duration::ZERO, |started| started.elapsed());
        elapsed += spent;
        let mut node = self.node.lock();
        node.total += spent;
        self.state = match &result {
            Ok(Some(_)) => {
                node.rows += 1;
                if !returned {
                    returned = true;
                    node.startup += elapsed;
                }
                LoopState::Running { elapsed, returned }
            }
            Ok(None) => {
                if !returned {
                    node.startup += elapsed;
                }
                LoopState::Idle
            }
            Err(_) => LoopState::Running { elapsed, returned },
        };
        result
    }

    pub fn inner(&self) -> &Operator {
        &self.inner
    }

    pub fn inner_mut(&mut self) -> &mut Operator {
        &mut self.inner
    }
}
