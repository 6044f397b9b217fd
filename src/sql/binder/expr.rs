//! Expression binding: sqlparser expressions → typed [`Expr`]s.
//!
//! Names resolve through the scope chain (`scope.rs`) to column ids.
//! Typing follows PostgreSQL's rules closely enough for the supported types
//! (see the module docs of `binder`).
//!
//! In an aggregating query, expressions are bound in *grouped* mode: an
//! aggregate call binds its argument against the FROM clause and becomes a
//! reference to the aggregate's output column; anything else must be a
//! GROUP BY expression (or built from them), else SQLSTATE 42803.

use sqlparser::ast::{self, BinaryOperator, CastKind, UnaryOperator, Value as AstValue};

use super::Binder;
use super::aggregate::is_grouping_aggregate;
use super::scope::{Scope, resolve};
use crate::error::{Error, Result, SqlState};
use crate::sql::expr::{BinaryOp, ColumnId, Expr, SubqueryKind};
use crate::sql::numeric::{Numeric, NumericModifier};
use crate::sql::plan::{Aggregate, GroupingSets};
use crate::sql::types::{DataType, Value};

/// A bound expression whose type may still be unknown.
#[derive(Clone, Debug)]
pub struct Typed {
    pub expr: Expr,
    /// `None`: an unknown-typed string literal, NULL or untyped parameter.
    pub data_type: Option<DataType>,
}

/// The state of grouped binding: the GROUP BY expressions (as written, as
/// bound, and the column each becomes), the grouping sets, the aggregate
/// calls found so far with their output columns, and the columns usable
/// ungrouped because their table's primary key is grouped.
#[derive(Default)]
pub struct Grouping {
    pub keys: Vec<(ast::Expr, Expr, ColumnId)>,
    pub sets: Option<GroupingSets>,
    pub aggregates: Vec<(Aggregate, ColumnId)>,
    pub functional: Vec<ColumnId>,
}

fn syntax(message: impl Into<String>) -> Error {
    Error::sql(SqlState::SYNTAX_ERROR, message)
}

pub(super) fn no_operator(op: &str, left: Option<DataType>, right: Option<DataType>) -> Error {
    let name = |t: Option<DataType>| t.map(|t| t.name()).unwrap_or_else(|| "unknown".into());
    Error::sql(
        SqlState::UNDEFINED_FUNCTION,
        format!(
            "operator does not exist: {} {} {}",
            name(left),
            op,
            name(right)
        ),
    )
}

/// Maps a SQL type name to a basalt type.
pub fn bind_data_type(data_type: &ast::DataType) -> Result<DataType> {
    use ast::DataType as T;
    let limit = |length: &Option<ast::CharacterLength>| -> Result<Option<u32>> {
        match length {
            None => Ok(None),
            Some(ast::CharacterLength::IntegerLength { length, .. }) => {
                if *length == 0 || *length > 10_485_760 {
                    return Err(Error::sql(
                        SqlState::INVALID_PARAMETER_VALUE,
                        format!(
                            "length for type varchar must be between 1 and 10485760, got {length}"
                        ),
                    ));
                }
                Ok(Some(*length as u32))
            }
            Some(ast::CharacterLength::Max) => Err(Error::Unsupported("varchar(max)".into())),
        }
    };
    Ok(match data_type {
        T::Bool | T::Boolean => DataType::Boolean,
        T::Int2(_) | T::SmallInt(_) => DataType::SmallInt,
        T::Int(_) | T::Int4(_) | T::Integer(_) => DataType::Integer,
        T::Int8(_) | T::BigInt(_) => DataType::BigInt,
        T::Real | T::Float4 => DataType::Real,
        T::Float8 | T::DoublePrecision | T::Double(_) => DataType::Double,
        T::Float(info) => match info {
            ast::ExactNumberInfo::Precision(p) | ast::ExactNumberInfo::PrecisionAndScale(p, _)
                if *p <= 24 =>
            {
                DataType::Real
            }
            _ => DataType::Double,
        },
        T::Numeric(info) | T::Decimal(info) | T::Dec(info) => DataType::Numeric(match info {
            ast::ExactNumberInfo::None => None,
            ast::ExactNumberInfo::Precision(precision) => Some(NumericModifier::new(
                i64::try_from(*precision).unwrap_or(i64::MAX),
                0,
            )?),
            ast::ExactNumberInfo::PrecisionAndScale(precision, scale) => Some(
                NumericModifier::new(i64::try_from(*precision).unwrap_or(i64::MAX), *scale)?,
            ),
        }),
        T::Text | T::String(None) => DataType::Text,
        T::Varchar(length) | T::CharacterVarying(length) => DataType::Varchar(limit(length)?),
        T::Char(length) | T::Character(length) => DataType::Char(limit(length)?.unwrap_or(1)),
        T::Date => DataType::Date,
        T::Time(precision, zone) => match zone {
            ast::TimezoneInfo::None | ast::TimezoneInfo::WithoutTimeZone => {
                DataType::Time(time_precision(*precision, "time")?)
            }
            _ => return Err(Error::Unsupported("type time with time zone".into())),
        },
        T::Timestamp(precision, zone) => match zone {
            ast::TimezoneInfo::None | ast::TimezoneInfo::WithoutTimeZone => {
                DataType::Timestamp(time_precision(*precision, "timestamp")?)
            }
            _ => DataType::Timestamptz(time_precision(*precision, "timestamp")?),
        },
        T::Interval { fields, precision } => {
            if fields.is_some() {
                return Err(Error::Unsupported("interval columns with fields".into()));
            }
            DataType::Interval(time_precision(*precision, "interval")?)
        }
        T::Custom(name, modifiers) if modifiers.is_empty() => {
            match name.to_string().to_ascii_lowercase().as_str() {
                "timestamptz" => DataType::Timestamptz(None),
                "timetz" => return Err(Error::Unsupported("type time with time zone".into())),
                _ => return Err(Error::Unsupported(format!("type {data_type}"))),
            }
        }
        other => return Err(Error::Unsupported(format!("type {other}"))),
    })
}

