//! Compiling logical expressions for one operator: each column id becomes
//! the offset of that column in the operator's input row (`Slot`), or, for
//! an id of the enclosing query, its position in the parameter frame the
//! plan runs under (`Outer`).
//!
//! A subquery inside the expression keeps its logical plan (it is compiled
//! when it runs, against its own parameter frame); only its parameters, the
//! enclosing values it reads, are compiled here, since they are evaluated
//! on this operator's row.

use crate::error::{Error, Result};
use crate::sql::expr::{ColumnId, Expr};

/// Where the columns an operator can read come from.
#[derive(Clone, Copy, Debug)]
pub struct Layout<'a> {
    /// The input row's columns, in order.
    pub input: &'a [ColumnId],
    /// The innermost parameter frame's columns, in order.
    pub outer: &'a [ColumnId],
}

impl<'a> Layout<'a> {
    pub fn new(input: &'a [ColumnId], outer: &'a [ColumnId]) -> Layout<'a> {
        Layout { input, outer }
    }

    /// Compiles one expression.
    pub fn compile(&self, expr: &Expr) -> Result<Expr> {
        expr.clone().transform(&mut |node| match node {
            Expr::Column(id) => self.resolve(id),
            other => Ok(other),
        })
    }

    /// Compiles an optional expression.
    pub fn compile_option(&self, expr: &Option<Expr>) -> Result<Option<Expr>> {
        expr.as_ref().map(|e| self.compile(e)).transpose()
    }

    /// Compiles a list of expressions.
    pub fn compile_all<'e>(&self, exprs: impl IntoIterator<Item = &'e Expr>) -> Result<Vec<Expr>> {
        exprs.into_iter().map(|e| self.compile(e)).collect()
    }

    fn resolve(&self, id: ColumnId) -> Result<Expr> {
        if let Some(slot) = self.input.iter().position(|c| *c == id) {
            return Ok(Expr::Slot(slot));
        }
        if let Some(index) = self.outer.iter().position(|c| *c == id) {
            return Ok(Expr::Outer(index));
        }
        Err(Error::Internal(format!(
            "column {id} is neither in the input nor in the parameter frame"
        )))
    }
}
