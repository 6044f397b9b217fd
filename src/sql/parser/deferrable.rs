//! `[NOT] DEFERRABLE`, the one transaction mode the SQL parser does not
//! know: it is cut out of the text before parsing and handed on beside the
//! parsed statement.
//!
//! ```text
//!   "BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY, DEFERRABLE; SELECT 1"
//!        tokens ─► statements split at `;` ─► in a BEGIN / START TRANSACTION /
//!        SET TRANSACTION / SET SESSION CHARACTERISTICS AS TRANSACTION,
//!        the words `[NOT] DEFERRABLE` and one comma beside them are cut
//!   "BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY ; SELECT 1"
//!        + [Some(true)]: one entry per such statement, in order
//! ```
//!
//! Invariants:
//! 1. Text without the word `deferrable` is returned untouched, so error
//!    positions and everything else stay as the client wrote them.
//! 2. Only whole tokens are cut, by their positions in the original text:
//!    strings, quoted identifiers and comments are never rewritten.
//! 3. The flags line up with the parsed statements that are `BEGIN`s or
//!    `SET TRANSACTION`s, in order: exactly the statements whose first
//!    words this module recognises parse as those.

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

use crate::error::{Error, Result, SqlState};

/// The text with `[NOT] DEFERRABLE` removed from transaction statements,
/// and, for each transaction statement in order, what it said:
/// `Some(true)` for `DEFERRABLE`, `Some(false)` for `NOT DEFERRABLE`, `None`
/// when it said neither. `None` overall when nothing needed cutting.
pub fn strip(sql: &str) -> Result<Option<(String, Vec<Option<bool>>)>> {
    if !sql.to_ascii_lowercase().contains("deferrable") {
        return Ok(None);
    }
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize_with_location()
        .map_err(|error| Error::sql(SqlState::SYNTAX_ERROR, error.to_string()))?;
    let offsets = LineOffsets::new(sql);
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    let mut flags = Vec::new();
    let mut start = 0;
    while start < tokens.len() {
        let end = tokens[start..]
            .iter()
            .position(|token| token.token == Token::SemiColon)
            .map_or(tokens.len(), |at| start + at);
        let statement = &tokens[start..end];
        if is_transaction_statement(statement) {
            flags.push(cut_deferrable(
                statement,
                &offsets,
                sql.len(),
                &tokens,
                start,
                &mut cuts,
            )?);
        }
        start = end + 1;
    }
    if cuts.is_empty() {
        return Ok(None);
    }
    cuts.sort_unstable();
    let mut text = String::with_capacity(sql.len());
    let mut from = 0;
    for (cut_start, cut_end) in cuts {
        text.push_str(&sql[from..cut_start]);
        text.push(' ');
        from = cut_end;
    }
    text.push_str(&sql[from..]);
    Ok(Some((text, flags)))
}

/// The upper-cased words of a statement, skipping whitespace and comments.
fn words(statement: &[TokenWithSpan]) -> impl Iterator<Item = (usize, Option<String>)> + '_ {
    statement
        .iter()
        .enumerate()
        .filter(|(_, token)| !matches!(token.token, Token::Whitespace(_)))
        .map(|(index, token)| match &token.token {
            Token::Word(word) if word.quote_style.is_none() => {
                (index, Some(word.value.to_ascii_uppercase()))
            }
            _ => (index, None),
        })
}

fn is_transaction_statement(statement: &[TokenWithSpan]) -> bool {
    let first: Vec<String> = words(statement)
        .take(5)
        .map(|(_, word)| word.unwrap_or_default())
        .collect();
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    matches!(
        first.as_slice(),
        ["BEGIN", ..]
            | ["START", "TRANSACTION", ..]
            | ["SET", "TRANSACTION", ..]
            | ["SET", "SESSION", "CHARACTERISTICS", "AS", "TRANSACTION"]
    )
}

