//! Bound expressions: the closed [`Expr`] enum, its evaluation
//! (`evaluate.rs`) and conversions between types (`cast.rs`).
//!
//! An expression refers to columns in one of two ways, depending on the
//! stage it belongs to:
//!
//! ```text
//!   binder ──► Expr::Column(ColumnId)      logical plans: a statement-wide id
//!                  │ execution::compile (once per operator)
//!                  ▼
//!              Expr::Slot(offset)          the operator's input row
//!              Expr::Outer(k)              value k of the innermost parameter
//!                                          frame: a correlated reference
//! ```
//!
//! Ids make rewrites safe: an optimizer rule may move an expression to any
//! operator whose input produces the ids it reads, without renumbering
//! anything. Offsets make evaluation cheap. Invariants:
//! 1. A logical plan holds no `Slot` or `Outer`; a compiled operator holds no
//!    `Column` (evaluating one is an internal error, not a wrong answer).
//! 2. Every node has the type the binder gave it; implicit conversions are
//!    explicit `Cast` nodes.
//!
//! Evaluation follows PostgreSQL: three-valued logic (`NULL AND false` is
//! false, `NULL OR true` is true), integer arithmetic that errors on
//! overflow (22003) and on division by zero (22012), integer division
//! truncating toward zero, and `%` taking the sign of the dividend.

pub(crate) mod cast;
mod evaluate;
mod math;
mod md5;
mod string;
mod time;

pub use math::FloatFunction;
pub use string::TrimSide;

use std::fmt;
use std::sync::Arc;

pub use cast::{cast, cast_explicit, cast_in};
pub use evaluate::{binary, like, sql_compare, truth};

use super::plan::LogicalPlan;
use super::types::{DataType, Value};

/// A column of a statement: every relation, projection and aggregate output
/// gets fresh ids from the binder's column catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ColumnId(pub u32);

impl fmt::Display for ColumnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Binary operators after binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Subtract,
    Multiply,
    Divide,
    Modulo,
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    Concat,
}

impl BinaryOp {
    pub fn symbol(&self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Subtract => "-",
            BinaryOp::Multiply => "*",
            BinaryOp::Divide => "/",
            BinaryOp::Modulo => "%",
            BinaryOp::Equal => "=",
            BinaryOp::NotEqual => "<>",
            BinaryOp::Less => "<",
            BinaryOp::LessOrEqual => "<=",
            BinaryOp::Greater => ">",
            BinaryOp::GreaterOrEqual => ">=",
            BinaryOp::Concat => "||",
        }
    }

    pub fn is_comparison(&self) -> bool {
        matches!(
            self,
            BinaryOp::Equal
                | BinaryOp::NotEqual
                | BinaryOp::Less
                | BinaryOp::LessOrEqual
                | BinaryOp::Greater
                | BinaryOp::GreaterOrEqual
        )
    }

    /// The comparison with its operands swapped (`a < b` ⇔ `b > a`).
    pub fn flip(&self) -> BinaryOp {
        match self {
            BinaryOp::Less => BinaryOp::Greater,
            BinaryOp::LessOrEqual => BinaryOp::GreaterOrEqual,
            BinaryOp::Greater => BinaryOp::Less,
            BinaryOp::GreaterOrEqual => BinaryOp::LessOrEqual,
            other => *other,
        }
    }

    /// The comparison that is true exactly when this one is false, for
    /// non-NULL operands (`a < b` ⇔ `NOT a >= b`).
    pub fn negate(&self) -> BinaryOp {
        match self {
            BinaryOp::Equal => BinaryOp::NotEqual,
            BinaryOp::NotEqual => BinaryOp::Equal,
            BinaryOp::Less => BinaryOp::GreaterOrEqual,
            BinaryOp::LessOrEqual => BinaryOp::Greater,
            BinaryOp::Greater => BinaryOp::LessOrEqual,
            BinaryOp::GreaterOrEqual => BinaryOp::Less,
            other => *other,
        }
    }
}

