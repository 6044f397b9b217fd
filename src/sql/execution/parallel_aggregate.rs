//! Parallel aggregation: a long scan under a hash aggregation is finished
//! by worker threads, each aggregating the rows it reads into partial
//! groups that the query's thread then combines.
//!
//! PostgreSQL runs such a query as `Finalize Aggregate ← Gather ← Partial
//! Aggregate ← Parallel Seq Scan`: every worker reads a share of the table
//! *and* aggregates it, so the per-row work of the aggregation (group
//! lookup, the calls' arguments, the accumulators), not only the storage
//! half that read-ahead (`read_ahead.rs`) moves, is spread over the cores.
//! This is the same shape, decided at run time like read-ahead:
//!
//! ```text
//!   query thread: first READ_AHEAD_AFTER stored rows, aggregated here;
//!                 the scan parks, and the rest of its key range is cut at
//!                 B+tree separators into PARTS_PER_WORKER × workers parts
//!                       │
//!        part queue ◄───┘    [k0, k1) [k1, k2) [k2, k3) …
//!          │      │
//!   worker 1      worker 2: take a part, scan it (its own MVCC scan),
//!          │      │         decode, filter, project, group, accumulate;
//!          │      │         next part … until the queue is empty
//!          ▼      ▼
//!   partial groups ──► query thread: combine into its table (finalize)
//! ```
//!
//! Each part is its own MVCC scan, so workers share nothing while they
//! read; taking parts from a queue, as PostgreSQL's parallel scan hands
//! out blocks, keeps them busy until the end even when parts differ.
//!
//! Invariants:
//! 1. Only what combines runs in workers: a plain GROUP BY (one grouping
//!    set) or none, calls whose partial states combine whatever the order
//!    (`Accumulator::combines`: not DISTINCT, ORDER BY or `string_agg`),
//!    and expressions, the scan's filter included, that read nothing but
//!    the row, the statement's parameters and the session's time (no
//!    subqueries, no outer references, nothing volatile such as
//!    `nextval`). Workers evaluate without the transaction.
//! 2. Every row is aggregated once: rows the query's thread read before
//!    parking are in its table; each row after that is taken from the
//!    shared scan by exactly one worker. If a worker's groups outgrow its
//!    share of `hash_mem` (`hash_mem / (workers + 1)`), every partial
//!    result is dropped and the query's thread reads the scan's rest again
//!    itself (the same rows: the statement's snapshot), where its table can
//!    spill; so memory stays bounded and no partial state is ever spilled.
//! 3. The scan's reads were registered with SSI when it opened (its whole
//!    range); workers only continue it. They run inside the operator's
//!    call and are joined before it returns, however it returns.
//! 4. An error in any worker stops the others and is the query's error; a
//!    worker that panicked is an internal error, never a shorter result.
//!
//! What differs from the serial result, as in PostgreSQL's parallel
//! aggregation: the groups come out in another order (only ORDER BY fixes
//! an order), floating-point sums add in another order (their last digits
//! may differ), and which row's error is reported when several fail.

use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use super::accumulator::Accumulator;
use super::aggregate::{Input, Table, single_set_row};
use super::context::{Context, QueryState};
use super::read_ahead::{self, WorkerSlot};
use super::scan::{Parked, RowShape, project_into};
use crate::error::{Error, Result};
use crate::sql::encoding::decode_row_prefix_into;
use crate::sql::expr::Expr;
use crate::sql::plan::Aggregate;
use crate::sql::stack;
use crate::sql::types::{Row, Value};
use crate::storage::{Direction, KeyRange, TreeId};
use crate::txn::MvccScan;

/// Parts of the rest per worker: enough to even out parts of different
/// lengths, few enough that each is long.
const PARTS_PER_WORKER: usize = 4;
/// Rows a worker reads between looks at the stop flag.
const ROWS_PER_CHECK: usize = 1024;

/// What every worker runs: the scan's row shape and the aggregation.
pub(super) struct Fragment {
    shape: RowShape,
    group_by: Vec<Expr>,
    /// `Expr::sole_columns` of `group_by` (`aggregate::single_set_row`).
    group_moves: Vec<Option<usize>>,
    aggregates: Vec<Aggregate>,
}

