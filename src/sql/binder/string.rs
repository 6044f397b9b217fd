//! String-function binding: each function's signatures, as PostgreSQL
//! declares them (text arguments accept text, varchar, char(n) without its
//! padding and unknown literals; integer arguments accept smallint and
//! integer), and the SQL-standard forms `substring(x FROM a FOR b)`,
//! `position(a IN b)` and `trim([LEADING | TRAILING | BOTH] [c] FROM x)`.
//! A call no signature accepts is 42883, naming the argument types.

use sqlparser::ast;

use super::Binder;
use super::expr::{Typed, char_as_text};
use crate::error::{Error, Result, SqlState};
use crate::sql::expr::{Expr, Function, StringFunction, TrimSide};
use crate::sql::types::DataType;

/// What an argument position takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Integer,
    /// An integer of any width, kept as it is (`to_hex`).
    AnyInteger,
}

use Kind::{AnyInteger, Integer, Text};

/// The function a name calls and the argument lists it accepts (`None`
/// for `concat`'s and `concat_ws`'s any number of any type).
fn signatures(name: &str) -> Option<(StringFunction, Option<&'static [&'static [Kind]]>)> {
    Some(match name {
        "substr" => (
            StringFunction::Substr,
            Some(&[&[Text, Integer], &[Text, Integer, Integer]]),
        ),
        "strpos" => (StringFunction::StrPos, Some(&[&[Text, Text]])),
        "replace" => (StringFunction::Replace, Some(&[&[Text, Text, Text]])),
        "split_part" => (StringFunction::SplitPart, Some(&[&[Text, Text, Integer]])),
        "btrim" => (
            StringFunction::Trim(TrimSide::Both),
            Some(&[&[Text], &[Text, Text]]),
        ),
        "ltrim" => (
            StringFunction::Trim(TrimSide::Leading),
            Some(&[&[Text], &[Text, Text]]),
        ),
        "rtrim" => (
            StringFunction::Trim(TrimSide::Trailing),
            Some(&[&[Text], &[Text, Text]]),
        ),
        "lpad" => (
            StringFunction::Lpad,
            Some(&[&[Text, Integer], &[Text, Integer, Text]]),
        ),
        "rpad" => (
            StringFunction::Rpad,
            Some(&[&[Text, Integer], &[Text, Integer, Text]]),
        ),
        "left" => (StringFunction::Left, Some(&[&[Text, Integer]])),
        "right" => (StringFunction::Right, Some(&[&[Text, Integer]])),
        "repeat" => (StringFunction::Repeat, Some(&[&[Text, Integer]])),
        "reverse" => (StringFunction::Reverse, Some(&[&[Text]])),
        "initcap" => (StringFunction::Initcap, Some(&[&[Text]])),
        "md5" => (StringFunction::Md5, Some(&[&[Text]])),
        "chr" => (StringFunction::Chr, Some(&[&[Integer]])),
        "ascii" => (StringFunction::Ascii, Some(&[&[Text]])),
        "to_hex" => (StringFunction::ToHex, Some(&[&[AnyInteger]])),
        "starts_with" => (StringFunction::StartsWith, Some(&[&[Text, Text]])),
        "concat" => (StringFunction::Concat, None),
        "concat_ws" => (StringFunction::ConcatWs, None),
        _ => return None,
    })
}

/// Whether `name` is a string function's.
pub(super) fn is_string_function(name: &str) -> bool {
    signatures(name).is_some()
}

/// Whether an argument of type `data_type` (`None`: an unknown literal)
/// fits `kind`.
fn fits(kind: Kind, data_type: Option<DataType>) -> bool {
    match (kind, data_type) {
        (_, None) => true,
        (Text, Some(t)) => t.is_text(),
        (Integer, Some(t)) => matches!(t, DataType::SmallInt | DataType::Integer),
        (AnyInteger, Some(t)) => t.is_integer(),
    }
}