/// Scalar functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    Abs,
    Coalesce,
    NullIf,
    Lower,
    Upper,
    Length,
    /// `octet_length(text)`: bytes in UTF-8.
    OctetLength,
    /// `round(x)`, `round(numeric, scale)`.
    Round,
    /// `trunc(x)`, `trunc(numeric, scale)`.
    Trunc,
    Ceil,
    Floor,
    Sign,
    /// `div(numeric, numeric)`: the truncated quotient.
    Div,
    /// A double precision function (`sqrt`, `power`, `sin`, …).
    Float(FloatFunction),
    Greatest,
    Least,
    /// `width_bucket(operand, low, high, count)`.
    WidthBucket,
    /// A date/time function (`time.rs`), evaluated with the session's
    /// zone and the transaction's start.
    Time(TimeFunction),
    /// `char(n)` to `text`: the padding spaces dropped (`text(bpchar)`).
    CharToText,
    /// A sequence function (`sql/sequence`): volatile, evaluated with the
    /// session's sequence state.
    Sequence(SequenceFunction),
    /// A string function (`string.rs`).
    String(StringFunction),
}

/// The string functions (`string.rs`), each over text arguments (and
/// integers where a position, length or count is meant).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StringFunction {
    /// `substr(text, from [, count])`, `substring(text FROM … FOR …)`.
    Substr,
    /// `strpos(text, sub)`, `position(sub IN text)`.
    StrPos,
    Replace,
    SplitPart,
    /// `trim`, `btrim`, `ltrim`, `rtrim` (text, optional characters).
    Trim(TrimSide),
    Lpad,
    Rpad,
    /// `concat(…)`: every argument as text, NULLs skipped.
    Concat,
    /// `concat_ws(separator, …)`.
    ConcatWs,
    Left,
    Right,
    Repeat,
    Reverse,
    Initcap,
    Md5,
    Chr,
    Ascii,
    /// `to_hex(integer)`: a negative number in 32 bits.
    ToHex,
    /// `to_hex(bigint)`: a negative number in 64 bits.
    ToHex64,
    StartsWith,
}

impl StringFunction {
    pub fn name(&self) -> &'static str {
        match self {
            StringFunction::Substr => "substr",
            StringFunction::StrPos => "strpos",
            StringFunction::Replace => "replace",
            StringFunction::SplitPart => "split_part",
            StringFunction::Trim(TrimSide::Both) => "btrim",
            StringFunction::Trim(TrimSide::Leading) => "ltrim",
            StringFunction::Trim(TrimSide::Trailing) => "rtrim",
            StringFunction::Lpad => "lpad",
            StringFunction::Rpad => "rpad",
            StringFunction::Concat => "concat",
            StringFunction::ConcatWs => "concat_ws",
            StringFunction::Left => "left",
            StringFunction::Right => "right",
            StringFunction::Repeat => "repeat",
            StringFunction::Reverse => "reverse",
            StringFunction::Initcap => "initcap",
            StringFunction::Md5 => "md5",
            StringFunction::Chr => "chr",
            StringFunction::Ascii => "ascii",
            StringFunction::ToHex | StringFunction::ToHex64 => "to_hex",
            StringFunction::StartsWith => "starts_with",
        }
    }
}

/// The sequence functions: the first argument names the sequence as text
/// (`setval` adds the value and, optionally, `is_called`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SequenceFunction {
    NextVal,
    CurrVal,
    SetVal,
    /// No argument: the session's last `nextval`.
    LastVal,
}

impl SequenceFunction {
    pub fn name(&self) -> &'static str {
        match self {
            SequenceFunction::NextVal => "nextval",
            SequenceFunction::CurrVal => "currval",
            SequenceFunction::SetVal => "setval",
            SequenceFunction::LastVal => "lastval",
        }
    }

    pub fn named(name: &str) -> Option<SequenceFunction> {
        Some(match name {
            "nextval" => SequenceFunction::NextVal,
            "currval" => SequenceFunction::CurrVal,
            "setval" => SequenceFunction::SetVal,
            "lastval" => SequenceFunction::LastVal,
            _ => return None,
        })
    }
}

