//! A sequence's definition: its catalog entry, and the options of `CREATE
//! SEQUENCE`, `ALTER SEQUENCE` and identity columns checked as
//! PostgreSQL's `init_params` checks them.
//!
//! Encoding (catalog tag `4`, little-endian, strings a `u32` length +
//! UTF-8): name, `u64` id, `u64` tree id, `u8` type tag (1 smallint, 2 integer, 3
//! bigint, the catalog's column tags), `i64` increment, minimum, maximum,
//! start and cache, `u8` cycle, then `u8` has owner and, if it has, the
//! owning table's and column's names.

use sqlparser::ast;

use crate::error::{Error, Result, SqlState};
use crate::sql::encoding::Reader;
use crate::sql::types::DataType;
use crate::storage::TreeId;

/// The column whose table a sequence goes with (`OWNED BY`, SERIAL and
/// identity columns): dropping the table drops the sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SequenceOwner {
    pub table: String,
    pub column: String,
}

/// A sequence's definition. Invariants: `data_type` is smallint, integer
/// or bigint; `min < max`, both within the type; `min <= start <= max`;
/// `increment != 0`; `cache > 0`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sequence {
    pub name: String,
    /// What identifies the sequence for its life (`currval` remembers
    /// values by it): the id of its first tree.
    pub id: u64,
    /// The tree holding the sequence's position (`generator.rs`). A
    /// restart moves the sequence to a new tree, inside its transaction.
    pub tree: TreeId,
    pub data_type: DataType,
    pub increment: i64,
    pub min: i64,
    pub max: i64,
    pub start: i64,
    /// Accepted and shown, but values are not preallocated per session:
    /// every session draws from one shared position.
    pub cache: i64,
    pub cycle: bool,
    pub owner: Option<SequenceOwner>,
}

/// What an `ALTER SEQUENCE` asks beyond new options.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Restart {
    /// `RESTART [WITH n]`: `Some(None)` restarts at the start value.
    pub restart: Option<Option<i64>>,
}

/// The smallest and largest value of a sequence type.
fn type_range(data_type: DataType) -> (i64, i64) {
    match data_type {
        DataType::SmallInt => (i16::MIN as i64, i16::MAX as i64),
        DataType::Integer => (i32::MIN as i64, i32::MAX as i64),
        _ => (i64::MIN, i64::MAX),
    }
}

fn invalid(message: String) -> Error {
    Error::sql(SqlState::INVALID_PARAMETER_VALUE, message)
}

/// An option's number: an integer literal, possibly negated.
pub fn option_integer(expr: &ast::Expr) -> Result<i64> {
    let (negative, inner) = match expr {
        ast::Expr::UnaryOp {
            op: ast::UnaryOperator::Minus,
            expr,
        } => (true, expr.as_ref()),
        ast::Expr::UnaryOp {
            op: ast::UnaryOperator::Plus,
            expr,
        } => (false, expr.as_ref()),
        other => (false, other),
    };
    let ast::Expr::Value(value) = inner else {
        return Err(Error::sql(
            SqlState::SYNTAX_ERROR,
            format!("syntax error at or near \"{inner}\""),
        ));
    };
    let ast::Value::Number(text, _) = &value.value else {
        return Err(Error::sql(
            SqlState::SYNTAX_ERROR,
            format!("syntax error at or near \"{value}\""),
        ));
    };
    let signed = if negative {
        format!("-{text}")
    } else {
        text.clone()
    };
    signed.parse::<i64>().map_err(|_| {
        if text.bytes().all(|b| b.is_ascii_digit()) {
            Error::sql(
                SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                format!("value \"{signed}\" is out of range for type bigint"),
            )
        } else {
            Error::sql(
                SqlState::INVALID_TEXT_REPRESENTATION,
                format!("invalid input syntax for type bigint: \"{signed}\""),
            )
        }
    })
}

/// The type named by `AS`: smallint, integer or bigint.
pub fn sequence_type(data_type: &ast::DataType) -> Result<DataType> {
    let bound = crate::sql::binder::bind_data_type(data_type);
    match bound {
        Ok(t @ (DataType::SmallInt | DataType::Integer | DataType::BigInt)) => Ok(t),
        _ => Err(invalid(
            "sequence type must be smallint, integer, or bigint".into(),
        )),
    }
}

impl Sequence {
    /// A new sequence of `data_type` with `options` (tree 0 until created).
    /// The identity column of a table passes its column's type.
    pub fn new(
        name: String,
        data_type: DataType,
        options: &[ast::SequenceOptions],
    ) -> Result<(Sequence, Option<Option<ast::ObjectName>>)> {
        let mut sequence = Sequence {
            name,
            id: 0,
            tree: 0,
            data_type,
            increment: 1,
            min: 1,
            max: i64::MAX,
            start: 1,
            cache: 1,
            cycle: false,
            owner: None,
        };
        let owned = sequence.apply(options, true)?;
        Ok((sequence, owned))
    }

