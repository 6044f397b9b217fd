//! Whether a scan's predicate implies a partial index's predicate, so
//! that every row the scan may return has an entry in the index and the
//! index may serve the scan. The idea is PostgreSQL's `predtest.c`, much
//! reduced: each conjunct of the index predicate must follow from one
//! conjunct of the scan's predicate, by one of
//!
//! ```text
//!   the same expression               deleted_at IS NULL  ⇒  deleted_at IS NULL
//!   a strict test of the operand      b > 5, b IN (…), b LIKE …  ⇒  b IS NOT NULL
//!   a narrower range on the operand   b > 5, b = 7  ⇒  b > 0;  b = 7  ⇒  b <> 3
//! ```
//!
//! Invariant: `implies` answers true only when the implication holds for
//! every row; anything it cannot prove is false, which only costs the
//! scan the index.

use std::cmp::Ordering;

use super::estimate::constant_value;
use crate::sql::expr::{BinaryOp, Expr};
use crate::sql::types::Value;

/// Whether the conjunction of `given` implies `predicate` (see the module
/// docs).
pub fn implies(given: &[&Expr], predicate: &Expr) -> bool {
    predicate
        .conjuncts()
        .iter()
        .all(|target| given.iter().any(|given| implies_one(given, target)))
}

fn implies_one(given: &Expr, target: &Expr) -> bool {
    if given == target {
        return true;
    }
    match target {
        Expr::IsNull {
            expr,
            negated: true,
        } => strict_on(given, expr),
        _ => match (against_constant(given), against_constant(target)) {
            (Some((operand, given_op, given_value)), Some((target_operand, op, value))) => {
                operand == target_operand && range_implies(given_op, &given_value, op, &value)
            }
            _ => false,
        },
    }
}

/// Whether `given` being true means `operand` is not NULL: a comparison,
/// IN-list or LIKE of the operand, or an `IS NOT NULL` test of it (all are
/// NULL, not true, for a NULL operand).
fn strict_on(given: &Expr, operand: &Expr) -> bool {
    match given {
        Expr::Binary {
            op, left, right, ..
        } if op.is_comparison() => **left == *operand || **right == *operand,
        Expr::InList {
            expr,
            negated: false,
            ..
        }
        | Expr::Like { expr, .. }
        | Expr::IsNull {
            expr,
            negated: true,
        } => **expr == *operand,
        _ => false,
    }
}

/// `operand <op> constant`, normalised with the operand on the left; the
/// constant is not NULL.
fn against_constant(expr: &Expr) -> Option<(&Expr, BinaryOp, Value)> {
    let Expr::Binary {
        op, left, right, ..
    } = expr
    else {
        return None;
    };
    if !op.is_comparison() {
        return None;
    }
    let (operand, op, value) = match (constant_value(left), constant_value(right)) {
        (None, Some(value)) => (left.as_ref(), *op, value),
        (Some(value), None) => (right.as_ref(), op.flip(), value),
        _ => return None,
    };
    (!value.is_null()).then_some((operand, op, value))
}

/// Whether `x <given_op> given` implies `x <op> target` for every `x`.
fn range_implies(given_op: BinaryOp, given: &Value, op: BinaryOp, target: &Value) -> bool {
    let Some(order) = compare(given, target) else {
        return false;
    };
    use BinaryOp::{Equal, Greater, GreaterOrEqual, Less, LessOrEqual, NotEqual};
    use Ordering::{Equal as Same, Greater as Above, Less as Below};
    match (op, given_op) {
        (Equal, Equal) => order == Same,
        (NotEqual, Equal) => order != Same,
        (NotEqual, Less) | (Less, Less) | (LessOrEqual, Less | LessOrEqual | Equal) => {
            order != Above
        }
        (NotEqual, LessOrEqual) | (Less, LessOrEqual | Equal) => order == Below,
        (NotEqual, Greater)
        | (Greater, Greater)
        | (GreaterOrEqual, Greater | GreaterOrEqual | Equal) => order != Below,
        (NotEqual, GreaterOrEqual) | (Greater, GreaterOrEqual | Equal) => order == Above,
        _ => false,
    }
}