/// The date/time functions, and the operators that need the zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeFunction {
    /// `now()`, `current_timestamp`, `transaction_timestamp()`.
    TransactionTimestamp,
    StatementTimestamp,
    ClockTimestamp,
    CurrentDate,
    LocalTimestamp,
    LocalTime,
    /// `extract(field FROM x)`: numeric.
    Extract,
    /// `date_part(field, x)`: double precision.
    DatePart,
    DateTrunc,
    Age,
    MakeDate,
    MakeTime,
    MakeTimestamp,
    MakeTimestamptz,
    MakeInterval,
    JustifyDays,
    JustifyHours,
    JustifyInterval,
    IsFinite,
    /// `x AT TIME ZONE zone`, `timezone(zone, x)`.
    AtTimeZone,
    TimestamptzPlusInterval,
    TimestamptzMinusInterval,
}

impl TimeFunction {
    pub fn name(&self) -> &'static str {
        match self {
            TimeFunction::TransactionTimestamp => "now",
            TimeFunction::StatementTimestamp => "statement_timestamp",
            TimeFunction::ClockTimestamp => "clock_timestamp",
            TimeFunction::CurrentDate => "current_date",
            TimeFunction::LocalTimestamp => "localtimestamp",
            TimeFunction::LocalTime => "localtime",
            TimeFunction::Extract => "extract",
            TimeFunction::DatePart => "date_part",
            TimeFunction::DateTrunc => "date_trunc",
            TimeFunction::Age => "age",
            TimeFunction::MakeDate => "make_date",
            TimeFunction::MakeTime => "make_time",
            TimeFunction::MakeTimestamp => "make_timestamp",
            TimeFunction::MakeTimestamptz => "make_timestamptz",
            TimeFunction::MakeInterval => "make_interval",
            TimeFunction::JustifyDays => "justify_days",
            TimeFunction::JustifyHours => "justify_hours",
            TimeFunction::JustifyInterval => "justify_interval",
            TimeFunction::IsFinite => "isfinite",
            TimeFunction::AtTimeZone => "timezone",
            TimeFunction::TimestamptzPlusInterval => "timestamptz_pl_interval",
            TimeFunction::TimestamptzMinusInterval => "timestamptz_mi_interval",
        }
    }
}

impl Function {
    pub fn name(&self) -> &'static str {
        match self {
            Function::Abs => "abs",
            Function::Coalesce => "coalesce",
            Function::NullIf => "nullif",
            Function::Lower => "lower",
            Function::Upper => "upper",
            Function::Length => "length",
            Function::OctetLength => "octet_length",
            Function::Round => "round",
            Function::Trunc => "trunc",
            Function::Ceil => "ceil",
            Function::Floor => "floor",
            Function::Sign => "sign",
            Function::Div => "div",
            Function::Float(function) => function.name(),
            Function::Greatest => "greatest",
            Function::Least => "least",
            Function::WidthBucket => "width_bucket",
            Function::Time(function) => function.name(),
            Function::CharToText => "text",
            Function::Sequence(function) => function.name(),
            Function::String(function) => function.name(),
        }
    }
}

/// What a subquery expression computes from its rows.
#[derive(Clone, Debug, PartialEq)]
pub enum SubqueryKind {
    /// `(SELECT x …)`: the one value (NULL for no row; 21000 for several).
    Scalar,
    /// `EXISTS (…)`.
    Exists,
    /// `x op ANY (…)`, `x IN (…)` (`op` is `=`): true if the comparison is
    /// true for some row, NULL if none is true but one is NULL.
    Any { op: BinaryOp },
    /// `x op ALL (…)`, `x NOT IN (…)` is `NOT (x = ANY …)`.
    All { op: BinaryOp },
}

/// A subquery inside an expression. Its plan reads the enclosing query's
/// columns through `parameters`: their values, taken from the row the
/// expression is evaluated on, form the parameter frame the plan reads as
/// `Outer(k)` (invariant: `parameters` lists exactly the plan's free ids).
#[derive(Clone, Debug, PartialEq)]
pub struct Subquery {
    /// Statement-wide number, for caching results and for EXPLAIN.
    pub id: usize,
    pub kind: SubqueryKind,
    /// The left operand of ANY/ALL.
    pub operand: Option<Expr>,
    pub plan: Arc<LogicalPlan>,
    /// The parameter frame the plan runs under: each entry is a column id
    /// the plan reads as `Outer`, and the expression computing its value
    /// in the enclosing row (`Column(id)` itself until compiled).
    pub parameters: Vec<(ColumnId, Expr)>,
    /// The plan's output column (scalar, ANY and ALL read its first).
    pub data_type: DataType,
}

