//! Window function calls: what the `Window` operator computes per row.
//!
//! A call names its function, the rows it sees (the partition: rows with
//! equal `PARTITION BY` values, in `ORDER BY` order) and its frame within
//! the partition, as in PostgreSQL:
//!
//! ```text
//!   partition (ordered):  r1 r2 [r3 r4 r5] r6 r7      current row r4
//!   ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING   →  r3 r4 r5
//!   RANGE: by ORDER BY value (peers, rows with equal values, go together)
//!   GROUPS: by peer group
//!   EXCLUDE CURRENT ROW / GROUP / TIES drops the row, its peers, or its
//!   peers but not itself
//! ```
//!
//! Ranking functions (`row_number`, `rank`, …) and `lag`/`lead`/`ntile`
//! read the partition; `first_value`, `last_value`, `nth_value` and every
//! aggregate read the frame.

use crate::error::Result;
use crate::sql::expr::Expr;
use crate::sql::plan::{Aggregate, SortKey};
use crate::sql::types::DataType;

/// A window function.
#[derive(Clone, Debug, PartialEq)]
pub enum WindowFunction {
    RowNumber,
    Rank,
    DenseRank,
    PercentRank,
    CumeDist,
    /// `ntile(buckets)`.
    Ntile,
    /// `lag(value [, offset [, default]])`.
    Lag,
    /// `lead(value [, offset [, default]])`.
    Lead,
    FirstValue,
    LastValue,
    /// `nth_value(value, n)`.
    NthValue,
    /// An aggregate over the frame.
    Aggregate(Aggregate),
}

impl WindowFunction {
    pub fn name(&self) -> &'static str {
        match self {
            WindowFunction::RowNumber => "row_number",
            WindowFunction::Rank => "rank",
            WindowFunction::DenseRank => "dense_rank",
            WindowFunction::PercentRank => "percent_rank",
            WindowFunction::CumeDist => "cume_dist",
            WindowFunction::Ntile => "ntile",
            WindowFunction::Lag => "lag",
            WindowFunction::Lead => "lead",
            WindowFunction::FirstValue => "first_value",
            WindowFunction::LastValue => "last_value",
            WindowFunction::NthValue => "nth_value",
            WindowFunction::Aggregate(aggregate) => aggregate.function.name(),
        }
    }
}

/// How frame offsets count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameMode {
    Rows,
    Range,
    Groups,
}

/// One end of a frame.
#[derive(Clone, Debug, PartialEq)]
pub enum FrameBound {
    UnboundedPreceding,
    /// An offset, row-independent.
    Preceding(Expr),
    CurrentRow,
    Following(Expr),
    UnboundedFollowing,
}

/// Which rows near the current one a frame leaves out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameExclusion {
    NoOthers,
    CurrentRow,
    Group,
    Ties,
}

/// A frame: `mode BETWEEN start AND end EXCLUDE exclusion`.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowFrame {
    pub mode: FrameMode,
    pub start: FrameBound,
    pub end: FrameBound,
    pub exclusion: FrameExclusion,
}

impl WindowFrame {
    /// SQL's default: `RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW`
    /// (the whole partition when there is no ORDER BY, since then every row
    /// is a peer of every other).
    pub fn default_frame() -> WindowFrame {
        WindowFrame {
            mode: FrameMode::Range,
            start: FrameBound::UnboundedPreceding,
            end: FrameBound::CurrentRow,
            exclusion: FrameExclusion::NoOthers,
        }
    }
}

/// One window function call.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowCall {
    pub function: WindowFunction,
    /// The arguments of the non-aggregate functions (an aggregate holds
    /// its own).
    pub args: Vec<Expr>,
    pub partition_by: Vec<Expr>,
    pub order_by: Vec<SortKey>,
    pub frame: WindowFrame,
    pub data_type: DataType,
}

impl WindowCall {
    /// Every expression of the call.
    pub fn exprs(&self) -> Vec<&Expr> {
        let mut exprs: Vec<&Expr> = self.args.iter().collect();
        if let WindowFunction::Aggregate(aggregate) = &self.function {
            exprs.extend(aggregate.exprs());
        }
        exprs.extend(self.partition_by.iter());
        exprs.extend(self.order_by.iter().map(|key| &key.expr));
        for bound in [&self.frame.start, &self.frame.end] {
            if let FrameBound::Preceding(e) | FrameBound::Following(e) = bound {
                exprs.push(e);
            }
        }
        exprs
    }

    /// The call with each expression replaced by `f(expr)`.
    pub fn map_exprs(self, mut f: impl FnMut(Expr) -> Result<Expr>) -> Result<WindowCall> {
        let mut bound = |bound: FrameBound| -> Result<FrameBound> {
            Ok(match bound {
                FrameBound::Preceding(e) => FrameBound::Preceding(f(e)?),
                FrameBound::Following(e) => FrameBound::Following(f(e)?),
                other => other,
            })
        };
        let frame = WindowFrame {
            start: bound(self.frame.start)?,
            end: bound(self.frame.end)?,
            ..self.frame
        };
        let function = match self.function {
            WindowFunction::Aggregate(aggregate) => {
                WindowFunction::Aggregate(aggregate.map_exprs(&mut f)?)
            }
            other => other,
        };
        Ok(WindowCall {
            function,
            args: self.args.into_iter().map(&mut f).collect::<Result<_>>()?,
            partition_by: self
                .partition_by
                .into_iter()
                .map(&mut f)
                .collect::<Result<_>>()?,
            order_by: self
                .order_by
                .into_iter()
                .map(|key| {
                    Ok(SortKey {
                        expr: f(key.expr)?,
                        ..key
                    })
                })
                .collect::<Result<_>>()?,
            frame,
            data_type: self.data_type,
        })
    }
}
