//! The string functions, evaluated as PostgreSQL evaluates them: positions
//! and lengths count characters (not bytes) and are 1-based, a position
//! before the start clips rather than fails, and NULL in gives NULL out
//! (except `concat` and `concat_ws`, which skip NULL values).

use super::StringFunction;
use crate::error::{Error, Result, SqlState};
use crate::sql::types::Value;

fn text(value: &Value) -> Result<&str> {
    match value {
        Value::Text(text) => Ok(text),
        other => Err(Error::Internal(format!(
            "a string function got {:?}",
            other.data_type()
        ))),
    }
}

fn integer(value: &Value) -> Result<i64> {
    match value {
        Value::SmallInt(n) => Ok(*n as i64),
        Value::Integer(n) => Ok(*n as i64),
        Value::BigInt(n) => Ok(*n),
        other => Err(Error::Internal(format!(
            "a string function got {:?}",
            other.data_type()
        ))),
    }
}

fn out(text: String) -> Value {
    Value::Text(text.into())
}

/// The characters of `text` from 1-based position `start`, `count` of
/// them (`None`: to the end); positions before 1 are counted but clipped.
fn substring(text: &str, start: i64, count: Option<i64>) -> Result<String> {
    let end = match count {
        Some(count) if count < 0 => {
            return Err(Error::sql(
                SqlState::SUBSTRING_ERROR,
                "negative substring length not allowed",
            ));
        }
        Some(count) => start.saturating_add(count),
        None => i64::MAX,
    };
    let first = start.max(1);
    if end <= first {
        return Ok(String::new());
    }
    Ok(text
        .chars()
        .skip(usize::try_from(first - 1).unwrap_or(usize::MAX))
        .take(usize::try_from(end - first).unwrap_or(usize::MAX))
        .collect())
}

/// The 1-based character position of `needle` in `haystack`, 0 if absent.
fn position(haystack: &str, needle: &str) -> i32 {
    match haystack.find(needle) {
        Some(byte) => haystack[..byte].chars().count() as i32 + 1,
        None => 0,
    }
}

/// Pads `text` to `length` characters with `fill` on the left (or right),
/// or cuts it to that length.
fn pad(text: &str, length: i64, fill: &str, left: bool) -> Result<String> {
    if length <= 0 {
        return Ok(String::new());
    }
    // PostgreSQL's check: four bytes a character, within a 1 GB value.
    if length.saturating_mul(4).saturating_add(4) > MAX_VALUE_BYTES {
        return Err(too_long());
    }
    let length = length as usize;
    let chars = text.chars().count();
    if chars >= length || fill.is_empty() {
        return Ok(text.chars().take(length).collect());
    }
    let padding: String = fill.chars().cycle().take(length - chars).collect();
    Ok(if left {
        padding + text
    } else {
        text.to_string() + &padding
    })
}

/// The largest value PostgreSQL allocates (`MaxAllocSize`).
const MAX_VALUE_BYTES: i64 = 1_073_741_823;

fn too_long() -> Error {
    Error::sql(
        SqlState::PROGRAM_LIMIT_EXCEEDED,
        "requested length too large",
    )
}

/// Which ends `trim` works on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrimSide {
    Both,
    Leading,
    Trailing,
}

fn trim(text: &str, characters: &str, side: TrimSide) -> String {
    let set = |c: char| characters.contains(c);
    match side {
        TrimSide::Both => text.trim_matches(set),
        TrimSide::Leading => text.trim_start_matches(set),
        TrimSide::Trailing => text.trim_end_matches(set),
    }
    .to_string()
}

/// A character's lower-case form, one character for one, as PostgreSQL
/// maps case under a UTF-8 `LC_CTYPE` (`towlower`): no final sigma, and a
/// character whose mapping would be several is left as it is.
fn lower_char(c: char) -> char {
    let mut mapped = c.to_lowercase();
    match (mapped.next(), mapped.next()) {
        (Some(single), None) => single,
        _ => c,
    }
}

/// A character's upper-case form, one for one (`ß` stays `ß`).
fn upper_char(c: char) -> char {
    let mut mapped = c.to_uppercase();
    match (mapped.next(), mapped.next()) {
        (Some(single), None) => single,
        _ => c,
    }
}

