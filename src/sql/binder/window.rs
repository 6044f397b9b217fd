//! Window function calls: `f(args) OVER (PARTITION BY … ORDER BY … frame)`,
//! `OVER w` and `OVER (w …)` for a window of the `WINDOW` clause.
//!
//! Window calls are allowed only in the select list and ORDER BY (42P20
//! elsewhere, and when nested). Each distinct call becomes one output
//! column of the `Window` operator, which runs after grouping and HAVING;
//! its arguments, partition and order keys bind like the select list, so in
//! a grouped query they may read group columns and aggregates
//! (`rank() OVER (ORDER BY sum(x))`).
//!
//! `EXCLUDE` in a frame is not in the SQL parser's grammar: the parser glue
//! (`parser/exclude.rs`) moves it into the window's PARTITION BY as a
//! marker identifier, which this module takes back out.

use sqlparser::ast::{self, WindowFrameBound, WindowFrameUnits};

use super::aggregate::aggregate_function;
use super::expr::{Grouping, Typed};
use super::function::function_name;
use super::{Binder, Scope, ident_name};
use crate::error::{Error, Result, SqlState};
use crate::sql::explain;
use crate::sql::expr::{ColumnId, Expr};
use crate::sql::parser::{Exclusion, exclusion_marker};
use crate::sql::plan::{
    FrameBound, FrameExclusion, FrameMode, SortKey, WindowCall, WindowFrame, WindowFunction,
};
use crate::sql::types::DataType;

/// The clause name while an aggregate's arguments bind, where a window
/// call is 42803 rather than 42P20.
pub(crate) const AGGREGATE_ARGUMENTS: &str = "aggregate arguments";

/// The window calls of one SELECT, and its WINDOW clause.
pub(crate) struct WindowContext {
    pub calls: Vec<(ColumnId, WindowCall)>,
    named: Vec<(String, ast::WindowSpec)>,
}

impl WindowContext {
    pub fn new(definitions: &[ast::NamedWindowDefinition]) -> Result<WindowContext> {
        let mut named: Vec<(String, ast::WindowSpec)> = Vec::new();
        for ast::NamedWindowDefinition(name, expr) in definitions {
            let name = ident_name(name);
            if named.iter().any(|(n, _)| *n == name) {
                return Err(windowing(format!("window \"{name}\" is already defined")));
            }
            let spec = match expr {
                ast::NamedWindowExpr::WindowSpec(spec) => spec.clone(),
                ast::NamedWindowExpr::NamedWindow(other) => ast::WindowSpec {
                    window_name: Some(other.clone()),
                    partition_by: Vec::new(),
                    order_by: Vec::new(),
                    window_frame: None,
                },
            };
            named.push((name, spec));
        }
        Ok(WindowContext {
            calls: Vec::new(),
            named,
        })
    }

    /// The window named `name`, resolved.
    fn named(&self, name: &ast::Ident) -> Result<ast::WindowSpec> {
        let key = ident_name(name);
        match self.named.iter().find(|(n, _)| *n == key) {
            Some((_, spec)) => self.resolve(spec, 0),
            None => Err(Error::sql(
                SqlState::UNDEFINED_OBJECT,
                format!("window \"{key}\" does not exist"),
            )),
        }
    }

    /// A window by name, with the windows it copies resolved.
    fn resolve(&self, spec: &ast::WindowSpec, depth: usize) -> Result<ast::WindowSpec> {
        let Some(base_name) = &spec.window_name else {
            return Ok(spec.clone());
        };
        let name = ident_name(base_name);
        let Some((_, base)) = self.named.iter().find(|(n, _)| *n == name) else {
            return Err(Error::sql(
                SqlState::UNDEFINED_OBJECT,
                format!("window \"{name}\" does not exist"),
            ));
        };
        if depth > self.named.len() {
            return Err(windowing(format!("window \"{name}\" refers to itself")));
        }
        let base = self.resolve(base, depth + 1)?;
        if !spec.partition_by.is_empty() {
            return Err(windowing(format!(
                "cannot override PARTITION BY clause of window \"{name}\""
            )));
        }
        if !spec.order_by.is_empty() && !base.order_by.is_empty() {
            return Err(windowing(format!(
                "cannot override ORDER BY clause of window \"{name}\""
            )));
        }
        if base.window_frame.is_some() {
            return Err(windowing(format!(
                "cannot copy window \"{name}\" because it has a frame clause"
            )));
        }
        Ok(ast::WindowSpec {
            window_name: None,
            partition_by: base.partition_by,
            order_by: if spec.order_by.is_empty() {
                base.order_by
            } else {
                spec.order_by.clone()
            },
            window_frame: spec.window_frame.clone(),
        })
    }
}

