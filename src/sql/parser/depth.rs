//! A bound on how deep a statement's syntax tree can be, taken from its
//! tokens before the parser builds the tree.
//!
//! sqlparser refuses deep *nesting* (parentheses, subqueries, prefix
//! operators) with its recursion limit, but it parses a chain of infix
//! operators — `1 + 1 + … + 1`, `a OR b OR …`, `SELECT … UNION SELECT …` —
//! in a loop, into a left-deep tree as deep as the chain is long. Every
//! later stage recurses over that tree, and so does dropping it, which no
//! check can interrupt: a chain of 100,000 terms would overflow the stack
//! and abort the process. So the chain is measured here, from tokens, and
//! a statement that could be deeper than [`MAX_DEPTH`] is refused with
//! 54001, as PostgreSQL refuses expressions too deep for its stack.
//!
//! ```text
//!   ( a + b * c , d = e AND f )          level 0:  0 operators
//!     └────┬───┘  └─────┬────┘           level 1: 2, reset at ",", then 2
//!     expression    expression
//!   bound = Σ over the open levels of (operators since the last reset
//!           + set operators) + open parentheses
//! ```
//!
//! The bound over-approximates: it counts every operator token of one
//! expression as if they all formed one left-deep chain. Commas and the
//! keywords that start a new clause or CASE branch reset the count, since
//! what follows them is a separate tree; set operators (`UNION`,
//! `INTERSECT`, `EXCEPT`) chain whole queries and are never reset within
//! their level.
//!
//! Invariant: a statement that passes has no left-deep chain longer than
//! [`MAX_DEPTH`], so dropping its tree recurses at most that deep.

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::error::Result;
use crate::sql::stack::stack_depth_exceeded;

/// The deepest chain of operators a statement may hold. PostgreSQL's
/// default 2 MB stack evaluates a chain of about 4,000 additions; the
/// binder's stack check refuses what is too deep for ours, and this bound
/// only has to keep the tree's size within what dropping it can recurse.
pub const MAX_DEPTH: usize = 8_000;

/// A statement shorter than this cannot hold a chain of [`MAX_DEPTH`]
/// operators (each needs an operand and an operator), so it is not
/// tokenized twice.
const SHORTEST_DEEP_STATEMENT: usize = 2 * MAX_DEPTH;

/// Fails with 54001 when `sql` may parse into a tree deeper than
/// [`MAX_DEPTH`]. Text that does not tokenize is left to the parser,
/// which reports it as a syntax error.
pub fn check(sql: &str) -> Result<()> {
    if sql.len() < SHORTEST_DEEP_STATEMENT {
        return Ok(());
    }
    let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize() else {
        return Ok(());
    };
    if depth_bound(&tokens) > MAX_DEPTH {
        return Err(stack_depth_exceeded());
    }
    Ok(())
}

/// The counts of one parenthesis level.
#[derive(Default)]
struct Level {
    /// Operators since the last comma or clause keyword.
    operators: usize,
    /// Set operators seen at this level.
    set_operators: usize,
}