/// A `char(n)` expression as `text`: its padding dropped, as PostgreSQL's
/// `bpchar` to `text` cast does. Other expressions pass unchanged.
pub(crate) fn char_as_text(typed: Typed) -> Typed {
    match typed.data_type {
        Some(DataType::Char(_)) => Typed {
            expr: Expr::Function {
                function: crate::sql::expr::Function::CharToText,
                args: vec![typed.expr],
            },
            data_type: Some(DataType::Text),
        },
        _ => typed,
    }
}

/// The `(p)` of a time type: 0 to 6 (PostgreSQL warns and uses 6 above).
fn time_precision(precision: Option<u64>, name: &str) -> Result<Option<u8>> {
    match precision {
        None => Ok(None),
        Some(p) if p <= 6 => Ok(Some(p as u8)),
        Some(p) if p <= i32::MAX as u64 => Ok(Some(6)),
        Some(p) => Err(Error::sql(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("{name}({p}) precision must not be negative"),
        )),
    }
}

/// Whether `from` converts to `to` implicitly (PostgreSQL's implicit
/// casts among the time types: date → timestamp → timestamptz, and any
/// type to itself with another modifier).
pub(crate) fn implicit_time_cast(from: DataType, to: DataType) -> bool {
    from.unmodified() == to.unmodified()
        || matches!((from.datetime_rank(), to.datetime_rank()), (Some(a), Some(b)) if a < b)
        || (from == DataType::Time(None) && matches!(to, DataType::Interval(_)))
}

fn numeric_result(left: DataType, right: DataType) -> Option<DataType> {
    let (l, r) = (left.numeric_rank()?, right.numeric_rank()?);
    // An integer or numeric mixed with real promotes to double, as
    // PostgreSQL does.
    let exact = |t: DataType| t.is_integer() || matches!(t, DataType::Numeric(_));
    if (left == DataType::Real && exact(right)) || (right == DataType::Real && exact(left)) {
        return Some(DataType::Double);
    }
    Some(match if l >= r { left } else { right } {
        // A computed numeric has no declared precision.
        DataType::Numeric(_) if left != right => DataType::Numeric(None),
        wider => wider,
    })
}

