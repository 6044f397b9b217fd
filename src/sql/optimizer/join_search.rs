//! Join order by dynamic programming over connected subsets (Selinger et
//! al., "Access path selection in a relational database management
//! system", 1979, here with bushy trees, as PostgreSQL's standard join
//! search does):
//!
//! ```text
//!   best({r}) = r                                  (its estimated rows, cost)
//!   best(S)   = cheapest  join(best(S1), best(S2))  over S1 ⊂ S, S2 = S − S1,
//!               both already planned and connected by a condition
//! ```
//!
//! Subsets are visited by size, so both halves of a split are planned
//! before the whole. Splits joined by no condition (cross products) are
//! considered only when the relations cannot all be joined without them;
//! then the search runs again allowing them anywhere. A join's rows
//! are the product of its halves' and of the selectivities of the
//! conditions between them (`estimate.rs`), the same for every split of a
//! set; its cost is the cheapest of a hash join (built on the inner half),
//! a merge join when both halves are tables read in key order and joined
//! on their keys, and, when the inner half is one table whose primary key
//! or an index's leading column the conditions fix, a lookup per outer
//! row — the algorithms `join_strategy` then chooses between.
//!
//! 3ⁿ splits for n relations: up to [`SEARCH_LIMIT`] relations; above,
//! `join_order`'s greedy order.

use std::collections::HashMap;

use super::cost::{Estimate, JoinInputs, JoinMethod};
use super::equivalence::Class;
use super::estimate::Estimator;
use super::join_strategy::{equi_pair, join_methods};
use crate::sql::expr::{ColumnId, Expr};
use crate::sql::plan::{JoinKind, LogicalPlan};

/// The most relations ordered by dynamic programming.
pub const SEARCH_LIMIT: usize = 10;

/// A join tree over relation positions.
#[derive(Clone, Debug, PartialEq)]
pub enum JoinTree {
    Relation(usize),
    /// Outer (left) and inner (right).
    Join(Box<JoinTree>, Box<JoinTree>),
}

#[derive(Clone)]
struct Planned {
    rows: f64,
    cost: f64,
    tree: JoinTree,
}

/// A condition and the relations it reads (bit `i`: relation `i`).
struct Edge<'e> {
    relations: u32,
    conjunct: &'e Expr,
    selectivity: f64,
}

/// The cheapest join tree over `relations` with `conjuncts` and the
/// equivalence classes `classes` (`equivalence.rs`: each joins the
/// relations of its members, one equality per join), at most
/// [`SEARCH_LIMIT`] relations.
pub fn search(
    relations: &[LogicalPlan],
    conjuncts: &[Expr],
    classes: &[Class],
    estimator: &Estimator<'_>,
) -> JoinTree {
    debug_assert!((2..=SEARCH_LIMIT).contains(&relations.len()));
    let outputs: Vec<Vec<ColumnId>> = relations.iter().map(LogicalPlan::output).collect();
    let edges: Vec<Edge<'_>> = conjuncts
        .iter()
        .map(|conjunct| {
            let read = conjunct.columns();
            let mut mask = 0u32;
            for (position, output) in outputs.iter().enumerate() {
                if read.iter().any(|id| output.contains(id)) {
                    mask |= 1 << position;
                }
            }
            Edge {
                relations: mask,
                conjunct,
                selectivity: estimator.selectivity(conjunct, None),
            }
        })
        .collect();
    let leaves: Vec<(u32, Planned)> = relations
        .iter()
        .enumerate()
        .map(|(position, relation)| {
            let estimate = estimator.estimate(relation);
            let planned = Planned {
                rows: estimate.rows,
                cost: estimate.total,
                tree: JoinTree::Relation(position),
            };
            (1 << position, planned)
        })
        .collect();
    let full: u32 = (1 << relations.len()) - 1;
    // Connected splits only; if that cannot join everything, again with
    // cross products allowed anywhere.
    for cross_products in [false, true] {
        let mut best: HashMap<u32, Planned> = leaves.iter().cloned().collect();
        for size in 2..=relations.len() as u32 {
            for set in (1..=full).filter(|set| set.count_ones() == size) {
                if let Some(planned) = best_split(
                    set,
                    cross_products,
                    &best,
                    (&edges, classes),
                    relations,
                    &outputs,
                    estimator,
                ) {
                    best.insert(set, planned);
                }
            }
        }
        if let Some(planned) = best.remove(&full) {
            return planned.tree;
        }
    }
    // Not reached (with cross products every set has a plan): the
    // written order, left-deep.
    (1..relations.len()).fold(JoinTree::Relation(0), |tree, position| {
        JoinTree::Join(Box::new(tree), Box::new(JoinTree::Relation(position)))
    })
}