/// The order of two constants of one kind (numbers, text or booleans);
/// `None` across kinds.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    let numeric = |value: &Value| value.as_f64().is_some();
    let same_kind = match (a, b) {
        (Value::Text(_), Value::Text(_)) | (Value::Boolean(_), Value::Boolean(_)) => true,
        _ => numeric(a) && numeric(b),
    };
    same_kind.then(|| a.total_cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::expr::ColumnId;
    use crate::sql::types::DataType;

    fn column(id: u32) -> Expr {
        Expr::Column(ColumnId(id))
    }

    fn compare(op: BinaryOp, left: Expr, right: Expr) -> Expr {
        Expr::Binary {
            op,
            left: Box::new(left),
            right: Box::new(right),
            data_type: DataType::Boolean,
        }
    }

    fn int(value: i32) -> Expr {
        Expr::Literal(Value::Integer(value))
    }

    #[test]
    fn narrower_ranges_and_strict_tests_imply_wider_ones() {
        use BinaryOp::*;
        let b = column(1);
        let index = compare(Greater, b.clone(), int(0));
        assert!(implies(&[&compare(Greater, b.clone(), int(5))], &index));
        assert!(implies(&[&compare(Greater, b.clone(), int(0))], &index));
        assert!(implies(
            &[&compare(GreaterOrEqual, b.clone(), int(1))],
            &index
        ));
        assert!(implies(&[&compare(Equal, b.clone(), int(7))], &index));
        // `0 < b` is `b > 0` read the other way.
        assert!(implies(&[&compare(Less, int(0), b.clone())], &index));
        assert!(!implies(
            &[&compare(GreaterOrEqual, b.clone(), int(0))],
            &index
        ));
        assert!(!implies(&[&compare(Greater, b.clone(), int(-1))], &index));
        assert!(!implies(&[&compare(Less, b.clone(), int(9))], &index));
        assert!(!implies(&[&compare(Greater, column(2), int(5))], &index));
        assert!(!implies(&[], &index));
        let upper = compare(LessOrEqual, b.clone(), int(10));
        assert!(implies(&[&compare(Less, b.clone(), int(10))], &upper));
        assert!(!implies(&[&compare(Less, b.clone(), int(11))], &upper));
        let not_three = compare(NotEqual, b.clone(), int(3));
        assert!(implies(&[&compare(Equal, b.clone(), int(4))], &not_three));
        assert!(implies(&[&compare(Greater, b.clone(), int(3))], &not_three));
        assert!(!implies(
            &[&compare(GreaterOrEqual, b.clone(), int(3))],
            &not_three
        ));
        // Across kinds nothing is proved.
        let text = Expr::Literal(Value::Text("x".into()));
        assert!(!implies(&[&compare(Greater, b.clone(), text)], &index));
    }

    #[test]
    fn every_conjunct_of_the_index_predicate_needs_a_proof() {
        use BinaryOp::*;
        let (a, b) = (column(0), column(1));
        let not_null = Expr::IsNull {
            expr: Box::new(a.clone()),
            negated: true,
        };
        let index = Expr::and(not_null.clone(), compare(Less, b.clone(), int(100)));
        let a_equal = compare(Equal, a.clone(), int(1));
        let b_small = compare(Less, b.clone(), int(50));
        assert!(implies(&[&a_equal, &b_small], &index));
        assert!(!implies(&[&a_equal], &index));
        assert!(!implies(&[&b_small], &index));
        // A NULL test implies only itself.
        let is_null = Expr::IsNull {
            expr: Box::new(a.clone()),
            negated: false,
        };
        assert!(implies(&[&is_null], &is_null));
        assert!(!implies(&[&is_null], &not_null));
        assert!(!implies(&[&b_small], &is_null));
    }
}