/// An upper bound on the depth of the tree `tokens` parse into.
fn depth_bound(tokens: &[Token]) -> usize {
    let mut levels = vec![Level::default()];
    // The sum of every open level's counts, kept up to date.
    let mut depth = 0usize;
    let mut deepest = 0usize;
    for token in tokens {
        match token {
            Token::LParen => {
                levels.push(Level::default());
                depth += 1;
            }
            Token::RParen => {
                if levels.len() > 1
                    && let Some(level) = levels.pop()
                {
                    depth -= 1 + level.operators + level.set_operators;
                }
            }
            Token::Comma | Token::SemiColon => reset(&mut levels, &mut depth),
            Token::Word(word) => match word.keyword {
                Keyword::UNION | Keyword::INTERSECT | Keyword::EXCEPT => {
                    if let Some(level) = levels.last_mut() {
                        level.set_operators += 1;
                        depth += 1;
                    }
                }
                Keyword::AND
                | Keyword::OR
                | Keyword::NOT
                | Keyword::IS
                | Keyword::LIKE
                | Keyword::ILIKE
                | Keyword::SIMILAR
                | Keyword::BETWEEN
                | Keyword::IN
                | Keyword::COLLATE
                | Keyword::AT
                | Keyword::OVERLAPS => operator(&mut levels, &mut depth),
                Keyword::SELECT
                | Keyword::FROM
                | Keyword::WHERE
                | Keyword::GROUP
                | Keyword::HAVING
                | Keyword::ORDER
                | Keyword::LIMIT
                | Keyword::OFFSET
                | Keyword::ON
                | Keyword::SET
                | Keyword::VALUES
                | Keyword::RETURNING
                | Keyword::WHEN
                | Keyword::THEN
                | Keyword::ELSE => reset(&mut levels, &mut depth),
                _ => {}
            },
            Token::Whitespace(_)
            | Token::Period
            | Token::EOF
            | Token::Number(..)
            | Token::Placeholder(_)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::DollarQuotedString(_)
            | Token::EscapedStringLiteral(_)
            | Token::UnicodeStringLiteral(_)
            | Token::NationalStringLiteral(_)
            | Token::HexStringLiteral(_)
            | Token::SingleQuotedByteStringLiteral(_)
            | Token::DoubleQuotedByteStringLiteral(_) => {}
            // Every other token is an operator symbol (`+`, `||`, `::`,
            // `[`, …), each a possible link of a chain.
            _ => operator(&mut levels, &mut depth),
        }
        deepest = deepest.max(depth);
    }
    deepest
}

fn operator(levels: &mut [Level], depth: &mut usize) {
    if let Some(level) = levels.last_mut() {
        level.operators += 1;
        *depth += 1;
    }
}

fn reset(levels: &mut [Level], depth: &mut usize) {
    if let Some(level) = levels.last_mut() {
        *depth -= level.operators;
        level.operators = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SqlState;

    fn bound(sql: &str) -> usize {
        let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
            .tokenize()
            .expect("tokenizes");
        depth_bound(&tokens)
    }

    #[test]
    fn a_chain_counts_its_operators() {
        assert_eq!(bound("SELECT 1 + 2 * 3"), 2);
        assert_eq!(bound("SELECT a, b"), 0);
        assert_eq!(bound("SELECT a = 1 AND b = 2 OR c"), 4);
    }

    #[test]
    fn commas_and_clauses_start_new_trees() {
        assert_eq!(bound("SELECT a + 1, b + 2, c + 3"), 1);
        assert_eq!(bound("SELECT a + b + c FROM t WHERE a = 1"), 2);
        assert_eq!(
            bound("SELECT CASE WHEN a = 1 THEN 2 WHEN a = 2 THEN 3 END"),
            1
        );
    }

    #[test]
    fn parentheses_add_their_contents_to_the_enclosing_chain() {
        // 1 + (2 + (3 + 4)): three levels of one operator plus two parens.
        assert_eq!(bound("SELECT 1 + (2 + (3 + 4))"), 5);
        // Leaving a level forgets its contents.
        assert_eq!(bound("SELECT (1 + 2 + 3) + (4)"), 3);
    }

    #[test]
    fn set_operators_chain_across_clauses() {
        assert_eq!(bound("SELECT 1 UNION SELECT 2 UNION ALL SELECT 3"), 2);
    }

    #[test]
    fn a_long_chain_is_refused_and_a_long_list_is_not() {
        let chain = format!("SELECT {}", vec!["1"; MAX_DEPTH + 2].join("+"));
        let error = check(&chain).expect_err("too deep");
        assert_eq!(error.sqlstate(), SqlState::STATEMENT_TOO_COMPLEX);
        let list = format!(
            "SELECT 1 WHERE 1 IN ({})",
            (0..MAX_DEPTH * 4)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(",")
        );
        check(&list).expect("a list is flat");
        let unions = vec!["SELECT 1"; MAX_DEPTH + 2].join(" UNION ");
        assert!(check(&unions).is_err());
    }
}