    /// Applies `ALTER SEQUENCE` options to this definition. `last` is the
    /// sequence's current value, checked against new bounds as PostgreSQL
    /// checks it; the value to restart at, if any, is returned with the
    /// `OWNED BY` change.
    pub fn alter(
        &mut self,
        options: &[ast::SequenceOptions],
        restart: &Restart,
        last: i64,
    ) -> Result<(Option<i64>, Option<Option<ast::ObjectName>>)> {
        let owned = self.apply(options, false)?;
        let restart_at = restart.restart.map(|value| value.unwrap_or(self.start));
        let check = restart_at.unwrap_or(last);
        if check < self.min {
            return Err(invalid(format!(
                "RESTART value ({check}) cannot be less than MINVALUE ({})",
                self.min
            )));
        }
        if check > self.max {
            return Err(invalid(format!(
                "RESTART value ({check}) cannot be greater than MAXVALUE ({})",
                self.max
            )));
        }
        Ok((restart_at, owned))
    }

    /// `init_params`: the options in PostgreSQL's order of checks.
    fn apply(
        &mut self,
        options: &[ast::SequenceOptions],
        creating: bool,
    ) -> Result<Option<Option<ast::ObjectName>>> {
        let mut data_type = None;
        let (mut increment, mut min, mut max, mut start, mut cache, mut cycle, mut owned) =
            (None, None, None, None, None, None, None);
        for option in options {
            match option {
                ast::SequenceOptions::DataType(t) => data_type = Some(sequence_type(t)?),
                ast::SequenceOptions::IncrementBy(value, _) => {
                    increment = Some(option_integer(value)?)
                }
                ast::SequenceOptions::MinValue(value) => {
                    min = Some(value.as_ref().map(option_integer).transpose()?)
                }
                ast::SequenceOptions::MaxValue(value) => {
                    max = Some(value.as_ref().map(option_integer).transpose()?)
                }
                ast::SequenceOptions::StartWith(value, _) => start = Some(option_integer(value)?),
                ast::SequenceOptions::Cache(value) => cache = Some(option_integer(value)?),
                // sqlparser's flag is true for NO CYCLE.
                ast::SequenceOptions::Cycle(no) => cycle = Some(!no),
                ast::SequenceOptions::OwnedBy(owner) => owned = Some(owner.clone()),
            }
        }
        let old_type = self.data_type;
        let (old_min, old_max) = type_range(old_type);
        // A bound left at the old type's limit follows a change of type.
        let mut reset_max = creating;
        let mut reset_min = creating;
        if let Some(new_type) = data_type {
            if !creating && new_type != old_type {
                reset_max |= self.increment > 0 && self.max == old_max;
                reset_min |= self.increment < 0 && self.min == old_min;
            }
            self.data_type = new_type;
        }
        if let Some(increment) = increment {
            if increment == 0 {
                return Err(invalid("INCREMENT must not be zero".into()));
            }
            self.increment = increment;
        }
        if let Some(cycle) = cycle {
            self.cycle = cycle;
        }
        let (type_min, type_max) = type_range(self.data_type);
        let type_name = self.data_type.name();
        match max {
            Some(Some(value)) => {
                self.max = value;
                reset_max = false;
            }
            Some(None) => reset_max = true,
            None => {}
        }
        if reset_max {
            self.max = if self.increment > 0 { type_max } else { -1 };
        }
        if self.max < type_min || self.max > type_max {
            return Err(invalid(format!(
                "MAXVALUE ({}) is out of range for sequence data type {type_name}",
                self.max
            )));
        }
        match min {
            Some(Some(value)) => {
                self.min = value;
                reset_min = false;
            }
            Some(None) => reset_min = true,
            None => {}
        }
        if reset_min {
            self.min = if self.increment > 0 { 1 } else { type_min };
        }
        if self.min < type_min || self.min > type_max {
            return Err(invalid(format!(
                "MINVALUE ({}) is out of range for sequence data type {type_name}",
                self.min
            )));
        }
        if self.min >= self.max {
            return Err(invalid(format!(
                "MINVALUE ({}) must be less than MAXVALUE ({})",
                self.min, self.max
            )));
        }
        match start {
            Some(value) => self.start = value,
            None if creating => {
                self.start = if self.increment > 0 {
                    self.min
                } else {
                    self.max
                }
            }
            None => {}
        }
        if self.start < self.min {
            return Err(invalid(format!(
                "START value ({}) cannot be less than MINVALUE ({})",
                self.start, self.min
            )));
        }
        if self.start > self.max {
            return Err(invalid(format!(
                "START value ({}) cannot be greater than MAXVALUE ({})",
                self.start, self.max
            )));
        }
        if let Some(cache) = cache {
            if cache <= 0 {
                return Err(invalid(format!(
                    "CACHE ({cache}) must be greater than zero"
                )));
            }
            self.cache = cache;
        }
        Ok(owned)
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = vec![4u8];
        put_string(&mut out, &self.name);
        out.extend_from_slice(&self.id.to_le_bytes());
        out.extend_from_slice(&self.tree.to_le_bytes());
        out.push(match self.data_type {
            DataType::SmallInt => 1,
            DataType::Integer => 2,
            _ => 3,
        });
        for value in [self.increment, self.min, self.max, self.start, self.cache] {
            out.extend_from_slice(&value.to_le_bytes());
        }
        out.push(self.cycle as u8);
        match &self.owner {
            Some(owner) => {
                out.push(1);
                put_string(&mut out, &owner.table);
                put_string(&mut out, &owner.column);
            }
            None => out.push(0),
        }
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Sequence> {
        let mut reader = Reader::new(bytes, "sequence entry");
        if reader.u8()? != 4 {
            return Err(Error::Corrupt("a sequence entry without its tag".into()));
        }
        let name = reader.string()?;
        let id = reader.u64()?;
        let tree = reader.u64()?;
        let data_type = match reader.u8()? {
            1 => DataType::SmallInt,
            2 => DataType::Integer,
            3 => DataType::BigInt,
            other => {
                return Err(Error::Corrupt(format!("sequence type tag {other}")));
            }
        };
        let mut numbers = [0i64; 5];
        for number in &mut numbers {
            *number = i64::from_le_bytes(reader.array()?);
        }
        let [increment, min, max, start, cache] = numbers;
        let cycle = reader.u8()? != 0;
        let owner = if reader.u8()? != 0 {
            Some(SequenceOwner {
                table: reader.string()?,
                column: reader.string()?,
            })
        } else {
            None
        };
        if !reader.is_empty() {
            return Err(Error::Corrupt("trailing bytes in a sequence entry".into()));
        }
        if increment == 0 || min >= max || start < min || start > max || cache <= 0 {
            return Err(Error::Corrupt(format!(
                "sequence \"{name}\" has inconsistent bounds"
            )));
        }
        Ok(Sequence {
            name,
            id,
            tree,
            data_type,
            increment,
            min,
            max,
            start,
            cache,
            cycle,
            owner,
        })
    }
}

fn put_string(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(sql: &str) -> Vec<ast::SequenceOptions> {
        let statement = crate::sql::parser::parse(&format!("CREATE SEQUENCE s {sql}"))
            .expect("parses")
            .remove(0);
        match statement.sql() {
            Some(ast::Statement::CreateSequence {
                sequence_options, ..
            }) => sequence_options.clone(),
            other => panic!("not a sequence: {other:?}"),
        }
    }

    fn create(sql: &str) -> Result<Sequence> {
        Sequence::new("s".into(), DataType::BigInt, &options(sql)).map(|(s, _)| s)
    }

    #[test]
    fn defaults_follow_the_direction_and_type() {
        let up = create("").expect("valid");
        assert_eq!((up.min, up.max, up.start), (1, i64::MAX, 1));
        let down = create("INCREMENT BY -2").expect("valid");
        assert_eq!((down.min, down.max, down.start), (i64::MIN, -1, -1));
        let small = create("AS smallint").expect("valid");
        assert_eq!(small.max, 32767);
    }

    #[test]
    fn bad_options_are_refused_with_postgres_messages() {
        let message = |sql: &str| create(sql).expect_err("invalid").to_string();
        assert_eq!(message("INCREMENT 0"), "INCREMENT must not be zero");
        assert_eq!(
            message("MINVALUE 5 MAXVALUE 5"),
            "MINVALUE (5) must be less than MAXVALUE (5)"
        );
        assert_eq!(
            message("START 0"),
            "START value (0) cannot be less than MINVALUE (1)"
        );
        assert_eq!(
            message("AS integer MAXVALUE 3000000000"),
            "MAXVALUE (3000000000) is out of range for sequence data type integer"
        );
        assert_eq!(message("CACHE 0"), "CACHE (0) must be greater than zero");
        assert_eq!(
            message("AS text"),
            "sequence type must be smallint, integer, or bigint"
        );
    }

    #[test]
    fn a_type_change_moves_a_bound_left_at_the_old_limit() {
        let mut sequence = create("AS smallint").expect("valid");
        sequence
            .alter(&options("AS integer"), &Restart::default(), 1)
            .expect("valid");
        assert_eq!(sequence.max, i32::MAX as i64);
    }

    #[test]
    fn entries_round_trip_and_reject_corruption() {
        let mut sequence = create("INCREMENT -3 MINVALUE -100 CYCLE CACHE 20").expect("valid");
        sequence.id = 70;
        sequence.tree = 77;
        sequence.owner = Some(SequenceOwner {
            table: "t".into(),
            column: "id".into(),
        });
        let bytes = sequence.encode();
        assert_eq!(Sequence::decode(&bytes).expect("decodes"), sequence);
        assert!(Sequence::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut bad = bytes.clone();
        bad.push(0);
        assert!(Sequence::decode(&bad).is_err());
    }
}