/// A bound, typed expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Literal(Value),
    /// A column by statement-wide id (logical plans).
    Column(ColumnId),
    /// The value at this offset of the operator's input row (compiled).
    Slot(usize),
    /// Value `k` of the innermost parameter frame (compiled correlated
    /// reference).
    Outer(usize),
    /// `$n` (zero-based here).
    Parameter(usize),
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
        data_type: DataType,
    },
    Negate(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    /// `IS [NOT] TRUE/FALSE`: `expected` is the boolean tested for.
    IsBoolean {
        expr: Box<Expr>,
        expected: bool,
        negated: bool,
    },
    IsDistinctFrom {
        left: Box<Expr>,
        right: Box<Expr>,
        negated: bool,
    },
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    Like {
        expr: Box<Expr>,
        pattern: Box<Expr>,
        negated: bool,
        case_insensitive: bool,
    },
    Case {
        operand: Option<Box<Expr>>,
        branches: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    /// A conversion; `explicit` (CAST, `::`) truncates `varchar(n)` where
    /// an implicit or assignment conversion raises 22001.
    Cast {
        expr: Box<Expr>,
        to: DataType,
        explicit: bool,
    },
    Function {
        function: Function,
        args: Vec<Expr>,
    },
    Subquery(Box<Subquery>),
}

impl Expr {
    /// A column reference.
    pub fn column(id: ColumnId) -> Expr {
        Expr::Column(id)
    }

    /// `left AND right`.
    pub fn and(left: Expr, right: Expr) -> Expr {
        Expr::And(Box::new(left), Box::new(right))
    }

    /// The conjunction of `predicates`; `None` for none.
    pub fn conjunction(predicates: impl IntoIterator<Item = Expr>) -> Option<Expr> {
        predicates.into_iter().reduce(Expr::and)
    }

    /// Splits a predicate into its AND-ed conjuncts.
    pub fn into_conjuncts(self) -> Vec<Expr> {
        match self {
            Expr::And(left, right) => {
                let mut out = left.into_conjuncts();
                out.extend(right.into_conjuncts());
                out
            }
            other => vec![other],
        }
    }

    /// The AND-ed conjuncts of a predicate, borrowed.
    pub fn conjuncts(&self) -> Vec<&Expr> {
        match self {
            Expr::And(left, right) => {
                let mut out = left.conjuncts();
                out.extend(right.conjuncts());
                out
            }
            other => vec![other],
        }
    }

    /// Whether evaluating the expression reads no row, no parameter and no
    /// subquery.
    pub fn is_constant(&self) -> bool {
        let mut constant = true;
        self.walk(&mut |expr| {
            if matches!(
                expr,
                Expr::Column(_)
                    | Expr::Slot(_)
                    | Expr::Outer(_)
                    | Expr::Parameter(_)
                    | Expr::Subquery(_)
            ) {
                constant = false;
            }
        });
        constant
    }

    /// Whether evaluating the expression twice may give two values, or
    /// change something (`nextval`, `clock_timestamp()`): PostgreSQL's
    /// volatile functions, evaluated once per row and never hoisted.
    pub fn is_volatile(&self) -> bool {
        let mut volatile = false;
        self.walk(&mut |expr| {
            if let Expr::Function { function, .. } = expr
                && matches!(
                    function,
                    Function::Sequence(_) | Function::Time(TimeFunction::ClockTimestamp)
                )
            {
                volatile = true;
            }
        });
        volatile
    }

    /// Whether the expression reads none of the current row's columns
    /// (parameters, outer references and uncorrelated subqueries are
    /// allowed) and is not volatile: it has one value per execution of its
    /// operator.
    pub fn is_row_independent(&self, row: &[ColumnId]) -> bool {
        if self.is_volatile() {
            return false;
        }
        let mut independent = true;
        self.walk_columns(&mut |id| {
            if row.contains(&id) {
                independent = false;
            }
        });
        independent
    }

    /// Calls `visit` on every column id the expression reads, including the
    /// parameters of its subqueries (the ids a subquery's plan reads from
    /// the enclosing query).
    pub fn walk_columns(&self, visit: &mut impl FnMut(ColumnId)) {
        self.walk(&mut |expr| match expr {
            Expr::Column(id) => visit(*id),
            Expr::Subquery(subquery) => {
                for (_, parameter) in &subquery.parameters {
                    parameter.walk_columns(visit);
                }
            }
            _ => {}
        });
    }

    /// The column ids the expression reads.
    pub fn columns(&self) -> Vec<ColumnId> {
        let mut out = Vec::new();
        self.walk_columns(&mut |id| {
            if !out.contains(&id) {
                out.push(id);
            }
        });
        out
    }

    /// Whether the expression reads only columns in `available`.
    pub fn reads_only(&self, available: &[ColumnId]) -> bool {
        let mut only = true;
        self.walk_columns(&mut |id| {
            if !available.contains(&id) {
                only = false;
            }
        });
        only
    }

    /// Per expression of `exprs`: the row offset it moves out of the input
    /// row, if it is a bare column (`Slot`) that no expression of `exprs`
    /// reads besides it. Taking such a column's value changes no other
    /// expression's value, so an operator that owns its input row may
    /// move it instead of copying it.
    pub fn sole_columns(exprs: &[Expr]) -> Vec<Option<usize>> {
        let mut readers: Vec<usize> = Vec::new();
        for expr in exprs {
            expr.walk(&mut |inner| {
                if let Expr::Slot(slot) = inner {
                    if readers.len() <= *slot {
                        readers.resize(slot + 1, 0);
                    }
                    readers[*slot] += 1;
                }
            });
        }
        exprs
            .iter()
            .map(|expr| match expr {
                Expr::Slot(slot) if readers[*slot] == 1 => Some(*slot),
                _ => None,
            })
            .collect()
    }

    /// Visits every node, parents before children. Subquery operands are
    /// visited; their plans and parameters are not (parameters are the
    /// enclosing query's columns; see `walk_columns`).
    pub fn walk(&self, visit: &mut impl FnMut(&Expr)) {
        visit(self);
        self.for_each_child(|child| child.walk(visit));
    }

    /// Calls `f` on each direct child (subquery operands included, plans
    /// not).
    pub fn for_each_child<'a>(&'a self, mut f: impl FnMut(&'a Expr)) {
        match self {
            Expr::Literal(_)
            | Expr::Column(_)
            | Expr::Slot(_)
            | Expr::Outer(_)
            | Expr::Parameter(_) => {}
            Expr::Binary { left, right, .. }
            | Expr::And(left, right)
            | Expr::Or(left, right)
            | Expr::IsDistinctFrom { left, right, .. } => {
                f(left);
                f(right);
            }
            Expr::Negate(expr)
            | Expr::Not(expr)
            | Expr::IsNull { expr, .. }
            | Expr::IsBoolean { expr, .. }
            | Expr::Cast { expr, .. } => f(expr),
            Expr::InList { expr, list, .. } => {
                f(expr);
                list.iter().for_each(f);
            }
            Expr::Like { expr, pattern, .. } => {
                f(expr);
                f(pattern);
            }
            Expr::Case {
                operand,
                branches,
                otherwise,
            } => {
                if let Some(operand) = operand {
                    f(operand);
                }
                for (when, then) in branches {
                    f(when);
                    f(then);
                }
                if let Some(otherwise) = otherwise {
                    f(otherwise);
                }
            }
            Expr::Function { args, .. } => args.iter().for_each(f),
            Expr::Subquery(subquery) => {
                if let Some(operand) = &subquery.operand {
                    f(operand);
                }
            }
        }
    }

    /// Rebuilds the expression bottom-up, replacing each node by what
    /// `transform` returns for it (children first). Subquery operands and
    /// parameters are transformed; subquery plans are not.
    pub fn transform(
        self,
        transform: &mut impl FnMut(Expr) -> crate::Result<Expr>,
    ) -> crate::Result<Expr> {
        crate::sql::stack::check()?;
        fn boxed(
            expr: Expr,
            transform: &mut impl FnMut(Expr) -> crate::Result<Expr>,
        ) -> crate::Result<Box<Expr>> {
            Ok(Box::new(expr.transform(transform)?))
        }
        fn all(
            exprs: Vec<Expr>,
            transform: &mut impl FnMut(Expr) -> crate::Result<Expr>,
        ) -> crate::Result<Vec<Expr>> {
            exprs.into_iter().map(|e| e.transform(transform)).collect()
        }
        let rebuilt = match self {
            leaf @ (Expr::Literal(_)
            | Expr::Column(_)
            | Expr::Slot(_)
            | Expr::Outer(_)
            | Expr::Parameter(_)) => leaf,
            Expr::Binary {
                op,
                left,
                right,
                data_type,
            } => Expr::Binary {
                op,
                left: boxed(*left, transform)?,
                right: boxed(*right, transform)?,
                data_type,
            },
            Expr::Negate(expr) => Expr::Negate(boxed(*expr, transform)?),
            Expr::And(left, right) => {
                Expr::And(boxed(*left, transform)?, boxed(*right, transform)?)
            }
            Expr::Or(left, right) => Expr::Or(boxed(*left, transform)?, boxed(*right, transform)?),
            Expr::Not(expr) => Expr::Not(boxed(*expr, transform)?),
            Expr::IsNull { expr, negated } => Expr::IsNull {
                expr: boxed(*expr, transform)?,
                negated,
            },
            Expr::IsBoolean {
                expr,
                expected,
                negated,
            } => Expr::IsBoolean {
                expr: boxed(*expr, transform)?,
                expected,
                negated,
            },
            Expr::IsDistinctFrom {
                left,
                right,
                negated,
            } => Expr::IsDistinctFrom {
                left: boxed(*left, transform)?,
                right: boxed(*right, transform)?,
                negated,
            },
            Expr::InList {
                expr,
                list,
                negated,
            } => Expr::InList {
                expr: boxed(*expr, transform)?,
                list: all(list, transform)?,
                negated,
            },
            Expr::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
            } => Expr::Like {
                expr: boxed(*expr, transform)?,
                pattern: boxed(*pattern, transform)?,
                negated,
                case_insensitive,
            },
            Expr::Case {
                operand,
                branches,
                otherwise,
            } => {
                let operand = match operand {
                    Some(operand) => Some(boxed(*operand, transform)?),
                    None => None,
                };
                let mut rebuilt = Vec::with_capacity(branches.len());
                for (when, then) in branches {
                    rebuilt.push((when.transform(transform)?, then.transform(transform)?));
                }
                let otherwise = match otherwise {
                    Some(otherwise) => Some(boxed(*otherwise, transform)?),
                    None => None,
                };
                Expr::Case {
                    operand,
                    branches: rebuilt,
                    otherwise,
                }
            }
            Expr::Cast { expr, to, explicit } => Expr::Cast {
                expr: boxed(*expr, transform)?,
                to,
                explicit,
            },
            Expr::Function { function, args } => Expr::Function {
                function,
                args: all(args, transform)?,
            },
            Expr::Subquery(mut subquery) => {
                subquery.operand = match subquery.operand.take() {
                    Some(operand) => Some(operand.transform(transform)?),
                    None => None,
                };
                let mut parameters = Vec::with_capacity(subquery.parameters.len());
                for (id, parameter) in std::mem::take(&mut subquery.parameters) {
                    parameters.push((id, parameter.transform(transform)?));
                }
                subquery.parameters = parameters;
                Expr::Subquery(subquery)
            }
        };
        transform(rebuilt)
    }

    /// Replaces column references through `map` (ids not in it stay).
    pub fn replace_columns(self, map: &impl Fn(ColumnId) -> Option<Expr>) -> Expr {
        self.transform(&mut |expr| {
            Ok(match expr {
                Expr::Column(id) => map(id).unwrap_or(Expr::Column(id)),
                other => other,
            })
        })
        .expect("invariant: replacing columns cannot fail")
    }
}
