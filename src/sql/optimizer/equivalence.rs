//! Equivalence classes of join columns, for the join search: from
//! `c.nation = s.nation AND s.nation = n.key` follows `c.nation = n.key`,
//! a join condition nobody wrote, which lets the search join `c` with `n`
//! before `s` (TPC-H Q5 joins its customers with the region's nations
//! first this way). PostgreSQL's planner keeps such classes too
//! (`EquivalenceClass`, optimizer/README) and, like here, applies one
//! equality per class at each join that brings members of a class
//! together:
//!
//! ```text
//!   written:  c.nation = s.nation,  s.nation = n.key
//!   class:    {c.nation, s.nation, n.key}
//!   join (c ⋈ n) ⋈ s:   c ⋈ n on c.nation = n.key,  then ⋈ s on s.nation = c.nation
//! ```
//!
//! Why the rows are the same: equality of columns of one type is
//! transitive, and a row passes the written equalities exactly when all of
//! its class's values are equal and not NULL, which is what one equality
//! per join that brings a new member in establishes, member by member.
//!
//! What stays as written (invariants):
//! 1. Only equalities of two plain columns of the same type from two
//!    different relations join a class: across types equality need not be
//!    transitive (`bigint = double` compares after rounding).
//! 2. Only classes of three members or more replace their conjuncts; a
//!    class of two is the one equality written, left as it is.
//! 3. A class with two members from the same relation is left as written
//!    (those two would need a filter on that relation, not a join
//!    condition).

use super::estimate::Estimator;
use crate::sql::expr::{BinaryOp, ColumnId, Expr};
use crate::sql::types::DataType;

/// One class: its members, each a column and the position of the relation
/// that outputs it.
#[derive(Clone, Debug)]
pub struct Class {
    members: Vec<(ColumnId, usize)>,
}

impl Class {
    /// The equality a join of the relations in `outer` with those in
    /// `inner` applies for this class, with its selectivity, if the class
    /// has members on both sides: of the pairs across, the most selective
    /// (ties: the first members).
    pub fn join_condition(
        &self,
        outer: u32,
        inner: u32,
        estimator: &Estimator<'_>,
    ) -> Option<(Expr, f64)> {
        let side = |mask: u32| {
            self.members
                .iter()
                .filter(move |(_, relation)| mask & (1 << relation) != 0)
        };
        let mut best: Option<(Expr, f64)> = None;
        for &(left, _) in side(outer) {
            for &(right, _) in side(inner) {
                let condition = equality(left, right);
                let selectivity = estimator.selectivity(&condition, None);
                if best.as_ref().is_none_or(|(_, found)| selectivity < *found) {
                    best = Some((condition, selectivity));
                }
            }
        }
        best
    }
}

fn equality(left: ColumnId, right: ColumnId) -> Expr {
    Expr::Binary {
        op: BinaryOp::Equal,
        left: Box::new(Expr::Column(left)),
        right: Box::new(Expr::Column(right)),
        data_type: DataType::Boolean,
    }
}

/// The relation outputting `id`.
fn relation_of(id: ColumnId, outputs: &[Vec<ColumnId>]) -> Option<usize> {
    outputs.iter().position(|output| output.contains(&id))
}