impl Fragment {
    /// The fragment, if this aggregation may run in workers (invariant 1).
    /// `single_set`: a plain GROUP BY or none.
    pub(super) fn new(
        shape: RowShape,
        group_by: &[Expr],
        aggregates: &[Aggregate],
        single_set: bool,
    ) -> Option<Fragment> {
        let portable = |expr: &Expr| {
            let mut portable = true;
            expr.walk(&mut |expr| {
                if matches!(expr, Expr::Subquery(_) | Expr::Outer(_)) {
                    portable = false;
                }
            });
            portable && !expr.is_volatile()
        };
        let calls_portable = aggregates.iter().all(|aggregate| {
            Accumulator::combines(aggregate)
                && aggregate.args.iter().all(portable)
                && aggregate.filter.as_ref().is_none_or(portable)
        });
        let eligible = single_set
            && calls_portable
            && group_by.iter().all(portable)
            && shape.filter.as_ref().is_none_or(portable);
        eligible.then(|| Fragment {
            shape,
            group_by: group_by.to_vec(),
            group_moves: Expr::sole_columns(group_by),
            aggregates: aggregates.to_vec(),
        })
    }
}

/// How a parallel run ended.
pub(super) enum Outcome {
    /// Every worker's partial groups, the whole rest of the scan in them.
    Groups(Vec<Table>),
    /// No worker could start: the scan is given back, to go on serially.
    NoWorkers(Box<MvccScan>),
    /// A worker's groups outgrew its memory (invariant 2): nothing of the
    /// rest was aggregated, and it is to be read again.
    TooManyGroups,
}

/// The parts of the rest not taken yet.
struct Shared {
    parts: Mutex<Vec<MvccScan>>,
    /// Set when a worker fails or gives up: the others stop soon after.
    stop: AtomicBool,
}

/// How one worker ended.
enum WorkerEnd {
    /// Its partial groups: (set 0, group values) and each call's state.
    Groups(Table),
    TooManyGroups,
    /// Another worker failed or gave up first.
    Stopped,
}

/// Runs the rest of a parked scan of `tree` in as many workers as the
/// query may start, each aggregating with `fragment`.
pub(super) fn run(
    fragment: &Arc<Fragment>,
    tree: TreeId,
    parked: Parked,
    context: &mut Context<'_>,
) -> Result<Outcome> {
    let mut slots = Vec::new();
    while let Some(slot) = context.read_ahead_slot() {
        slots.push(slot);
    }
    let transaction = context.transaction()?;
    let keys = match slots.is_empty() {
        true => Vec::new(),
        false => transaction.split_range(tree, &parked.rest, slots.len() * PARTS_PER_WORKER)?,
    };
    if keys.is_empty() {
        // Too short to split, or no place for a worker.
        return Ok(Outcome::NoWorkers(parked.scan));
    }
    slots.truncate(keys.len() + 1);
    let mut parts = Vec::with_capacity(keys.len() + 1);
    let mut start = parked.rest.start;
    for key in keys {
        let range = KeyRange {
            start,
            end: Bound::Excluded(key.clone()),
        };
        parts.push(transaction.scan_part(tree, range, Direction::Forward));
        start = Bound::Included(key);
    }
    let range = KeyRange {
        start,
        end: parked.rest.end,
    };
    parts.push(transaction.scan_part(tree, range, Direction::Forward));
    // Popped from the end: the first part first.
    parts.reverse();
    let budget = context.hash_mem() / (slots.len() + 1);
    let params = context.state.params.clone();
    let time = context.state.time.clone();
    let shared = Arc::new(Shared {
        parts: Mutex::new(parts),
        stop: AtomicBool::new(false),
    });
    // A worker's expressions may nest as deep as the query thread's.
    let stack_limit = stack::thread_limit();
    let mut workers = Vec::with_capacity(slots.len());
    for slot in slots {
        let (fragment, shared, params, time) = (
            Arc::clone(fragment),
            Arc::clone(&shared),
            params.clone(),
            time.clone(),
        );
        let spawned = std::thread::Builder::new()
            .name("basalt-parallel".into())
            .stack_size(stack_limit + stack::MAX_STACK_DEPTH)
            .spawn(move || {
                let _slot: WorkerSlot = slot;
                stack::set_thread_limit(stack_limit);
                let _base = stack::StackBase::enter();
                let result = work(&fragment, &shared, params, time, budget);
                if !matches!(result, Ok(WorkerEnd::Groups(_))) {
                    shared.stop.store(true, Ordering::Release);
                }
                result
            });
        // A worker that cannot start leaves the rows to the others.
        if let Ok(worker) = spawned {
            read_ahead::count_started();
            workers.push(worker);
        }
    }
    if workers.is_empty() {
        // The parts are dropped unread; the parked scan goes on.
        return Ok(Outcome::NoWorkers(parked.scan));
    }
    // Invariant 3: every worker is joined before anything returns.
    let ends: Vec<_> = workers.into_iter().map(|worker| worker.join()).collect();
    let mut parts = Vec::with_capacity(ends.len());
    let mut too_many = false;
    let mut failure = None;
    for end in ends {
        match end {
            Ok(Ok(WorkerEnd::Groups(groups))) => parts.push(groups),
            Ok(Ok(WorkerEnd::TooManyGroups)) => too_many = true,
            Ok(Ok(WorkerEnd::Stopped)) => {}
            Ok(Err(error)) => {
                failure.get_or_insert(error);
            }
            Err(_) => {
                failure.get_or_insert(Error::Internal(
                    "a parallel aggregation worker stopped before the end of its scan".into(),
                ));
            }
        }
    }
    if let Some(error) = failure {
        return Err(error);
    }
    if too_many {
        return Ok(Outcome::TooManyGroups);
    }
    if !shared.parts.lock().is_empty() {
        // Invariant 4: every worker stopped, none said why.
        return Err(Error::Internal(
            "a parallel aggregation ended before its scan did".into(),
        ));
    }
    Ok(Outcome::Groups(parts))
}