impl Binder<'_> {
    /// Gives an unknown-typed expression the type `target`; checks known ones
    /// are implicitly convertible (42804 otherwise).
    pub fn coerce(&mut self, typed: Typed, target: DataType) -> Result<Expr> {
        match typed.data_type {
            Some(t) if t == target => Ok(typed.expr),
            Some(t) if t.is_numeric() && target.is_numeric() => Ok(typed.expr),
            Some(t) if t.is_text() && matches!(target, DataType::Char(_)) => Ok(Expr::Cast {
                expr: Box::new(typed.expr),
                to: target,
                explicit: false,
            }),
            Some(DataType::Char(_)) if target.is_text() => Ok(char_as_text(typed).expr),
            Some(t) if t.is_text() && target.is_text() => Ok(typed.expr),
            Some(t) if implicit_time_cast(t, target) => Ok(Expr::Cast {
                expr: Box::new(typed.expr),
                to: target,
                explicit: false,
            }),
            Some(t) => Err(Error::sql(
                SqlState::DATATYPE_MISMATCH,
                format!(
                    "argument of type {} cannot be used as {}",
                    t.name(),
                    target.name()
                ),
            )),
            None => self.resolve_unknown(typed.expr, target),
        }
    }

    /// Coerces for storing into a column of type `target` (INSERT/UPDATE):
    /// like an assignment cast in PostgreSQL.
    pub fn coerce_assign(&mut self, typed: Typed, target: DataType, column: &str) -> Result<Expr> {
        let typed = match typed.data_type {
            Some(DataType::Char(_)) if typed.data_type != Some(target) => char_as_text(typed),
            _ => typed,
        };
        match typed.data_type {
            None => self.resolve_unknown(typed.expr, target),
            Some(t) if t == target => Ok(typed.expr),
            Some(t)
                if (t.is_numeric() && target.is_numeric())
                    || (t.is_text() && target.is_text())
                    || target.is_text()
                    || (t.datetime_rank().is_some() && target.datetime_rank().is_some())
                    || (t.datetime_rank().is_some() && matches!(target, DataType::Time(_)))
                    || implicit_time_cast(t, target) =>
            {
                Ok(Expr::Cast {
                    expr: Box::new(typed.expr),
                    to: target,
                    explicit: false,
                })
            }
            Some(t) => Err(Error::sql(
                SqlState::DATATYPE_MISMATCH,
                format!(
                    "column \"{column}\" is of type {} but expression is of type {}",
                    target.name(),
                    t.name()
                ),
            )),
        }
    }

    pub(crate) fn resolve_unknown(&mut self, expr: Expr, target: DataType) -> Result<Expr> {
        match expr {
            Expr::Literal(Value::Text(text)) => {
                self.note_clock(&text, target);
                Ok(Expr::Literal(Value::parse_in(target, &text, &self.time)?))
            }
            Expr::Parameter(index) => {
                if let Some(slot) = self.params.get_mut(index) {
                    *slot = Some(target);
                }
                Ok(Expr::Parameter(index))
            }
            Expr::Literal(Value::Null) => Ok(Expr::Literal(Value::Null)),
            other => Ok(Expr::Cast {
                expr: Box::new(other),
                to: target,
                explicit: false,
            }),
        }
    }

    /// Resolves an unknown expression to text where nothing else decides.
    pub fn default_text(&mut self, typed: Typed) -> Result<(Expr, DataType)> {
        match typed.data_type {
            Some(t) => Ok((typed.expr, t)),
            None => Ok((
                self.resolve_unknown(typed.expr, DataType::Text)?,
                DataType::Text,
            )),
        }
    }

    /// Binds a boolean condition (WHERE, HAVING, CASE WHEN …).
    pub fn bind_condition(
        &mut self,
        expr: &ast::Expr,
        scope: &Scope,
        grouping: Option<&mut Grouping>,
        clause: &str,
    ) -> Result<Expr> {
        let typed = self.bind(expr, scope, grouping)?;
        match typed.data_type {
            Some(DataType::Boolean) => Ok(typed.expr),
            None => self.resolve_unknown(typed.expr, DataType::Boolean),
            Some(other) => Err(Error::sql(
                SqlState::DATATYPE_MISMATCH,
                format!(
                    "argument of {clause} must be type boolean, not type {}",
                    other.name()
                ),
            )),
        }
    }

    /// Binds an expression.
    pub fn bind(
        &mut self,
        expr: &ast::Expr,
        scope: &Scope,
        mut grouping: Option<&mut Grouping>,
    ) -> Result<Typed> {
        crate::sql::stack::check()?;
        if let Some(grouping) = grouping.as_deref_mut() {
            if let Some((_, _, id)) = grouping.keys.iter().find(|(ast, _, _)| ast == expr) {
                return Ok(Typed {
                    expr: Expr::Column(*id),
                    data_type: Some(self.columns.data_type(*id)),
                });
            }
            if let ast::Expr::Function(function) = expr
                && let Some(typed) = self.bind_aggregate(function, scope, grouping)?
            {
                return Ok(typed);
            }
            if matches!(
                expr,
                ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_)
            ) {
                let column = self.bind(expr, scope, None)?;
                if let Some((_, _, id)) = grouping
                    .keys
                    .iter()
                    .find(|(_, bound, _)| *bound == column.expr)
                {
                    return Ok(Typed {
                        expr: Expr::Column(*id),
                        data_type: column.data_type,
                    });
                }
                // Functionally dependent on a grouped primary key: group by
                // it too, which changes no group.
                if let Expr::Column(id) = column.expr
                    && grouping.functional.contains(&id)
                {
                    grouping.keys.push((expr.clone(), Expr::Column(id), id));
                    return Ok(Typed {
                        expr: Expr::Column(id),
                        data_type: column.data_type,
                    });
                }
                // PostgreSQL names the column with its FROM item.
                let name = match &column.expr {
                    Expr::Column(id) => {
                        let info = self.columns.get(*id);
                        match &info.table {
                            Some(table) => format!("{table}.{}", info.name),
                            None => info.name.clone(),
                        }
                    }
                    _ => expr.to_string(),
                };
                return Err(Error::sql(
                    SqlState::GROUPING_ERROR,
                    format!(
                        "column \"{name}\" must appear in the GROUP BY clause or be used in an aggregate function"
                    ),
                ));
            }
        } else if let ast::Expr::Function(function) = expr
            && is_grouping_aggregate(function)
        {
            return Err(Error::sql(
                SqlState::GROUPING_ERROR,
                "aggregate functions are not allowed here",
            ));
        }
        let mut sub =
            |binder: &mut Binder<'_>, e: &ast::Expr| binder.bind(e, scope, grouping.as_deref_mut());
        Ok(match expr {
            // Keywords PostgreSQL reads as functions without parentheses
            // (sqlparser already does for current_user and a few others).
            ast::Expr::Identifier(ident)
                if ident.quote_style.is_none()
                    && matches!(
                        ident.value.to_ascii_lowercase().as_str(),
                        "current_role" | "current_schema"
                    ) =>
            {
                self.bind_session_keyword(&ident.value.to_ascii_lowercase())?
            }
            ast::Expr::Identifier(ident) => {
                self.column_reference(scope, None, &super::ident_name(ident))?
            }
            ast::Expr::CompoundIdentifier(parts) => {
                let names: Vec<String> = parts.iter().map(super::ident_name).collect();
                match names.as_slice() {
                    [table, column] | [_, table, column] => {
                        self.column_reference(scope, Some(table), column)?
                    }
                    _ => return Err(Error::Unsupported(format!("column reference {expr}"))),
                }
            }
            ast::Expr::Value(value) => self.bind_value(&value.value)?,
            ast::Expr::Nested(inner) => sub(self, inner)?,
            ast::Expr::UnaryOp { op, expr: inner } => {
                let operand = sub(self, inner)?;
                match op {
                    UnaryOperator::Not => {
                        let operand = self.coerce_bool(operand, "NOT")?;
                        Typed {
                            expr: Expr::Not(Box::new(operand)),
                            data_type: Some(DataType::Boolean),
                        }
                    }
                    UnaryOperator::Minus => {
                        // Fold negative literals so `-2147483648` fits an
                        // integer; a typed operand (`-1::bigint`) keeps its
                        // type.
                        if let Expr::Literal(value) = &operand.expr
                            && let Some(folded) = negate_literal(value)
                        {
                            let data_type = match inner.as_ref() {
                                ast::Expr::Value(_) => folded.data_type(),
                                _ => operand.data_type.or(folded.data_type()),
                            };
                            return Ok(Typed {
                                data_type,
                                expr: Expr::Literal(folded),
                            });
                        }
                        let data_type = match operand.data_type {
                            Some(DataType::Interval(_)) => DataType::Interval(None),
                            other => self.numeric_operand(other, "-")?,
                        };
                        let operand = self.coerce(operand, data_type)?;
                        Typed {
                            expr: Expr::Negate(Box::new(operand)),
                            data_type: Some(data_type),
                        }
                    }
                    UnaryOperator::Plus => {
                        let data_type = self.numeric_operand(operand.data_type, "+")?;
                        Typed {
                            expr: self.coerce(operand, data_type)?,
                            data_type: Some(data_type),
                        }
                    }
                    other => return Err(Error::Unsupported(format!("operator {other}"))),
                }
            }
            ast::Expr::BinaryOp { left, op, right } => {
                let left = sub(self, left)?;
                let right = sub(self, right)?;
                self.bind_binary(op, left, right)?
            }
            ast::Expr::IsNull(inner) | ast::Expr::IsNotNull(inner) => {
                let operand = sub(self, inner)?;
                let (operand, _) = self.default_text(operand)?;
                let negated = matches!(expr, ast::Expr::IsNotNull(_));
                Typed {
                    expr: Expr::IsNull {
                        expr: Box::new(operand),
                        negated,
                    },
                    data_type: Some(DataType::Boolean),
                }
            }
            ast::Expr::IsTrue(inner)
            | ast::Expr::IsNotTrue(inner)
            | ast::Expr::IsFalse(inner)
            | ast::Expr::IsNotFalse(inner) => {
                let operand = sub(self, inner)?;
                let operand = self.coerce_bool(operand, "IS")?;
                let expected = matches!(expr, ast::Expr::IsTrue(_) | ast::Expr::IsNotTrue(_));
                let negated = matches!(expr, ast::Expr::IsNotTrue(_) | ast::Expr::IsNotFalse(_));
                Typed {
                    expr: Expr::IsBoolean {
                        expr: Box::new(operand),
                        expected,
                        negated,
                    },
                    data_type: Some(DataType::Boolean),
                }
            }
            ast::Expr::IsDistinctFrom(left, right) | ast::Expr::IsNotDistinctFrom(left, right) => {
                let left = sub(self, left)?;
                let right = sub(self, right)?;
                let (left, right, _) = self.unify(left, right, "IS DISTINCT FROM")?;
                Typed {
                    expr: Expr::IsDistinctFrom {
                        left: Box::new(left),
                        right: Box::new(right),
                        negated: matches!(expr, ast::Expr::IsNotDistinctFrom(..)),
                    },
                    data_type: Some(DataType::Boolean),
                }
            }
            ast::Expr::In {
                expr: inner,
                target: ast::InTarget::List(list),
                negated,
                ..
            } => {
                let mut operand = sub(self, inner)?;
                let mut items = Vec::with_capacity(list.len());
                for item in list {
                    items.push(sub(self, item)?);
                }
                // The common type of the operand and every item.
                let mut common = operand.data_type;
                for item in &items {
                    common = match (common, item.data_type) {
                        (None, t) | (t, None) => t,
                        (Some(a), Some(b)) => Some(self.common_type(a, b, "IN")?),
                    };
                }
                let common = common.unwrap_or(DataType::Text);
                operand = Typed {
                    expr: self.coerce(operand, common)?,
                    data_type: Some(common),
                };
                let mut bound = Vec::with_capacity(items.len());
                for item in items {
                    bound.push(self.coerce(item, common)?);
                }
                Typed {
                    expr: Expr::InList {
                        expr: Box::new(operand.expr),
                        list: bound,
                        negated: *negated,
                    },
                    data_type: Some(DataType::Boolean),
                }
            }
            ast::Expr::Subquery(query) => self.bind_subquery(
                SubqueryKind::Scalar,
                None,
                query,
                scope,
                grouping.as_deref(),
            )?,
            ast::Expr::Exists { subquery, negated } => {
                let exists = self.bind_subquery(
                    SubqueryKind::Exists,
                    None,
                    subquery,
                    scope,
                    grouping.as_deref(),
                )?;
                negate_if(exists, *negated)
            }
            ast::Expr::In {
                expr: inner,
                target: ast::InTarget::Subquery(query),
                negated,
                ..
            } => {
                let operand = sub(self, inner)?;
                let any = self.bind_subquery(
                    SubqueryKind::Any {
                        op: BinaryOp::Equal,
                    },
                    Some(operand),
                    query,
                    scope,
                    grouping.as_deref(),
                )?;
                negate_if(any, *negated)
            }
            ast::Expr::AnyOp {
                left,
                compare_op,
                right,
                ..
            }
            | ast::Expr::AllOp {
                left,
                compare_op,
                right,
            } => {
                let ast::Expr::Subquery(query) = right.as_ref() else {
                    return Err(Error::Unsupported(format!("ANY/ALL over {right}")));
                };
                let op = comparison_op(compare_op).ok_or_else(|| {
                    Error::Unsupported(format!("operator {compare_op} with ANY/ALL"))
                })?;
                let kind = if matches!(expr, ast::Expr::AllOp { .. }) {
                    SubqueryKind::All { op }
                } else {
                    SubqueryKind::Any { op }
                };
                let operand = sub(self, left)?;
                self.bind_subquery(kind, Some(operand), query, scope, grouping.as_deref())?
            }
            ast::Expr::In { .. } => {
                return Err(Error::Unsupported(format!("{expr}")));
            }
            ast::Expr::Between {
                expr: inner,
                negated,
                low,
                high,
            } => {
                let operand = sub(self, inner)?;
                let low = sub(self, low)?;
                let high = sub(self, high)?;
                let ge = self.bind_comparison(BinaryOp::GreaterOrEqual, operand.clone(), low)?;
                let le = self.bind_comparison(BinaryOp::LessOrEqual, operand, high)?;
                let between = Expr::And(Box::new(ge), Box::new(le));
                Typed {
                    expr: if *negated {
                        Expr::Not(Box::new(between))
                    } else {
                        between
                    },
                    data_type: Some(DataType::Boolean),
                }
            }
            ast::Expr::Like {
                negated,
                expr: inner,
                pattern,
                escape_char,
                any,
            }
            | ast::Expr::ILike {
                negated,
                expr: inner,
                pattern,
                escape_char,
                any,
            } => {
                if escape_char.is_some() || *any {
                    return Err(Error::Unsupported("LIKE ... ESCAPE / LIKE ANY".into()));
                }
                let value = sub(self, inner)?;
                let pattern = sub(self, pattern)?;
                let value = self.coerce_text(value, "~~")?;
                let pattern = self.coerce_text(pattern, "~~")?;
                Typed {
                    expr: Expr::Like {
                        expr: Box::new(value),
                        pattern: Box::new(pattern),
                        negated: *negated,
                        case_insensitive: matches!(expr, ast::Expr::ILike { .. }),
                    },
                    data_type: Some(DataType::Boolean),
                }
            }
            ast::Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                let operand = match operand {
                    Some(operand) => Some(sub(self, operand)?),
                    None => None,
                };
                let mut whens = Vec::new();
                let mut results = Vec::new();
                for condition in conditions {
                    whens.push(sub(self, &condition.condition)?);
                    results.push(sub(self, &condition.result)?);
                }
                let otherwise = match else_result {
                    Some(e) => Some(sub(self, e)?),
                    None => None,
                };
                // Result type: the common type of all branches.
                let mut common: Option<DataType> = None;
                for result in results.iter().chain(otherwise.iter()) {
                    if let Some(t) = result.data_type {
                        common = Some(match common {
                            None => t,
                            Some(c) => self.common_type(c, t, "CASE")?,
                        });
                    }
                }
                let common = common.unwrap_or(DataType::Text);
                let operand_expr = match operand {
                    Some(operand) => {
                        let mut operand_type = operand.data_type;
                        for when in &whens {
                            operand_type = match (operand_type, when.data_type) {
                                (None, t) | (t, None) => t,
                                (Some(a), Some(b)) => Some(self.common_type(a, b, "CASE")?),
                            };
                        }
                        let operand_type = operand_type.unwrap_or(DataType::Text);
                        let operand = self.coerce(operand, operand_type)?;
                        whens = whens
                            .into_iter()
                            .map(|w| {
                                Ok(Typed {
                                    expr: self.coerce(w, operand_type)?,
                                    data_type: Some(operand_type),
                                })
                            })
                            .collect::<Result<_>>()?;
                        Some(Box::new(operand))
                    }
                    None => None,
                };
                let mut branches = Vec::new();
                for (when, result) in whens.into_iter().zip(results) {
                    let when = if operand_expr.is_some() {
                        when.expr
                    } else {
                        self.coerce_bool(when, "CASE")?
                    };
                    branches.push((when, self.coerce_cast(result, common)?));
                }
                let otherwise = match otherwise {
                    Some(o) => Some(Box::new(self.coerce_cast(o, common)?)),
                    None => None,
                };
                Typed {
                    expr: Expr::Case {
                        operand: operand_expr,
                        branches,
                        otherwise,
                    },
                    data_type: Some(common),
                }
            }
            ast::Expr::Cast {
                kind,
                expr: inner,
                data_type,
                format,
            } => {
                if format.is_some() || matches!(kind, CastKind::TryCast | CastKind::SafeCast) {
                    return Err(Error::Unsupported(format!("{expr}")));
                }
                let target = bind_data_type(data_type)?;
                let operand = sub(self, inner)?;
                self.cast_to(operand, target)?
            }
            ast::Expr::Function(function) if function.over.is_some() => {
                self.bind_window_call(function, scope, grouping)?
            }
            ast::Expr::Function(function) => self.bind_function(function, scope, grouping)?,
            ast::Expr::Ceil { expr: inner, field } | ast::Expr::Floor { expr: inner, field }
                if matches!(
                    field,
                    ast::CeilFloorKind::DateTimeField(ast::DateTimeField::NoDateTime)
                ) =>
            {
                let name = if matches!(expr, ast::Expr::Ceil { .. }) {
                    "ceil"
                } else {
                    "floor"
                };
                let operand = sub(self, inner)?;
                self.bind_math_function(name, vec![operand])?
            }
            ast::Expr::TypedString(typed) => {
                let target = bind_data_type(&typed.data_type)?;
                let text = match &typed.value.value {
                    AstValue::SingleQuotedString(s) => s.clone(),
                    other => return Err(Error::Unsupported(format!("typed literal {other}"))),
                };
                self.note_clock(&text, target);
                let value = Value::parse_in(target, &text, &self.time)?;
                Typed {
                    expr: Expr::Literal(value),
                    data_type: Some(target),
                }
            }
            ast::Expr::Interval(interval) => self.bind_interval_literal(interval)?,
            ast::Expr::Extract {
                field, expr: inner, ..
            } => {
                let operand = sub(self, inner)?;
                self.bind_extract(field, operand)?
            }
            ast::Expr::AtTimeZone {
                timestamp,
                time_zone,
            } => {
                let value = sub(self, timestamp)?;
                let zone = sub(self, time_zone)?;
                self.bind_at_time_zone(value, zone)?
            }
            ast::Expr::Substring {
                expr: inner,
                substring_from,
                substring_for,
                shorthand,
                ..
            } => {
                let value = sub(self, inner)?;
                let from = substring_from
                    .as_deref()
                    .map(|e| sub(self, e))
                    .transpose()?;
                let count = substring_for.as_deref().map(|e| sub(self, e)).transpose()?;
                self.bind_substring(*shorthand, value, from, count)?
            }
            ast::Expr::Position { expr: needle, r#in } => {
                let haystack = sub(self, r#in)?;
                let needle = sub(self, needle)?;
                self.bind_position(needle, haystack)?
            }
            ast::Expr::Trim {
                expr: inner,
                trim_where,
                trim_what,
                trim_characters: None,
            } => {
                let value = sub(self, inner)?;
                let characters = trim_what.as_deref().map(|e| sub(self, e)).transpose()?;
                self.bind_trim(trim_where.as_ref(), value, characters)?
            }
            other => return Err(Error::Unsupported(format!("expression {other}"))),
        })
    }

    /// Notes a time literal that names the clock (`now`, `today`,
    /// `tomorrow`, `yesterday`): its value is this transaction's.
    fn note_clock(&mut self, text: &str, target: DataType) {
        if matches!(
            target,
            DataType::Date | DataType::Time(_) | DataType::Timestamp(_) | DataType::Timestamptz(_)
        ) {
            let lower = text.to_ascii_lowercase();
            if ["now", "today", "tomorrow", "yesterday"]
                .iter()
                .any(|word| lower.contains(word))
            {
                self.reads_clock = true;
            }
        }
    }

    /// A column reference, resolved through the scope chain.
    fn column_reference(&self, scope: &Scope, table: Option<&str>, name: &str) -> Result<Typed> {
        let column = resolve(scope, &self.outer, table, name)?;
        Ok(Typed {
            expr: Expr::Column(column.id),
            data_type: Some(column.data_type),
        })
    }

    fn cast_to(&mut self, operand: Typed, target: DataType) -> Result<Typed> {
        let operand = match target {
            DataType::Char(_) => operand,
            _ => char_as_text(operand),
        };
        let expr = match operand.data_type {
            None => match operand.expr {
                Expr::Parameter(index) => {
                    if let Some(slot) = self.params.get_mut(index) {
                        *slot = Some(target);
                    }
                    Expr::Parameter(index)
                }
                other => Expr::Cast {
                    expr: Box::new(other),
                    to: target,
                    explicit: true,
                },
            },
            Some(t) if t == target => operand.expr,
            Some(_) => Expr::Cast {
                expr: Box::new(operand.expr),
                to: target,
                explicit: true,
            },
        };
        // Fold casts of literals now, so errors surface at bind time as in PostgreSQL.
        let expr = match &expr {
            Expr::Cast {
                expr: inner,
                to,
                explicit,
            } if matches!(inner.as_ref(), Expr::Literal(_)) => {
                if let Expr::Literal(Value::Text(text)) = inner.as_ref() {
                    self.note_clock(text, *to);
                }
                Expr::Literal(expr_value(inner, *to, *explicit, &self.time)?)
            }
            _ => expr,
        };
        Ok(Typed {
            expr,
            data_type: Some(target),
        })
    }

    /// Coerces a CASE branch: unknowns resolve, numerics convert by cast.
    pub(crate) fn coerce_cast(&mut self, typed: Typed, target: DataType) -> Result<Expr> {
        match typed.data_type {
            Some(t) if t != target && t.is_numeric() && target.is_numeric() => Ok(Expr::Cast {
                expr: Box::new(typed.expr),
                to: target,
                explicit: false,
            }),
            _ => self.coerce(typed, target),
        }
    }

    fn coerce_bool(&mut self, typed: Typed, what: &str) -> Result<Expr> {
        match typed.data_type {
            Some(DataType::Boolean) => Ok(typed.expr),
            None => self.resolve_unknown(typed.expr, DataType::Boolean),
            Some(other) => Err(Error::sql(
                SqlState::DATATYPE_MISMATCH,
                format!(
                    "argument of {what} must be type boolean, not type {}",
                    other.name()
                ),
            )),
        }
    }

    pub(crate) fn coerce_text(&mut self, typed: Typed, op: &str) -> Result<Expr> {
        let typed = char_as_text(typed);
        match typed.data_type {
            Some(t) if t.is_text() => Ok(typed.expr),
            None => self.resolve_unknown(typed.expr, DataType::Text),
            Some(other) => Err(no_operator(op, Some(other), Some(DataType::Text))),
        }
    }

    pub(crate) fn numeric_operand(
        &self,
        data_type: Option<DataType>,
        op: &str,
    ) -> Result<DataType> {
        match data_type {
            Some(t) if t.is_numeric() => Ok(t),
            None => Ok(DataType::Integer),
            other => Err(Error::sql(
                SqlState::UNDEFINED_FUNCTION,
                format!(
                    "operator does not exist: {op} {}",
                    other.map(|t| t.name()).unwrap_or_default()
                ),
            )),
        }
    }

    pub(crate) fn common_type(&self, a: DataType, b: DataType, context: &str) -> Result<DataType> {
        if a == b {
            return Ok(a);
        }
        if let Some(t) = numeric_result(a, b) {
            return Ok(t);
        }
        if a.is_text() && b.is_text() {
            return Ok(DataType::Text);
        }
        if a.unmodified() == b.unmodified() {
            return Ok(a.unmodified());
        }
        if let (Some(x), Some(y)) = (a.datetime_rank(), b.datetime_rank()) {
            return Ok(if x > y { a } else { b }.unmodified());
        }
        Err(Error::sql(
            SqlState::DATATYPE_MISMATCH,
            format!(
                "{context} types {} and {} cannot be matched",
                a.name(),
                b.name()
            ),
        ))
    }

    /// Gives two operands a common type for comparison.
    fn unify(&mut self, left: Typed, right: Typed, op: &str) -> Result<(Expr, Expr, DataType)> {
        // `char(n)` against another string type compares as text, padding
        // dropped (PostgreSQL compares two bpchar ignoring it too).
        // Against varchar both sides lose their trailing spaces, as
        // PostgreSQL compares them as bpchar; against text only the char.
        let trimmed = |typed: Typed| Typed {
            expr: Expr::Function {
                function: crate::sql::expr::Function::CharToText,
                args: vec![typed.expr],
            },
            data_type: Some(DataType::Text),
        };
        let (left, right) = match (left.data_type, right.data_type) {
            (Some(DataType::Char(_)), Some(DataType::Varchar(_)))
            | (Some(DataType::Varchar(_)), Some(DataType::Char(_))) => {
                (trimmed(left), trimmed(right))
            }
            (Some(a), Some(b)) if a != b && a.is_text() && b.is_text() => {
                (char_as_text(left), char_as_text(right))
            }
            _ => (left, right),
        };
        match (left.data_type, right.data_type) {
            (None, None) => {
                let left = self.resolve_unknown(left.expr, DataType::Text)?;
                let right = self.resolve_unknown(right.expr, DataType::Text)?;
                Ok((left, right, DataType::Text))
            }
            (Some(t), None) => {
                let right = self.resolve_unknown(right.expr, t)?;
                Ok((left.expr, right, t))
            }
            (None, Some(t)) => {
                let left = self.resolve_unknown(left.expr, t)?;
                Ok((left, right.expr, t))
            }
            (Some(a), Some(b))
                if a != b && (implicit_time_cast(a, b) || implicit_time_cast(b, a)) =>
            {
                // Compare in the wider time type (timestamp(3) with
                // timestamp, a date with a timestamptz at its midnight).
                let target = if implicit_time_cast(a, b) { b } else { a }.unmodified();
                let cast = |typed: Typed| -> Expr {
                    if typed.data_type == Some(target) {
                        typed.expr
                    } else {
                        Expr::Cast {
                            expr: Box::new(typed.expr),
                            to: target,
                            explicit: false,
                        }
                    }
                };
                Ok((cast(left), cast(right), target))
            }
            (Some(a), Some(b)) => {
                let comparable =
                    a == b || (a.is_numeric() && b.is_numeric()) || (a.is_text() && b.is_text());
                if !comparable {
                    return Err(no_operator(op, Some(a), Some(b)));
                }
                let data_type = numeric_result(a, b).unwrap_or(a);
                // A numeric literal compared with a float converts to
                // double precision once here, not on every row.
                let fold = |expr: Expr, from: DataType| -> Result<Expr> {
                    match expr {
                        Expr::Literal(value)
                            if matches!(from, DataType::Numeric(_))
                                && matches!(data_type, DataType::Double) =>
                        {
                            Ok(Expr::Literal(crate::sql::expr::cast(value, data_type)?))
                        }
                        other => Ok(other),
                    }
                };
                Ok((fold(left.expr, a)?, fold(right.expr, b)?, data_type))
            }
        }
    }

    pub(crate) fn bind_comparison(
        &mut self,
        op: BinaryOp,
        left: Typed,
        right: Typed,
    ) -> Result<Expr> {
        let (left, right, data_type) = self.unify(left, right, op.symbol())?;
        Ok(Expr::Binary {
            op,
            left: Box::new(left),
            right: Box::new(right),
            data_type,
        })
    }

    fn bind_binary(&mut self, op: &BinaryOperator, left: Typed, right: Typed) -> Result<Typed> {
        let boolean = Some(DataType::Boolean);
        let comparison = match op {
            BinaryOperator::Eq => Some(BinaryOp::Equal),
            BinaryOperator::NotEq => Some(BinaryOp::NotEqual),
            BinaryOperator::Lt => Some(BinaryOp::Less),
            BinaryOperator::LtEq => Some(BinaryOp::LessOrEqual),
            BinaryOperator::Gt => Some(BinaryOp::Greater),
            BinaryOperator::GtEq => Some(BinaryOp::GreaterOrEqual),
            _ => None,
        };
        if let Some(op) = comparison {
            return Ok(Typed {
                expr: self.bind_comparison(op, left, right)?,
                data_type: boolean,
            });
        }
        match op {
            BinaryOperator::And | BinaryOperator::Or => {
                let name = if *op == BinaryOperator::And {
                    "AND"
                } else {
                    "OR"
                };
                let left = Box::new(self.coerce_bool(left, name)?);
                let right = Box::new(self.coerce_bool(right, name)?);
                let expr = if *op == BinaryOperator::And {
                    Expr::And(left, right)
                } else {
                    Expr::Or(left, right)
                };
                Ok(Typed {
                    expr,
                    data_type: boolean,
                })
            }
            BinaryOperator::StringConcat => {
                // PostgreSQL's `||` needs a text operand (text || anynonarray
                // and its mirror); unknown literals count as text.
                let is_text = |t: Option<DataType>| t.is_none_or(|t| t.is_text());
                if !is_text(left.data_type) && !is_text(right.data_type) {
                    return Err(no_operator("||", left.data_type, right.data_type));
                }
                // A char(n) operand loses its padding, as bpchar to text does.
                let (left, left_type) = self.default_text(char_as_text(left))?;
                let (right, right_type) = self.default_text(char_as_text(right))?;
                // Times print in the session's zone: cast them where the
                // evaluator has it.
                let as_text = |expr: Expr, data_type: DataType| match data_type {
                    DataType::Timestamptz(_) => Expr::Cast {
                        expr: Box::new(expr),
                        to: DataType::Text,
                        explicit: true,
                    },
                    _ => expr,
                };
                let (left, right) = (as_text(left, left_type), as_text(right, right_type));
                Ok(Typed {
                    expr: Expr::Binary {
                        op: BinaryOp::Concat,
                        left: Box::new(left),
                        right: Box::new(right),
                        data_type: DataType::Text,
                    },
                    data_type: Some(DataType::Text),
                })
            }
            BinaryOperator::Plus
            | BinaryOperator::Minus
            | BinaryOperator::Multiply
            | BinaryOperator::Divide
            | BinaryOperator::Modulo => {
                let arithmetic = match op {
                    BinaryOperator::Plus => BinaryOp::Add,
                    BinaryOperator::Minus => BinaryOp::Subtract,
                    BinaryOperator::Multiply => BinaryOp::Multiply,
                    BinaryOperator::Divide => BinaryOp::Divide,
                    _ => BinaryOp::Modulo,
                };
                if super::time::is_time_operand(left.data_type)
                    || super::time::is_time_operand(right.data_type)
                {
                    return self.bind_time_arithmetic(arithmetic, left, right);
                }
                let data_type = match (left.data_type, right.data_type) {
                    (Some(a), Some(b)) => numeric_result(a, b),
                    (Some(t), None) | (None, Some(t)) if t.is_numeric() => Some(t),
                    // PostgreSQL resolves unknown arithmetic against integer.
                    (None, None) => Some(DataType::Integer),
                    _ => None,
                }
                .ok_or_else(|| no_operator(arithmetic.symbol(), left.data_type, right.data_type))?;
                // Arithmetic on numeric(p, s) gives plain numeric.
                let data_type = match data_type {
                    DataType::Numeric(_) => DataType::Numeric(None),
                    other => other,
                };
                if arithmetic == BinaryOp::Modulo
                    && matches!(data_type, DataType::Real | DataType::Double)
                {
                    return Err(no_operator("%", Some(data_type), Some(data_type)));
                }
                let left = self.coerce(left, data_type)?;
                let right = self.coerce(right, data_type)?;
                Ok(Typed {
                    expr: Expr::Binary {
                        op: arithmetic,
                        left: Box::new(left),
                        right: Box::new(right),
                        data_type,
                    },
                    data_type: Some(data_type),
                })
            }
            // PostgreSQL's `^` is power().
            BinaryOperator::PGExp => self.bind_float_function("power", vec![left, right]),
            other => Err(Error::Unsupported(format!("operator {other}"))),
        }
    }

    fn bind_value(&mut self, value: &AstValue) -> Result<Typed> {
        Ok(match value {
            AstValue::Number(text, _) => {
                let value = number_literal(text)?;
                Typed {
                    data_type: value.data_type(),
                    expr: Expr::Literal(value),
                }
            }
            AstValue::SingleQuotedString(s) | AstValue::EscapedStringLiteral(s) => Typed {
                expr: Expr::Literal(Value::Text(s.as_str().into())),
                data_type: None,
            },
            AstValue::DollarQuotedString(s) => Typed {
                expr: Expr::Literal(Value::Text(s.value.as_str().into())),
                data_type: None,
            },
            AstValue::Boolean(b) => Typed {
                expr: Expr::Literal(Value::Boolean(*b)),
                data_type: Some(DataType::Boolean),
            },
            AstValue::Null => Typed {
                expr: Expr::Literal(Value::Null),
                data_type: None,
            },
            AstValue::Placeholder(name) => {
                let index: usize = name
                    .strip_prefix('$')
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| syntax(format!("syntax error at or near \"{name}\"")))?;
                if index > 65535 {
                    return Err(syntax(format!("parameter number {index} is too large")));
                }
                if self.params.len() < index {
                    self.params.resize(index, None);
                }
                let data_type = self.params[index - 1];
                Typed {
                    expr: Expr::Parameter(index - 1),
                    data_type,
                }
            }
            other => return Err(Error::Unsupported(format!("literal {other}"))),
        })
    }
}