/// `lower(text)`.
pub fn lower(text: &str) -> String {
    text.chars().map(lower_char).collect()
}

/// `upper(text)`.
pub fn upper(text: &str) -> String {
    text.chars().map(upper_char).collect()
}

/// PostgreSQL's `initcap`: the first letter or digit of each run of
/// letters and digits upper case, the rest lower case.
fn initcap(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_word = false;
    for c in text.chars() {
        out.push(if in_word {
            lower_char(c)
        } else {
            upper_char(c)
        });
        in_word = c.is_alphanumeric();
    }
    out
}

fn split_part(text: &str, delimiter: &str, field: i64) -> Result<String> {
    if field == 0 {
        return Err(Error::sql(
            SqlState::INVALID_PARAMETER_VALUE,
            "field position must not be zero",
        ));
    }
    let parts: Vec<&str> = if delimiter.is_empty() {
        vec![text]
    } else {
        text.split(delimiter).collect()
    };
    let index = if field > 0 {
        field - 1
    } else {
        parts.len() as i64 + field
    };
    Ok(usize::try_from(index)
        .ok()
        .and_then(|index| parts.get(index))
        .map_or_else(String::new, |part| part.to_string()))
}

/// `left(text, n)` (or `right`): the first n characters, or all but the
/// last -n.
fn take_end(text: &str, n: i64, from_left: bool) -> String {
    let chars = text.chars().count() as i64;
    let keep = if n >= 0 {
        n.min(chars)
    } else {
        (chars + n).max(0)
    } as usize;
    if from_left {
        text.chars().take(keep).collect()
    } else {
        text.chars().skip(chars as usize - keep).collect()
    }
}

fn chr(code: i64) -> Result<String> {
    let limit = || {
        Error::sql(
            SqlState::PROGRAM_LIMIT_EXCEEDED,
            format!("requested character too large for encoding: {code}"),
        )
    };
    if code == 0 {
        return Err(Error::sql(
            SqlState::PROGRAM_LIMIT_EXCEEDED,
            "null character not permitted",
        ));
    }
    if code < 0 {
        return Err(Error::sql(
            SqlState::INVALID_PARAMETER_VALUE,
            "character number must be positive",
        ));
    }
    let code = u32::try_from(code).map_err(|_| limit())?;
    char::from_u32(code).map(String::from).ok_or_else(|| {
        if (0xD800..0xE000).contains(&code) {
            Error::sql(
                SqlState::PROGRAM_LIMIT_EXCEEDED,
                format!("requested character not valid for encoding: {code}"),
            )
        } else {
            limit()
        }
    })
}

/// `repeat(text, n)`, within PostgreSQL's 1 GB value limit.
fn repeat(text: &str, count: i64) -> Result<String> {
    if count <= 0 || text.is_empty() {
        return Ok(String::new());
    }
    let bytes = (text.len() as i64).saturating_mul(count).saturating_add(4);
    if bytes > MAX_VALUE_BYTES {
        return Err(too_long());
    }
    Ok(text.repeat(count as usize))
}