impl Binder<'_> {
    /// Binds a call of string function `name`; `None` if it is not one.
    pub(crate) fn bind_string_function(
        &mut self,
        name: &str,
        args: Vec<Typed>,
    ) -> Result<Option<Typed>> {
        self.bind_string_function_as(name, name, args)
    }

    /// [`Binder::bind_string_function`], its errors naming the function
    /// `shown` (`pg_catalog.substring` for the SQL-syntax forms).
    fn bind_string_function_as(
        &mut self,
        name: &str,
        shown: &str,
        args: Vec<Typed>,
    ) -> Result<Option<Typed>> {
        let Some((function, signatures)) = signatures(name) else {
            return Ok(None);
        };
        let types: Vec<Option<DataType>> = args.iter().map(|arg| arg.data_type).collect();
        let no_function = || super::function::no_such_function(shown, &types);
        if function == StringFunction::ToHex && types == [None] {
            return Err(Error::sql(
                SqlState::AMBIGUOUS_FUNCTION,
                "function to_hex(unknown) is not unique",
            ));
        }
        let args = match signatures {
            None => {
                let first_is_text = types.first().is_some_and(|t| fits(Text, *t));
                let too_few = match function {
                    StringFunction::ConcatWs => args.len() < 2 || !first_is_text,
                    _ => args.is_empty(),
                };
                if too_few {
                    return Err(no_function());
                }
                args.into_iter()
                    .map(|arg| self.concat_argument(arg))
                    .collect::<Result<Vec<_>>>()?
            }
            Some(signatures) => {
                let Some(kinds) = signatures.iter().find(|kinds| {
                    kinds.len() == types.len()
                        && kinds.iter().zip(&types).all(|(kind, t)| fits(*kind, *t))
                }) else {
                    return Err(no_function());
                };
                let mut bound = Vec::with_capacity(args.len());
                for (arg, kind) in args.into_iter().zip(kinds.iter()) {
                    bound.push(match kind {
                        Text => self.coerce_text(arg, name)?,
                        Integer => self.coerce(arg, DataType::Integer)?,
                        AnyInteger => match arg.data_type {
                            Some(_) => arg.expr,
                            None => self.coerce(arg, DataType::Integer)?,
                        },
                    });
                }
                bound
            }
        };
        // The argument's width decides how a negative number shows.
        let function = match (function, types.first()) {
            (StringFunction::ToHex, Some(Some(DataType::BigInt))) => StringFunction::ToHex64,
            (function, _) => function,
        };
        let data_type = match function {
            StringFunction::StrPos | StringFunction::Ascii => DataType::Integer,
            StringFunction::StartsWith => DataType::Boolean,
            _ => DataType::Text,
        };
        Ok(Some(Typed {
            expr: Expr::Function {
                function: Function::String(function),
                args,
            },
            data_type: Some(data_type),
        }))
    }

    /// An argument of `concat`: printed by its type's output function when
    /// evaluated (`t` for true, unlike a cast to text), so only char(n)
    /// loses its padding here and a timestamptz is printed here, in the
    /// session's zone.
    fn concat_argument(&mut self, arg: Typed) -> Result<Expr> {
        let arg = char_as_text(arg);
        Ok(match arg.data_type {
            None => self.coerce(arg, DataType::Text)?,
            Some(DataType::Timestamptz(_)) => Expr::Cast {
                expr: Box::new(arg.expr),
                to: DataType::Text,
                explicit: true,
            },
            Some(_) => arg.expr,
        })
    }

    /// `substring(x [FROM a] [FOR b])` and `substr(x, a [, b])`
    /// (`shorthand`), as sqlparser gives them both. Only `substring` has
    /// the regular-expression form a text `FROM` selects.
    pub(crate) fn bind_substring(
        &mut self,
        shorthand: bool,
        value: Typed,
        from: Option<Typed>,
        count: Option<Typed>,
    ) -> Result<Typed> {
        let shown = if shorthand {
            "substr"
        } else {
            "pg_catalog.substring"
        };
        if !shorthand
            && from.as_ref().is_some_and(|from| {
                from.data_type.is_some_and(|t| t.is_text())
                    || matches!(from.expr, Expr::Literal(crate::sql::types::Value::Text(_)))
            })
        {
            return Err(Error::Unsupported(
                "substring with a regular expression".into(),
            ));
        }
        let mut args = vec![value];
        match (from, shorthand) {
            (Some(from), _) => args.push(from),
            (None, true) => {}
            (None, false) => args.push(Typed {
                expr: Expr::Literal(crate::sql::types::Value::Integer(1)),
                data_type: Some(DataType::Integer),
            }),
        }
        args.extend(count);
        self.bind_string_function_as("substr", shown, args)?
            .ok_or_else(|| Error::Internal("substr is a string function".into()))
    }

    /// `position(needle IN haystack)`.
    pub(crate) fn bind_position(&mut self, needle: Typed, haystack: Typed) -> Result<Typed> {
        self.bind_string_function_as("strpos", "pg_catalog.position", vec![haystack, needle])?
            .ok_or_else(|| Error::Internal("strpos is a string function".into()))
    }

    /// `trim([LEADING | TRAILING | BOTH] [characters] FROM value)`.
    pub(crate) fn bind_trim(
        &mut self,
        side: Option<&ast::TrimWhereField>,
        value: Typed,
        characters: Option<Typed>,
    ) -> Result<Typed> {
        let name = match side {
            None | Some(ast::TrimWhereField::Both) => "btrim",
            Some(ast::TrimWhereField::Leading) => "ltrim",
            Some(ast::TrimWhereField::Trailing) => "rtrim",
        };
        let mut args = vec![value];
        args.extend(characters);
        let shown = format!("pg_catalog.{name}");
        self.bind_string_function_as(name, &shown, args)?
            .ok_or_else(|| Error::Internal("trim is a string function".into()))
    }
}