/// The classes of `conjuncts` over relations with `outputs` (invariants
/// 1–3); the conjuncts of the classes returned are removed, the others
/// stay.
pub fn extract(
    conjuncts: &mut Vec<Expr>,
    outputs: &[Vec<ColumnId>],
    estimator: &Estimator<'_>,
) -> Vec<Class> {
    let columns = estimator.columns();
    // Which conjuncts are candidate links (invariant 1), as member pairs.
    let links: Vec<Option<[(ColumnId, usize); 2]>> = conjuncts
        .iter()
        .map(|conjunct| {
            let Expr::Binary {
                op: BinaryOp::Equal,
                left,
                right,
                ..
            } = conjunct
            else {
                return None;
            };
            let (&Expr::Column(a), &Expr::Column(b)) = (&**left, &**right) else {
                return None;
            };
            let (ra, rb) = (relation_of(a, outputs)?, relation_of(b, outputs)?);
            (ra != rb && columns.data_type(a) == columns.data_type(b)).then_some([(a, ra), (b, rb)])
        })
        .collect();
    // Union of the linked columns, as lists of members.
    let mut groups: Vec<Vec<(ColumnId, usize)>> = Vec::new();
    let mut group_links: Vec<Vec<usize>> = Vec::new();
    for (index, link) in links.iter().enumerate() {
        let Some(pair) = link else { continue };
        let found: Vec<usize> = (0..groups.len())
            .filter(|&g| pair.iter().any(|member| groups[g].contains(member)))
            .collect();
        let mut members = pair.to_vec();
        let mut linked = vec![index];
        // Merge every group the pair touches (highest first, so indices
        // stay valid while removing).
        for &g in found.iter().rev() {
            members.extend(groups.remove(g));
            linked.extend(group_links.remove(g));
        }
        members.sort();
        members.dedup();
        groups.push(members);
        group_links.push(linked);
    }
    let mut classes = Vec::new();
    let mut taken = vec![false; conjuncts.len()];
    for (members, linked) in groups.into_iter().zip(group_links) {
        let mut relations: Vec<usize> = members.iter().map(|(_, relation)| *relation).collect();
        relations.sort_unstable();
        relations.dedup();
        // Invariants 2 and 3.
        if members.len() < 3 || relations.len() != members.len() {
            continue;
        }
        for index in linked {
            taken[index] = true;
        }
        classes.push(Class { members });
    }
    let mut index = 0;
    conjuncts.retain(|_| {
        let keep = !taken[index];
        index += 1;
        keep
    });
    classes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::plan::{ColumnCatalog, LogicalPlan};
    use crate::sql::statistics::set::StatisticsSet;

    /// Columns 0..n of `types`, relation `i` outputting the ids `outputs[i]`.
    fn catalog(types: &[DataType]) -> ColumnCatalog {
        let mut columns = ColumnCatalog::default();
        for (index, data_type) in types.iter().enumerate() {
            columns.add(format!("c{index}"), *data_type);
        }
        columns
    }

    fn equal(a: u32, b: u32) -> Expr {
        equality(ColumnId(a), ColumnId(b))
    }

    fn ids(ids: &[u32]) -> Vec<ColumnId> {
        ids.iter().map(|&id| ColumnId(id)).collect()
    }

    fn classes_of(
        conjuncts: &mut Vec<Expr>,
        outputs: &[Vec<ColumnId>],
        types: &[DataType],
    ) -> Vec<Vec<(ColumnId, usize)>> {
        let columns = catalog(types);
        let statistics = StatisticsSet::default();
        let plans: [&LogicalPlan; 0] = [];
        let estimator = Estimator::new(plans, &statistics, &columns);
        extract(conjuncts, outputs, &estimator)
            .into_iter()
            .map(|class| class.members)
            .collect()
    }

    #[test]
    fn a_chain_of_three_columns_becomes_one_class_and_leaves_the_conjuncts() {
        use DataType::Integer;
        // Relations 0, 1, 2 output columns {0}, {1}, {2, 3}.
        let outputs = [ids(&[0]), ids(&[1]), ids(&[2, 3])];
        let mut conjuncts = vec![equal(0, 1), equal(2, 1)];
        let classes = classes_of(&mut conjuncts, &outputs, &[Integer; 4]);
        assert_eq!(
            classes,
            vec![vec![(ColumnId(0), 0), (ColumnId(1), 1), (ColumnId(2), 2)]]
        );
        assert!(conjuncts.is_empty());
        // With 3 = 0 too, the class has two members in relation 2
        // (invariant 3): everything stays as written.
        let mut conjuncts = vec![equal(0, 1), equal(2, 1), equal(3, 0)];
        assert!(classes_of(&mut conjuncts, &outputs, &[Integer; 4]).is_empty());
        assert_eq!(conjuncts.len(), 3);
    }

    #[test]
    fn two_members_mixed_types_and_other_conjuncts_stay_as_written() {
        use DataType::{BigInt, Integer};
        let outputs = [ids(&[0]), ids(&[1]), ids(&[2])];
        // A class of two (invariant 2).
        let mut conjuncts = vec![equal(0, 1)];
        assert!(classes_of(&mut conjuncts, &outputs, &[Integer; 3]).is_empty());
        assert_eq!(conjuncts, vec![equal(0, 1)]);
        // Across types (invariant 1): 0 = 1 links, 1 = 2 does not.
        let mut conjuncts = vec![equal(0, 1), equal(1, 2)];
        assert!(classes_of(&mut conjuncts, &outputs, &[Integer, Integer, BigInt]).is_empty());
        assert_eq!(conjuncts.len(), 2);
        // Not an equality of columns: left alone beside a class.
        let filter = Expr::Binary {
            op: BinaryOp::Less,
            left: Box::new(Expr::Column(ColumnId(0))),
            right: Box::new(Expr::Column(ColumnId(2))),
            data_type: DataType::Boolean,
        };
        let mut conjuncts = vec![equal(0, 1), filter.clone(), equal(2, 1)];
        let classes = classes_of(&mut conjuncts, &outputs, &[Integer; 3]);
        assert_eq!(classes.len(), 1);
        assert_eq!(conjuncts, vec![filter]);
    }
}
