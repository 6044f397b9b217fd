//! Rule: simplification, as PostgreSQL's `eval_const_expressions` does the
//! part of it that never evaluates anything:
//! - a strict operator or function (arithmetic, comparison, `||`, LIKE,
//!   casts, `abs`, `lower`, `upper`, `length`, IN's left side) with a NULL
//!   operand is NULL;
//! - `false AND x` is false, `true AND x` is `x`, `true OR x` is true,
//!   `false OR x` is `x`, `NOT` of a constant is folded, `NULL IS NULL` is
//!   true;
//! - a filter, or a join condition, with a conjunct that is NULL or false
//!   accepts no row: the filter is replaced by no rows at all, the join
//!   condition by `false`.
//!
//! Why the rows are the same: each folding is an identity of SQL's
//! three-valued logic, and a WHERE clause or join condition keeps a row
//! only when it is true, which `x AND NULL` and `x AND false` never are.
//! Nothing is evaluated, so nothing that would fail at run time fails
//! earlier; conversely operands that a folded NULL makes irrelevant are no
//! longer evaluated, so, as in PostgreSQL, `NULL > 2147483647 * c` is NULL
//! rather than an overflow.

use super::OptimizerContext;
use crate::error::Result;
use crate::sql::expr::{Expr, Function};
use crate::sql::plan::LogicalPlan;
use crate::sql::types::Value;

pub fn simplify(plan: LogicalPlan, _context: &mut OptimizerContext<'_>) -> Result<LogicalPlan> {
    plan.transform_up(&mut |node| {
        let node = node.map_exprs(|expr| Ok(fold(expr)))?;
        Ok(match node {
            LogicalPlan::Filter { input, predicate } if rejects_everything(&predicate) => {
                LogicalPlan::Values {
                    columns: input.output(),
                    rows: Vec::new(),
                }
            }
            LogicalPlan::Join {
                left,
                right,
                kind,
                condition: Some(condition),
                strategy,
            } if rejects_everything(&condition) => LogicalPlan::Join {
                left,
                right,
                kind,
                condition: Some(Expr::Literal(Value::Boolean(false))),
                strategy,
            },
            other => other,
        })
    })
}

/// Whether a predicate can never be true: some conjunct is NULL or false.
fn rejects_everything(predicate: &Expr) -> bool {
    predicate.conjuncts().into_iter().any(|conjunct| {
        matches!(
            conjunct,
            Expr::Literal(Value::Null) | Expr::Literal(Value::Boolean(false))
        )
    })
}

fn is_null(expr: &Expr) -> bool {
    matches!(expr, Expr::Literal(Value::Null))
}

fn boolean(expr: &Expr) -> Option<bool> {
    match expr {
        Expr::Literal(Value::Boolean(b)) => Some(*b),
        _ => None,
    }
}

/// Folds an expression bottom-up.
pub fn fold(expr: Expr) -> Expr {
    expr.transform(&mut |node| Ok(fold_node(node)))
        .expect("invariant: folding cannot fail")
}

fn fold_node(node: Expr) -> Expr {
    const NULL: Expr = Expr::Literal(Value::Null);
    match node {
        Expr::Binary { left, right, .. } if is_null(&left) || is_null(&right) => NULL,
        Expr::Negate(inner) if is_null(&inner) => NULL,
        Expr::Cast { expr, .. } if is_null(&expr) => NULL,
        Expr::Like { expr, pattern, .. } if is_null(&expr) || is_null(&pattern) => NULL,
        Expr::InList { expr, .. } if is_null(&expr) => NULL,
        Expr::Function {
            function:
                Function::Abs
                | Function::Lower
                | Function::Upper
                | Function::Length
                | Function::OctetLength,
            args,
        } if args.iter().any(is_null) => NULL,
        Expr::And(left, right) => match (boolean(&left), boolean(&right)) {
            (Some(false), _) | (_, Some(false)) => Expr::Literal(Value::Boolean(false)),
            (Some(true), _) => *right,
            (_, Some(true)) => *left,
            _ if is_null(&left) && is_null(&right) => NULL,
            _ => Expr::And(left, right),
        },
        Expr::Or(left, right) => match (boolean(&left), boolean(&right)) {
            (Some(true), _) | (_, Some(true)) => Expr::Literal(Value::Boolean(true)),
            (Some(false), _) => *right,
            (_, Some(false)) => *left,
            _ if is_null(&left) && is_null(&right) => NULL,
            _ => Expr::Or(left, right),
        },
        Expr::Not(inner) => match (boolean(&inner), is_null(&inner)) {
            (Some(b), _) => Expr::Literal(Value::Boolean(!b)),
            (_, true) => NULL,
            _ => Expr::Not(inner),
        },
        Expr::IsNull { expr, negated } if matches!(*expr, Expr::Literal(_)) => {
            Expr::Literal(Value::Boolean(is_null(&expr) != negated))
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::expr::{BinaryOp, ColumnId};
    use crate::sql::types::DataType;

    fn column() -> Expr {
        Expr::Column(ColumnId(0))
    }

    fn binary(op: BinaryOp, left: Expr, right: Expr) -> Expr {
        Expr::Binary {
            op,
            left: Box::new(left),
            right: Box::new(right),
            data_type: DataType::Integer,
        }
    }

    #[test]
    fn a_null_operand_makes_a_strict_operator_null_without_evaluating_the_other() {
        let overflowing = binary(
            BinaryOp::Multiply,
            column(),
            Expr::Literal(Value::Integer(i32::MAX)),
        );
        let compared = binary(BinaryOp::Greater, Expr::Literal(Value::Null), overflowing);
        assert_eq!(fold(compared.clone()), Expr::Literal(Value::Null));
        assert_eq!(
            fold(Expr::Not(Box::new(compared))),
            Expr::Literal(Value::Null)
        );
    }

    #[test]
    fn boolean_connectives_fold_with_constants() {
        let test = binary(BinaryOp::Equal, column(), Expr::Literal(Value::Integer(1)));
        let and = |l: Expr, r: Expr| Expr::And(Box::new(l), Box::new(r));
        let or = |l: Expr, r: Expr| Expr::Or(Box::new(l), Box::new(r));
        let t = || Expr::Literal(Value::Boolean(true));
        let f = || Expr::Literal(Value::Boolean(false));
        assert_eq!(fold(and(test.clone(), f())), f());
        assert_eq!(fold(and(t(), test.clone())), test);
        assert_eq!(fold(or(test.clone(), t())), t());
        assert_eq!(fold(or(f(), test.clone())), test);
        // NULL AND x stays: it is false when x is false.
        let kept = and(Expr::Literal(Value::Null), test.clone());
        assert_eq!(fold(kept.clone()), kept);
        assert!(rejects_everything(&kept));
        assert!(!rejects_everything(&or(Expr::Literal(Value::Null), test)));
    }
}
