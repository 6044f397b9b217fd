//! Parsing glue: SQL text → sqlparser syntax trees (PostgreSQL dialect),
//! with PostgreSQL's error wording, SQLSTATEs, and a nesting limit.
//!
//! What sqlparser does not do is done here: `[NOT] DEFERRABLE` is cut out
//! of transaction statements first (`deferrable.rs`) and handed on beside
//! the tree, a window frame's `EXCLUDE` clause moves into a marker the
//! binder understands (`exclude.rs`), nesting deeper than [`MAX_NESTING`]
//! (parentheses, subqueries, prefix operators) is refused with 54001 "stack
//! depth limit exceeded", as PostgreSQL refuses it, instead of recursing
//! on, and so are chains of infix operators longer than
//! `depth::MAX_DEPTH`, which the parser builds in a loop (`depth.rs`). Every
//! later stage recurses over the tree: these bounds keep the tree's depth,
//! and so dropping it, within the stack, and `sql::stack` stops the stages
//! that recurse further than the stack allows.

mod deferrable;
mod depth;
mod exclude;

use sqlparser::ast::{self, Statement};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::{Parser, ParserError};

pub use exclude::{Exclusion, exclusion_marker};

use crate::error::{Error, Result, SqlState};
use crate::sql::stack::stack_depth_exceeded;

/// How deeply a statement may nest (sqlparser counts each nested
/// expression, subquery and parenthesis).
pub const MAX_NESTING: usize = 200;

/// One parsed statement: the SQL parser's syntax tree, plus the
/// `[NOT] DEFERRABLE` mode of a `BEGIN` or `SET TRANSACTION`, which that
/// parser cannot express.
#[derive(Clone, Debug)]
pub struct ParsedStatement {
    pub ast: Statement,
    pub deferrable: Option<bool>,
}

impl ParsedStatement {
    /// Whether the statement is a query (SELECT, VALUES, TABLE, with their
    /// set operations and CTEs), which never writes: the binder refuses
    /// `SELECT … INTO` and locking clauses.
    pub fn is_query(&self) -> bool {
        matches!(self.ast, Statement::Query(_))
    }
}

/// Parses a query string into statements (an empty string gives none).
/// Syntax errors are SQLSTATE 42601.
pub fn parse(sql: &str) -> Result<Vec<ParsedStatement>> {
    depth::check(sql)?;
    let (text, flags) = match deferrable::strip(sql)? {
        Some((text, flags)) => (std::borrow::Cow::Owned(text), flags),
        None => (std::borrow::Cow::Borrowed(sql), Vec::new()),
    };
    let text = match exclude::strip(&text)? {
        Some(text) => std::borrow::Cow::Owned(text),
        None => text,
    };
    let statements = Parser::new(&PostgreSqlDialect {})
        .with_recursion_limit(MAX_NESTING)
        .try_with_sql(&text)
        .and_then(|mut parser| parser.parse_statements())
        .map_err(parser_error)?;
    // Deferrable invariant 3: one flag per transaction statement.
    let mut flags = flags.into_iter();
    Ok(statements
        .into_iter()
        .map(|ast| {
            let deferrable = match &ast {
                Statement::StartTransaction { .. }
                | Statement::Set(ast::Set::SetTransaction { .. }) => flags.next().flatten(),
                _ => None,
            };
            ParsedStatement { ast, deferrable }
        })
        .collect())
}

/// Parses a standalone SQL expression (stored DEFAULTs).
pub fn parse_expr(text: &str) -> Result<ast::Expr> {
    depth::check(text)?;
    Parser::new(&PostgreSqlDialect {})
        .with_recursion_limit(MAX_NESTING)
        .try_with_sql(text)
        .and_then(|mut parser| parser.parse_expr())
        .map_err(parser_error)
}

/// Parses a standalone query (stored view definitions).
pub fn parse_query(text: &str) -> Result<ast::Query> {
    depth::check(text)?;
    Parser::new(&PostgreSqlDialect {})
        .with_recursion_limit(MAX_NESTING)
        .try_with_sql(text)
        .and_then(|mut parser| parser.parse_query())
        .map(|query| *query)
        .map_err(parser_error)
}

fn parser_error(error: ParserError) -> Error {
    match error {
        ParserError::RecursionLimitExceeded => stack_depth_exceeded(),
        other => Error::sql(SqlState::SYNTAX_ERROR, syntax_message(&other.to_string())),
    }
}

/// PostgreSQL's wording for a parser error: `syntax error at or near "x"`
/// or `syntax error at end of input`; other parser messages pass through.
fn syntax_message(parser_message: &str) -> String {
    let message = parser_message
        .strip_prefix("sql parser error: ")
        .unwrap_or(parser_message);
    let Some((_, found)) = message.split_once("found: ") else {
        return message.to_string();
    };
    let token = found.split(" at Line: ").next().unwrap_or(found).trim();
    if token == "EOF" {
        "syntax error at end of input".to_string()
    } else {
        format!("syntax error at or near \"{token}\"")
    }
}