fn windowing(message: impl Into<String>) -> Error {
    Error::sql(SqlState::WINDOWING_ERROR, message)
}

fn no_such_function(name: &str, args: &[Typed]) -> Error {
    let types: Vec<String> = args
        .iter()
        .map(|a| a.data_type.map_or("unknown".to_string(), |t| t.name()))
        .collect();
    Error::sql(
        SqlState::UNDEFINED_FUNCTION,
        format!("function {name}({}) does not exist", types.join(", ")),
    )
}

impl Binder<'_> {
    /// Binds a window function call: its output column.
    pub(crate) fn bind_window_call(
        &mut self,
        function: &ast::Function,
        scope: &Scope,
        grouping: Option<&mut Grouping>,
    ) -> Result<Typed> {
        let Some(context) = self.windows.take() else {
            return Err(match self.clause {
                "" => windowing("window function calls cannot be nested"),
                AGGREGATE_ARGUMENTS => Error::sql(
                    SqlState::GROUPING_ERROR,
                    "aggregate function calls cannot contain window function calls",
                ),
                clause => windowing(format!("window functions are not allowed in {clause}")),
            });
        };
        // Nested window calls see no context.
        let outer_clause = std::mem::take(&mut self.clause);
        let result = self.bind_window_inner(function, scope, grouping, &context);
        self.clause = outer_clause;
        let mut context = context;
        let result = result.map(|call| {
            let existing = context
                .calls
                .iter()
                .find(|(_, c)| *c == call)
                .map(|(id, _)| *id);
            let data_type = call.data_type;
            let id = existing.unwrap_or_else(|| {
                let name = explain::window_sql(&call, &self.columns);
                let id = self.columns.add(name, data_type);
                context.calls.push((id, call));
                id
            });
            Typed {
                expr: Expr::Column(id),
                data_type: Some(data_type),
            }
        });
        self.windows = Some(context);
        result
    }

    fn bind_window_inner(
        &mut self,
        function: &ast::Function,
        scope: &Scope,
        mut grouping: Option<&mut Grouping>,
        context: &WindowContext,
    ) -> Result<WindowCall> {
        let spec = match &function.over {
            Some(ast::WindowType::WindowSpec(spec)) => context.resolve(spec, 0)?,
            // `OVER w` is the window itself, frame included (only a copy,
            // `OVER (w …)`, may not copy a frame).
            Some(ast::WindowType::NamedWindow(name)) => context.named(name)?,
            None => return Err(Error::Internal("a window call without OVER".into())),
        };
        // The EXCLUDE marker the parser glue left in PARTITION BY.
        let mut exclusion = FrameExclusion::NoOthers;
        let mut partition_by = Vec::new();
        for expr in &spec.partition_by {
            if let ast::Expr::Identifier(ident) = expr
                && let Some(found) = exclusion_marker(ident)
            {
                exclusion = match found {
                    Exclusion::CurrentRow => FrameExclusion::CurrentRow,
                    Exclusion::Group => FrameExclusion::Group,
                    Exclusion::Ties => FrameExclusion::Ties,
                    Exclusion::NoOthers => FrameExclusion::NoOthers,
                };
                continue;
            }
            let typed = self.bind(expr, scope, grouping.as_deref_mut())?;
            partition_by.push(self.default_text(typed)?.0);
        }
        let mut order_by = Vec::new();
        let mut order_types = Vec::new();
        for item in &spec.order_by {
            let descending = matches!(item.options.sort, Some(ast::OrderBySort::Desc));
            let typed = self.bind(&item.expr, scope, grouping.as_deref_mut())?;
            let (expr, data_type) = self.default_text(typed)?;
            order_types.push(data_type);
            order_by.push(SortKey {
                expr,
                descending,
                nulls_first: item.options.nulls_first.unwrap_or(descending),
            });
        }
        let frame = self.bind_frame(spec.window_frame.as_ref(), exclusion, &order_types)?;
        let name = function_name(function);
        if let Some(kind) = aggregate_function(function) {
            if function.filter.is_none()
                && let ast::FunctionArguments::List(list) = &function.args
            {
                if matches!(
                    list.duplicate_treatment,
                    Some(ast::DuplicateTreatment::Distinct)
                ) {
                    return Err(Error::Unsupported("DISTINCT for window functions".into()));
                }
                if !list.clauses.is_empty() {
                    return Err(Error::Unsupported(
                        "aggregate ORDER BY for window functions".into(),
                    ));
                }
            }
            let aggregate =
                self.bind_aggregate_call(function, kind, scope, Some(grouping.as_deref_mut()))?;
            let data_type = aggregate.data_type;
            return Ok(WindowCall {
                function: WindowFunction::Aggregate(aggregate),
                args: Vec::new(),
                partition_by,
                order_by,
                frame,
                data_type,
            });
        }
        if function.filter.is_some() {
            return Err(Error::Unsupported(format!(
                "FILTER for the non-aggregate window function {name}"
            )));
        }
        let mut args = Vec::new();
        if let ast::FunctionArguments::List(list) = &function.args {
            for arg in &list.args {
                let ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(expr)) = arg else {
                    return Err(Error::Unsupported(format!("argument {arg} of {name}")));
                };
                args.push(self.bind(expr, scope, grouping.as_deref_mut())?);
            }
        }
        let (function, args, data_type) = self.type_window_function(&name, args)?;
        Ok(WindowCall {
            function,
            args,
            partition_by,
            order_by,
            frame,
            data_type,
        })
    }

    /// The window function `name` with its arguments coerced, as
    /// PostgreSQL's overloads of it take them.
    fn type_window_function(
        &mut self,
        name: &str,
        args: Vec<Typed>,
    ) -> Result<(WindowFunction, Vec<Expr>, DataType)> {
        let (function, arity): (WindowFunction, std::ops::RangeInclusive<usize>) = match name {
            "row_number" => (WindowFunction::RowNumber, 0..=0),
            "rank" => (WindowFunction::Rank, 0..=0),
            "dense_rank" => (WindowFunction::DenseRank, 0..=0),
            "percent_rank" => (WindowFunction::PercentRank, 0..=0),
            "cume_dist" => (WindowFunction::CumeDist, 0..=0),
            "ntile" => (WindowFunction::Ntile, 1..=1),
            "lag" => (WindowFunction::Lag, 1..=3),
            "lead" => (WindowFunction::Lead, 1..=3),
            "first_value" => (WindowFunction::FirstValue, 1..=1),
            "last_value" => (WindowFunction::LastValue, 1..=1),
            "nth_value" => (WindowFunction::NthValue, 2..=2),
            _ => {
                return Err(Error::sql(
                    SqlState::WRONG_OBJECT_TYPE,
                    format!(
                        "OVER specified, but {name} is not a window function nor an aggregate function"
                    ),
                ));
            }
        };
        if !arity.contains(&args.len()) {
            return Err(no_such_function(name, &args));
        }
        let mut args = args.into_iter();
        Ok(match function {
            WindowFunction::RowNumber | WindowFunction::Rank | WindowFunction::DenseRank => {
                (function, Vec::new(), DataType::BigInt)
            }
            WindowFunction::PercentRank | WindowFunction::CumeDist => {
                (function, Vec::new(), DataType::Double)
            }
            WindowFunction::Ntile => {
                let buckets = args.next().expect("invariant: arity checked");
                let buckets = self.integer_argument(name, buckets)?;
                (function, vec![buckets], DataType::Integer)
            }
            WindowFunction::FirstValue | WindowFunction::LastValue => {
                let value = args.next().expect("invariant: arity checked");
                let (value, data_type) = self.default_text(value)?;
                (function, vec![value], data_type)
            }
            WindowFunction::NthValue => {
                let value = args.next().expect("invariant: arity checked");
                let (value, data_type) = self.default_text(value)?;
                let n = self.integer_argument(name, args.next().expect("invariant: arity"))?;
                (function, vec![value, n], data_type)
            }
            WindowFunction::Lag | WindowFunction::Lead => {
                let value = args.next().expect("invariant: arity checked");
                let rest: Vec<Typed> = args.collect();
                let (value, data_type) = match (&value.data_type, rest.get(1)) {
                    (None, Some(default)) if default.data_type.is_some() => {
                        let target = default.data_type.expect("invariant: checked");
                        (self.coerce_cast(value, target)?, target)
                    }
                    _ => self.default_text(value)?,
                };
                let mut bound = vec![value];
                let mut rest = rest.into_iter();
                if let Some(offset) = rest.next() {
                    bound.push(self.integer_argument(name, offset)?);
                }
                if let Some(default) = rest.next() {
                    if default.data_type.is_some_and(|t| {
                        t != data_type
                            && !(t.is_numeric() && data_type.is_numeric())
                            && !(t.is_text() && data_type.is_text())
                    }) {
                        return Err(Error::sql(
                            SqlState::UNDEFINED_FUNCTION,
                            format!(
                                "function {name}({}, integer, {}) does not exist",
                                data_type.name(),
                                default.data_type.map_or("unknown".into(), |t| t.name())
                            ),
                        ));
                    }
                    bound.push(self.coerce_cast(default, data_type)?);
                }
                (function, bound, data_type)
            }
            WindowFunction::Aggregate(_) => unreachable!("aggregates are bound above"),
        })
    }

    fn integer_argument(&mut self, name: &str, typed: Typed) -> Result<Expr> {
        match typed.data_type {
            None => self.resolve_unknown(typed.expr, DataType::Integer),
            Some(t) if t.is_integer() => self.coerce_cast(typed, DataType::Integer),
            Some(_) => Err(no_such_function(name, &[typed])),
        }
    }

    /// A frame clause (or the default), validated as PostgreSQL does.
    fn bind_frame(
        &mut self,
        frame: Option<&ast::WindowFrame>,
        exclusion: FrameExclusion,
        order_types: &[DataType],
    ) -> Result<WindowFrame> {
        let Some(frame) = frame else {
            return Ok(WindowFrame {
                exclusion,
                ..WindowFrame::default_frame()
            });
        };
        let mode = match frame.units {
            WindowFrameUnits::Rows => FrameMode::Rows,
            WindowFrameUnits::Range => FrameMode::Range,
            WindowFrameUnits::Groups => FrameMode::Groups,
        };
        let start = self.bind_frame_bound(&frame.start_bound, mode, order_types)?;
        let end = match &frame.end_bound {
            Some(bound) => self.bind_frame_bound(bound, mode, order_types)?,
            None => FrameBound::CurrentRow,
        };
        match (&start, &end) {
            (FrameBound::UnboundedFollowing, _) => {
                return Err(windowing("frame start cannot be UNBOUNDED FOLLOWING"));
            }
            (_, FrameBound::UnboundedPreceding) => {
                return Err(windowing("frame end cannot be UNBOUNDED PRECEDING"));
            }
            (FrameBound::CurrentRow, FrameBound::Preceding(_)) => {
                return Err(windowing(
                    "frame starting from current row cannot have preceding rows",
                ));
            }
            (FrameBound::Following(_), FrameBound::Preceding(_)) => {
                return Err(windowing(
                    "frame starting from following row cannot have preceding rows",
                ));
            }
            (FrameBound::Following(_), FrameBound::CurrentRow) => {
                return Err(windowing(
                    "frame starting from following row cannot end with current row",
                ));
            }
            _ => {}
        }
        if mode == FrameMode::Groups && order_types.is_empty() {
            return Err(windowing("GROUPS mode requires an ORDER BY clause"));
        }
        Ok(WindowFrame {
            mode,
            start,
            end,
            exclusion,
        })
    }

    fn bind_frame_bound(
        &mut self,
        bound: &WindowFrameBound,
        mode: FrameMode,
        order_types: &[DataType],
    ) -> Result<FrameBound> {
        let offset = |binder: &mut Binder<'_>, expr: &ast::Expr| -> Result<Expr> {
            let typed = binder.bind(expr, &Scope::default(), None)?;
            match mode {
                FrameMode::Rows | FrameMode::Groups => match typed.data_type {
                    None => binder.resolve_unknown(typed.expr, DataType::BigInt),
                    Some(t) if t.is_integer() => binder.coerce_cast(typed, DataType::BigInt),
                    Some(t) => Err(Error::sql(
                        SqlState::DATATYPE_MISMATCH,
                        format!(
                            "argument of {} must be type bigint, not type {}",
                            if mode == FrameMode::Rows {
                                "ROWS"
                            } else {
                                "GROUPS"
                            },
                            t.name()
                        ),
                    )),
                },
                FrameMode::Range => {
                    let [order_type] = order_types else {
                        return Err(windowing(
                            "RANGE with offset PRECEDING/FOLLOWING requires exactly one ORDER BY column",
                        ));
                    };
                    if !order_type.is_numeric() {
                        return Err(Error::Unsupported(format!(
                            "RANGE with offset PRECEDING/FOLLOWING for column type {}",
                            order_type.name()
                        )));
                    }
                    match typed.data_type {
                        None => binder.resolve_unknown(typed.expr, *order_type),
                        Some(t) if t.is_numeric() => binder.coerce_cast(typed, *order_type),
                        Some(t) => Err(Error::sql(
                            SqlState::DATATYPE_MISMATCH,
                            format!(
                                "RANGE with offset PRECEDING/FOLLOWING is not supported for column type {} and offset type {}",
                                order_type.name(),
                                t.name()
                            ),
                        )),
                    }
                }
            }
        };
        Ok(match bound {
            WindowFrameBound::CurrentRow => FrameBound::CurrentRow,
            WindowFrameBound::Preceding(None) => FrameBound::UnboundedPreceding,
            WindowFrameBound::Following(None) => FrameBound::UnboundedFollowing,
            WindowFrameBound::Preceding(Some(expr)) => FrameBound::Preceding(offset(self, expr)?),
            WindowFrameBound::Following(Some(expr)) => FrameBound::Following(offset(self, expr)?),
        })
    }
}