/// Finds `[NOT] DEFERRABLE` in one transaction statement (the last one
/// wins, as for the other modes) and records the byte ranges to cut.
fn cut_deferrable(
    statement: &[TokenWithSpan],
    offsets: &LineOffsets,
    text_length: usize,
    all: &[TokenWithSpan],
    statement_start: usize,
    cuts: &mut Vec<(usize, usize)>,
) -> Result<Option<bool>> {
    let significant: Vec<(usize, Option<String>)> = words(statement).collect();
    let token_range = |index: usize| -> Result<(usize, usize)> {
        let start = offsets.byte(statement[index].span.start)?;
        let end = match all.get(statement_start + index + 1) {
            Some(next) => offsets.byte(next.span.start)?,
            None => text_length,
        };
        Ok((start, end))
    };
    let mut flag = None;
    for (position, (_, word)) in significant.iter().enumerate() {
        if word.as_deref() != Some("DEFERRABLE") {
            continue;
        }
        let mut first = position;
        let negated = position > 0 && significant[position - 1].1.as_deref() == Some("NOT");
        if negated {
            first -= 1;
        }
        flag = Some(!negated);
        for (cut, _) in &significant[first..=position] {
            cuts.push(token_range(*cut)?);
        }
        // One comma beside it: before it if there is one, else after it.
        let comma_before = first > 0 && statement[significant[first - 1].0].token == Token::Comma;
        let comma_after = significant
            .get(position + 1)
            .is_some_and(|(next, _)| statement[*next].token == Token::Comma);
        if comma_before {
            cuts.push(token_range(significant[first - 1].0)?);
        } else if comma_after {
            cuts.push(token_range(significant[position + 1].0)?);
        }
    }
    Ok(flag)
}

/// Byte offsets of line starts, to turn token locations (line and column,
/// in characters, from 1) into byte offsets of the text.
/// Byte offsets of token locations (line, column) in a text.
pub(super) struct LineOffsets<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineOffsets<'a> {
    pub(super) fn new(text: &'a str) -> LineOffsets<'a> {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(at, _)| at + 1));
        LineOffsets { text, starts }
    }

    pub(super) fn byte(&self, location: Location) -> Result<usize> {
        let invalid = || Error::Internal(format!("token location {location:?} outside the text"));
        let line = usize::try_from(location.line).map_err(|_| invalid())?;
        let line_start = *self.starts.get(line.wrapping_sub(1)).ok_or_else(invalid)?;
        let column = usize::try_from(location.column).map_err(|_| invalid())?;
        let rest = &self.text[line_start..];
        match rest.char_indices().nth(column.wrapping_sub(1)) {
            Some((at, _)) => Ok(line_start + at),
            None if column.wrapping_sub(1) == rest.chars().count() => Ok(self.text.len()),
            None => Err(invalid()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripped(sql: &str) -> (String, Vec<Option<bool>>) {
        strip(sql).unwrap().unwrap()
    }

    #[test]
    fn cuts_the_mode_and_one_comma_from_transaction_statements_only() {
        let (text, flags) =
            stripped("BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY, DEFERRABLE; SELECT 1");
        assert_eq!(
            text.split_whitespace().collect::<Vec<_>>().join(" "),
            "BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY ; SELECT 1"
        );
        assert_eq!(flags, vec![Some(true)]);

        let (text, flags) = stripped(
            "start transaction not deferrable, read only;\nset transaction deferrable;\
             SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY DEFERRABLE; BEGIN",
        );
        let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(
            words,
            "start transaction read only; set transaction ;SET SESSION CHARACTERISTICS AS \
             TRANSACTION READ ONLY ; BEGIN"
        );
        assert_eq!(flags, vec![Some(false), Some(true), Some(true), None]);
    }

    #[test]
    fn leaves_other_text_alone() {
        assert!(strip("SELECT 1").unwrap().is_none());
        // Not a transaction statement, or not a word: untouched.
        assert!(
            strip("SELECT 'deferrable', \"deferrable\" FROM t -- deferrable")
                .unwrap()
                .is_none()
        );
        assert!(strip("BEGIN; SELECT 'DEFERRABLE'").unwrap().is_none());
        // Multi-byte text before the cut keeps its bytes.
        let (text, flags) = stripped("SELECT 'é'; BEGIN READ ONLY, DEFERRABLE");
        assert!(text.starts_with("SELECT 'é'; BEGIN READ ONLY"), "{text}");
        assert!(!text.to_lowercase().contains("deferrable"));
        assert_eq!(flags, vec![Some(true)]);
    }
}