/// The cheapest split of `set` into two planned halves.
fn best_split(
    set: u32,
    cross_products: bool,
    best: &HashMap<u32, Planned>,
    (edges, classes): (&[Edge<'_>], &[Class]),
    relations: &[LogicalPlan],
    outputs: &[Vec<ColumnId>],
    estimator: &Estimator<'_>,
) -> Option<Planned> {
    let mut found: Option<Planned> = None;
    // Every non-empty proper subset as the outer half, in ascending order,
    // so that of equal costs the split keeping the written order wins.
    let mut outers = Vec::new();
    let mut outer = (set - 1) & set;
    while outer != 0 {
        outers.push(outer);
        outer = (outer - 1) & set;
    }
    for &outer in outers.iter().rev() {
        let inner = set & !outer;
        if let (Some(left), Some(right)) = (best.get(&outer), best.get(&inner)) {
            let mut between: Vec<(&Expr, f64)> = edges
                .iter()
                .filter(|edge| {
                    edge.relations & outer != 0
                        && edge.relations & inner != 0
                        && edge.relations & !set == 0
                })
                .map(|edge| (edge.conjunct, edge.selectivity))
                .collect();
            let implied: Vec<(Expr, f64)> = classes
                .iter()
                .filter_map(|class| class.join_condition(outer, inner, estimator))
                .collect();
            between.extend(
                implied
                    .iter()
                    .map(|(condition, selectivity)| (condition, *selectivity)),
            );
            if !between.is_empty() || cross_products {
                let selectivity: f64 = between.iter().map(|(_, selectivity)| selectivity).product();
                let rows = (left.rows * right.rows * selectivity).max(1.0);
                let cost = join_cost(
                    left, right, inner, rows, &between, relations, outputs, estimator,
                );
                if found.as_ref().is_none_or(|found| cost < found.cost) {
                    found = Some(Planned {
                        rows,
                        cost,
                        tree: JoinTree::Join(
                            Box::new(left.tree.clone()),
                            Box::new(right.tree.clone()),
                        ),
                    });
                }
            }
        }
    }
    found
}

/// The cheapest of the algorithms `join_strategy` can choose for joining
/// `inner` to `outer`: hashing the inner half, merging two tables read in
/// key order, and looking the inner table up per outer row.
#[allow(clippy::too_many_arguments)]
fn join_cost(
    outer: &Planned,
    inner: &Planned,
    inner_set: u32,
    rows: f64,
    between: &[(&Expr, f64)],
    relations: &[LogicalPlan],
    outputs: &[Vec<ColumnId>],
    estimator: &Estimator<'_>,
) -> f64 {
    let side = |planned: &Planned| Estimate {
        rows: planned.rows,
        width: 0.0,
        startup: 0.0,
        total: planned.cost,
    };
    let inputs = JoinInputs {
        outer: side(outer),
        inner: side(inner),
        pairs: rows,
        rows,
        condition_ops: 0.0,
    };
    let hash = inputs
        .cost(JoinMethod::Hash {
            keys: between.len(),
        })
        .1;
    if inner_set.count_ones() != 1 {
        return hash;
    }
    let position = inner_set.trailing_zeros() as usize;
    let relation = &relations[position];
    let outer_columns: Vec<ColumnId> = outputs
        .iter()
        .enumerate()
        .filter(|(index, _)| *index != position)
        .flat_map(|(_, output)| output.iter().copied())
        .collect();
    let keys: Vec<(Expr, Expr)> = between
        .iter()
        .filter_map(|(conjunct, _)| {
            equi_pair(
                conjunct,
                &outer_columns,
                &outputs[position],
                estimator.columns(),
            )
        })
        .collect();
    let outer_relation = match outer.tree {
        JoinTree::Relation(outer_position) => Some(&relations[outer_position]),
        JoinTree::Join(..) => None,
    };
    let methods = join_methods(
        outer_relation,
        relation,
        JoinKind::Inner,
        &keys,
        rows / outer.rows.max(1.0),
        estimator,
    );
    methods
        .into_iter()
        .map(|method| inputs.cost(method).1)
        .fold(hash, f64::min)
}

/// The relations of a join tree (bit `i`: relation `i`).
fn tree_relations(tree: &JoinTree) -> u32 {
    match tree {
        JoinTree::Relation(position) => 1 << position,
        JoinTree::Join(outer, inner) => tree_relations(outer) | tree_relations(inner),
    }
}

/// What [`build`] places conjuncts with: the relations' columns, the
/// equivalence classes and the estimator that picks their equalities.
pub struct Placement<'p, 'e> {
    pub all_columns: &'p [ColumnId],
    pub classes: &'p [Class],
    pub estimator: &'p Estimator<'e>,
}

/// Builds the plan of a join tree: each conjunct at the lowest join where
/// every relation it reads is available, and at each join one equality
/// per equivalence class with members on both sides (the one the search
/// priced); what no join takes (conjuncts over one relation, or none) is
/// returned.
pub fn build(
    tree: &JoinTree,
    relations: &mut [Option<LogicalPlan>],
    conjuncts: &mut Vec<Expr>,
    placement: &Placement<'_, '_>,
) -> LogicalPlan {
    let all_columns = placement.all_columns;
    match tree {
        JoinTree::Relation(position) => relations[*position]
            .take()
            .expect("invariant: each relation appears once in a join tree"),
        JoinTree::Join(outer, inner) => {
            let left = build(outer, relations, conjuncts, placement);
            let right = build(inner, relations, conjuncts, placement);
            let mut available = left.output();
            available.extend(right.output());
            let (ready, later): (Vec<Expr>, Vec<Expr>) =
                std::mem::take(conjuncts).into_iter().partition(|conjunct| {
                    conjunct
                        .columns()
                        .iter()
                        .all(|id| available.contains(id) || !all_columns.contains(id))
                });
            *conjuncts = later;
            let (outer_set, inner_set) = (tree_relations(outer), tree_relations(inner));
            let mut ready = ready;
            ready.extend(placement.classes.iter().filter_map(|class| {
                class
                    .join_condition(outer_set, inner_set, placement.estimator)
                    .map(|(condition, _)| condition)
            }));
            LogicalPlan::Join {
                left: Box::new(left),
                right: Box::new(right),
                kind: crate::sql::plan::JoinKind::Inner,
                condition: Expr::conjunction(ready),
                strategy: crate::sql::plan::JoinStrategy::NestedLoop,
            }
        }
    }
}