fn expr_value(
    expr: &Expr,
    to: DataType,
    explicit: bool,
    time: &crate::sql::datetime::TimeContext,
) -> Result<Value> {
    match expr {
        Expr::Literal(value) if explicit => {
            crate::sql::expr::cast::cast_explicit_in(value.clone(), to, Some(time))
        }
        Expr::Literal(value) => crate::sql::expr::cast_in(value.clone(), to, Some(time)),
        _ => Err(Error::Internal("folding a non-literal".into())),
    }
}

fn negate_literal(value: &Value) -> Option<Value> {
    Some(match value {
        Value::Integer(v) => Value::Integer(v.checked_neg()?),
        Value::BigInt(v) => match v.checked_neg() {
            Some(n) => i32::try_from(n)
                .map(Value::Integer)
                .unwrap_or(Value::BigInt(n)),
            None => return None,
        },
        Value::Double(v) => Value::Double(-v),
        // PostgreSQL negates the literal's text, so -9223372036854775808
        // reads as a bigint.
        Value::Numeric(v) => match v.neg().as_exact_i64() {
            Some(i64::MIN) if v.scale() == 0 => Value::BigInt(i64::MIN),
            _ => Value::Numeric(v.neg()),
        },
        _ => return None,
    })
}

/// A numeric literal, typed as PostgreSQL types it: integer if it is
/// digits that fit int4, then int8, else numeric (`1.5`, `1e3`).
fn number_literal(text: &str) -> Result<Value> {
    if text.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(v) = text.parse::<i32>() {
            return Ok(Value::Integer(v));
        }
        if let Ok(v) = text.parse::<i64>() {
            return Ok(Value::BigInt(v));
        }
    }
    match text.parse::<Numeric>() {
        Ok(number) if number.is_finite() => Ok(Value::Numeric(number)),
        Err(error) if error.sqlstate() == SqlState::NUMERIC_VALUE_OUT_OF_RANGE => Err(error),
        _ => Err(syntax(format!("invalid number \"{text}\""))),
    }
}

/// `NOT typed` when `negated`.
fn negate_if(typed: Typed, negated: bool) -> Typed {
    if negated {
        Typed {
            expr: Expr::Not(Box::new(typed.expr)),
            data_type: Some(DataType::Boolean),
        }
    } else {
        typed
    }
}

/// The comparison a sqlparser operator names.
fn comparison_op(op: &BinaryOperator) -> Option<BinaryOp> {
    Some(match op {
        BinaryOperator::Eq => BinaryOp::Equal,
        BinaryOperator::NotEq => BinaryOp::NotEqual,
        BinaryOperator::Lt => BinaryOp::Less,
        BinaryOperator::LtEq => BinaryOp::LessOrEqual,
        BinaryOperator::Gt => BinaryOp::Greater,
        BinaryOperator::GtEq => BinaryOp::GreaterOrEqual,
        _ => return None,
    })
}
