//! `EXCLUDE CURRENT ROW | GROUP | TIES | NO OTHERS` in window frames, which
//! the SQL parser does not know: each is cut out of the text, and a marker
//! identifier saying which exclusion it was is put into the same window's
//! PARTITION BY list, where the binder (`binder/window.rs`) takes it out
//! again.
//!
//! ```text
//!   OVER (ORDER BY x ROWS 1 PRECEDING EXCLUDE TIES)
//!   OVER (PARTITION BY "\u{1}exclude:ties" ORDER BY x ROWS 1 PRECEDING )
//!   OVER (w ORDER BY …)            → OVER (w PARTITION BY "…" ORDER BY …)
//!   OVER (PARTITION BY p …)        → OVER (PARTITION BY "…", p …)
//! ```
//!
//! Invariants:
//! 1. Text without the word `exclude` followed by one of the four is
//!    returned untouched.
//! 2. Only whole tokens are cut or inserted, by their positions in the
//!    original text: strings, quoted identifiers and comments are never
//!    rewritten.
//! 3. A marker starts with a control character no identifier a client
//!    writes contains, so it cannot be mistaken for a column.

use sqlparser::ast;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use super::deferrable::LineOffsets;
use crate::error::{Error, Result, SqlState};

/// What a frame's EXCLUDE clause leaves out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exclusion {
    CurrentRow,
    Group,
    Ties,
    NoOthers,
}

const MARKER: &str = "\u{1}exclude:";

impl Exclusion {
    fn marker(self) -> String {
        let name = match self {
            Exclusion::CurrentRow => "current_row",
            Exclusion::Group => "group",
            Exclusion::Ties => "ties",
            Exclusion::NoOthers => "no_others",
        };
        format!("\"{MARKER}{name}\"")
    }
}

/// The exclusion a marker identifier stands for, if it is one.
pub fn exclusion_marker(ident: &ast::Ident) -> Option<Exclusion> {
    if ident.quote_style != Some('"') {
        return None;
    }
    Some(match ident.value.strip_prefix(MARKER)? {
        "current_row" => Exclusion::CurrentRow,
        "group" => Exclusion::Group,
        "ties" => Exclusion::Ties,
        "no_others" => Exclusion::NoOthers,
        _ => return None,
    })
}

/// The text with each EXCLUDE clause moved into a marker; `None` when
/// there was none.
pub fn strip(sql: &str) -> Result<Option<String>> {
    if !sql.to_ascii_lowercase().contains("exclude") {
        return Ok(None);
    }
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize_with_location()
        .map_err(|error| Error::sql(SqlState::SYNTAX_ERROR, error.to_string()))?;
    let offsets = LineOffsets::new(sql);
    let significant: Vec<usize> = (0..tokens.len())
        .filter(|&i| !matches!(tokens[i].token, Token::Whitespace(_)))
        .collect();
    let word = |i: usize| -> Option<String> {
        match &tokens[i].token {
            Token::Word(word) if word.quote_style.is_none() => {
                Some(word.value.to_ascii_uppercase())
            }
            _ => None,
        }
    };
    // (byte start, byte end, replacement) edits.
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for (position, &index) in significant.iter().enumerate() {
        if word(index).as_deref() != Some("EXCLUDE") {
            continue;
        }
        let next = |n: usize| significant.get(position + n).and_then(|&i| word(i));
        let (exclusion, length) = match (next(1).as_deref(), next(2).as_deref()) {
            (Some("CURRENT"), Some("ROW")) => (Exclusion::CurrentRow, 3),
            (Some("GROUP"), _) => (Exclusion::Group, 2),
            (Some("TIES"), _) => (Exclusion::Ties, 2),
            (Some("NO"), Some("OTHERS")) => (Exclusion::NoOthers, 3),
            _ => continue,
        };
        let last = significant[position + length - 1];
        let start = offsets.byte(tokens[index].span.start)?;
        let end = end_of(&tokens, last, &offsets, sql.len())?;
        edits.push((start, end, " ".to_string()));
        // The window's opening parenthesis, and where the marker goes.
        let Some(open) = opening_parenthesis(&tokens, &significant, position) else {
            return Err(Error::sql(
                SqlState::SYNTAX_ERROR,
                "syntax error at or near \"EXCLUDE\"",
            ));
        };
        let after_open = significant.iter().position(|&i| i == open).map(|p| p + 1);
        let first = after_open.and_then(|p| significant.get(p).copied());
        let marker = exclusion.marker();
        let (at, text) = match first.and_then(word).as_deref() {
            Some("PARTITION") => {
                // After PARTITION BY.
                let by = significant[after_open.expect("invariant: found above") + 1];
                (
                    end_of(&tokens, by, &offsets, sql.len())?,
                    format!(" {marker},"),
                )
            }
            Some("ORDER" | "ROWS" | "RANGE" | "GROUPS") | None => (
                end_of(&tokens, open, &offsets, sql.len())?,
                format!("PARTITION BY {marker} "),
            ),
            Some(_) => {
                // A window name the spec copies.
                let name = first.expect("invariant: a word");
                (
                    end_of(&tokens, name, &offsets, sql.len())?,
                    format!(" PARTITION BY {marker}"),
                )
            }
        };
        edits.push((at, at, text));
    }
    if edits.is_empty() {
        return Ok(None);
    }
    edits.sort_by_key(|(start, end, _)| (*start, *end));
    let mut text = String::with_capacity(sql.len() + 64);
    let mut from = 0;
    for (start, end, replacement) in edits {
        text.push_str(&sql[from..start]);
        text.push_str(&replacement);
        from = end;
    }
    text.push_str(&sql[from..]);
    Ok(Some(text))
}

/// The byte offset just past token `index`.
fn end_of(
    tokens: &[TokenWithSpan],
    index: usize,
    offsets: &LineOffsets<'_>,
    length: usize,
) -> Result<usize> {
    match tokens.get(index + 1) {
        Some(next) => offsets.byte(next.span.start),
        None => Ok(length),
    }
}

/// The unmatched `(` before significant token `position`.
fn opening_parenthesis(
    tokens: &[TokenWithSpan],
    significant: &[usize],
    position: usize,
) -> Option<usize> {
    let mut depth = 0usize;
    for &index in significant[..position].iter().rev() {
        match tokens[index].token {
            Token::RParen => depth += 1,
            Token::LParen if depth == 0 => return Some(index),
            Token::LParen => depth -= 1,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_each_exclusion_into_its_window() {
        let sql = "SELECT sum(x) OVER (ORDER BY x ROWS 1 PRECEDING EXCLUDE TIES), \
                   count(*) OVER (PARTITION BY p ORDER BY x exclude current row) FROM t";
        let text = strip(sql).expect("strips").expect("changed");
        assert_eq!(
            text,
            "SELECT sum(x) OVER (PARTITION BY \"\u{1}exclude:ties\" ORDER BY x ROWS 1 PRECEDING  ), \
             count(*) OVER (PARTITION BY \"\u{1}exclude:current_row\", p ORDER BY x  ) FROM t"
        );
    }

    #[test]
    fn leaves_other_text_alone() {
        assert_eq!(strip("SELECT 'exclude ties' FROM t").expect("strips"), None);
        assert_eq!(strip("SELECT exclude FROM t").expect("strips"), None);
    }
}