/// One worker: takes chunks of stored rows from the shared scan until it
/// ends, aggregating each row into its own groups.
fn work(
    fragment: &Fragment,
    shared: &Shared,
    params: Vec<Value>,
    time: crate::sql::datetime::TimeContext,
    budget: usize,
) -> Result<WorkerEnd> {
    // Expressions here read only the row, the parameters and the session's
    // time (invariant 1); `hash_mem` is the worker's share.
    let mut state = QueryState::new(params, budget).with_time(time);
    let mut context = Context::new(None, &mut state);
    let aggregates = &fragment.aggregates;
    let mut table = Table::new(aggregates, 0, &mut context);
    let calls = (
        fragment.group_by.as_slice(),
        fragment.group_moves.as_slice(),
        aggregates.as_slice(),
    );
    // Buffers reused for every row.
    let mut stored = Vec::new();
    let (mut decoded, mut projected): (Row, Row) = (Vec::new(), Vec::new());
    let mut group: Row = Vec::with_capacity(1 + fragment.group_by.len());
    let mut inputs: Vec<Input> = aggregates.iter().map(|_| Input::default()).collect();
    loop {
        let Some(mut scan) = shared.parts.lock().pop() else {
            return Ok(WorkerEnd::Groups(table));
        };
        let mut rows = 0usize;
        while scan.next_row(&mut stored)? {
            rows += 1;
            if rows.is_multiple_of(ROWS_PER_CHECK) && shared.stop.load(Ordering::Acquire) {
                return Ok(WorkerEnd::Stopped);
            }
            // The serial scan's steps (`scan::produce_row`), into reused
            // buffers: decode, filter, project.
            // Without the NULLs after the last wanted column, as the
            // serial scan decodes: the filter reads only wanted columns and
            // the projection reads a missing one as NULL.
            decode_row_prefix_into(&stored, fragment.shape.decode.as_deref(), &mut decoded)?;
            if let Some(filter) = &fragment.shape.filter
                && !filter.is_true(&decoded, &mut context)?
            {
                continue;
            }
            projected.clear();
            project_into(
                &mut decoded,
                fragment.shape.positions.as_deref(),
                &mut projected,
            );
            // The aggregation's steps (`AggregateOperator::read_input`).
            single_set_row(calls, &mut projected, &mut context, &mut inputs, &mut group)?;
            if !table.offer_in_memory(&group, &inputs, aggregates)? {
                return Ok(WorkerEnd::TooManyGroups);
            }
        }
    }
}