/// Evaluates a string function.
pub fn call(function: StringFunction, args: &[Value]) -> Result<Value> {
    match function {
        StringFunction::Concat => {
            let parts: Vec<String> = args.iter().filter_map(Value::to_text).collect();
            return Ok(out(parts.concat()));
        }
        StringFunction::ConcatWs => {
            let Some((separator, values)) = args.split_first() else {
                return Err(Error::Internal("concat_ws without a separator".into()));
            };
            if separator.is_null() {
                return Ok(Value::Null);
            }
            let parts: Vec<String> = values.iter().filter_map(Value::to_text).collect();
            return Ok(out(parts.join(text(separator)?)));
        }
        _ => {}
    }
    if args.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    Ok(match function {
        StringFunction::Substr => {
            let count = args.get(2).map(integer).transpose()?;
            out(substring(text(&args[0])?, integer(&args[1])?, count)?)
        }
        StringFunction::StrPos => Value::Integer(position(text(&args[0])?, text(&args[1])?)),
        StringFunction::Replace => {
            let (source, from, to) = (text(&args[0])?, text(&args[1])?, text(&args[2])?);
            if from.is_empty() {
                out(source.to_string())
            } else {
                out(source.replace(from, to))
            }
        }
        StringFunction::SplitPart => out(split_part(
            text(&args[0])?,
            text(&args[1])?,
            integer(&args[2])?,
        )?),
        StringFunction::Trim(side) => {
            let characters = match args.get(1) {
                Some(characters) => text(characters)?,
                None => " ",
            };
            out(trim(text(&args[0])?, characters, side))
        }
        StringFunction::Lpad | StringFunction::Rpad => {
            let fill = match args.get(2) {
                Some(fill) => text(fill)?,
                None => " ",
            };
            out(pad(
                text(&args[0])?,
                integer(&args[1])?,
                fill,
                function == StringFunction::Lpad,
            )?)
        }
        StringFunction::Left => out(take_end(text(&args[0])?, integer(&args[1])?, true)),
        StringFunction::Right => out(take_end(text(&args[0])?, integer(&args[1])?, false)),
        StringFunction::Repeat => out(repeat(text(&args[0])?, integer(&args[1])?)?),
        StringFunction::Reverse => out(text(&args[0])?.chars().rev().collect()),
        StringFunction::Initcap => out(initcap(text(&args[0])?)),
        StringFunction::Md5 => out(super::md5::hex_digest(text(&args[0])?.as_bytes())),
        StringFunction::Chr => out(chr(integer(&args[0])?)?),
        StringFunction::Ascii => {
            Value::Integer(text(&args[0])?.chars().next().map_or(0, |c| c as i32))
        }
        // A negative number shows its two's complement in its type's
        // width, as PostgreSQL's to_hex(integer) and to_hex(bigint) do.
        StringFunction::ToHex => out(format!("{:x}", integer(&args[0])? as i32 as u32)),
        StringFunction::ToHex64 => out(format!("{:x}", integer(&args[0])? as u64)),
        StringFunction::StartsWith => Value::Boolean(text(&args[0])?.starts_with(text(&args[1])?)),
        StringFunction::Concat | StringFunction::ConcatWs => {
            return Err(Error::Internal("concat handled above".into()));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substrings_count_characters_and_clip_before_the_start() {
        assert_eq!(substring("héllo", 2, Some(3)).expect("valid"), "éll");
        assert_eq!(substring("hello", -1, Some(4)).expect("valid"), "he");
        assert_eq!(substring("hello", 0, None).expect("valid"), "hello");
        assert_eq!(substring("hello", 9, Some(2)).expect("valid"), "");
        assert!(substring("hello", 1, Some(-1)).is_err());
        assert_eq!(position("日本語", "語"), 3);
        assert_eq!(position("abc", ""), 1);
        assert_eq!(position("abc", "z"), 0);
    }

    #[test]
    fn padding_trimming_and_parts_follow_postgres() {
        assert_eq!(pad("hi", 5, "xy", true).expect("valid"), "xyxhi");
        assert_eq!(pad("hello", 3, "x", false).expect("valid"), "hel");
        assert_eq!(pad("hi", 5, "", true).expect("valid"), "hi");
        assert_eq!(pad("hi", -1, "x", true).expect("valid"), "");
        assert!(pad("x", 300_000_000, "é", true).is_err());
        assert_eq!(lower("ΣΑΣ"), "σασ");
        assert_eq!(upper("straße"), "STRAßE");
        assert_eq!(trim("xxhixx", "x", TrimSide::Leading), "hixx");
        assert_eq!(
            initcap("hello wORLD-foo bar_baz 3rd"),
            "Hello World-Foo Bar_Baz 3rd"
        );
        assert_eq!(split_part("a,b,c", ",", -1).expect("valid"), "c");
        assert_eq!(split_part("a,b,c", ",", 4).expect("valid"), "");
        assert!(split_part("a,b,c", ",", 0).is_err());
        assert_eq!(take_end("hello", -2, true), "hel");
        assert_eq!(take_end("hello", -2, false), "llo");
        assert_eq!(take_end("hello", 9, false), "hello");
    }

    #[test]
    fn characters_by_number() {
        assert_eq!(chr(8364).expect("valid"), "€");
        assert!(chr(0).is_err());
        assert!(chr(0x110000).is_err());
    }
}
