//! Parsing glue: SQL text → sqlparser syntax trees (PostgreSQL dialect),
//! with PostgreSQL's error wording, SQLSTATEs, and a nesting limit.
//!
//! What sqlparser does not do is done here: `ALTER SEQUENCE` is parsed
//! here (`alter_sequence.rs`), into a [`Syntax`] of its own; `[NOT] DEFERRABLE` is cut out
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

mod alter_sequence;
mod deferrable;
mod depth;
mod exclude;

use sqlparser::ast::{self, Statement};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

pub use alter_sequence::AlterSequence;
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
    pub syntax: Syntax,
    pub deferrable: Option<bool>,
}

/// A statement's syntax tree: sqlparser's, or one of the statements
/// parsed here because sqlparser does not parse them.
#[derive(Clone, Debug)]
// sqlparser's tree is large; a statement lives as long as its prepared
// statement, one per statement, so its size matters less than an
// allocation more for every statement would.
#[allow(clippy::large_enum_variant)]
pub enum Syntax {
    Sql(Statement),
    AlterSequence(AlterSequence),
}

impl ParsedStatement {
    /// Whether the statement is a query (SELECT, VALUES, TABLE, with their
    /// set operations and CTEs), which never writes: the binder refuses
    /// `SELECT … INTO` and locking clauses.
    pub fn is_query(&self) -> bool {
        matches!(self.syntax, Syntax::Sql(Statement::Query(_)))
    }

    /// sqlparser's tree, if sqlparser parsed the statement.
    pub fn sql(&self) -> Option<&Statement> {
        match &self.syntax {
            Syntax::Sql(statement) => Some(statement),
            Syntax::AlterSequence(_) => None,
        }
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
    let statements = parse_statements(&text)?;
    // Deferrable invariant 3: one flag per transaction statement.
    let mut flags = flags.into_iter();
    Ok(statements
        .into_iter()
        .map(|syntax| {
            let deferrable = match &syntax {
                Syntax::Sql(
                    Statement::StartTransaction { .. }
                    | Statement::Set(ast::Set::SetTransaction { .. }),
                ) => flags.next().flatten(),
                _ => None,
            };
            ParsedStatement { syntax, deferrable }
        })
        .collect())
}

/// sqlparser's `parse_statements`, with the statements it does not know
/// parsed here.
fn parse_statements(text: &str) -> Result<Vec<Syntax>> {
    let mut parser = Parser::new(&PostgreSqlDialect {})
        .with_recursion_limit(MAX_NESTING)
        .try_with_sql(text)
        .map_err(parser_error)?;
    let mut statements = Vec::new();
    let mut expecting_delimiter = false;
    loop {
        while parser.consume_token(&Token::SemiColon) {
            expecting_delimiter = false;
        }
        if parser.peek_token_ref().token == Token::EOF {
            break;
        }
        if expecting_delimiter {
            return parser
                .expected_ref("end of statement", parser.peek_token_ref())
                .map_err(parser_error);
        }
        if alter_sequence::at_alter_sequence(&parser) {
            statements.push(Syntax::AlterSequence(alter_sequence::parse_alter_sequence(
                &mut parser,
            )?));
        } else {
            statements.push(Syntax::Sql(parser.parse_statement().map_err(parser_error)?));
        }
        expecting_delimiter = true;
    }
    Ok(statements)
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

pub(super) fn parser_error(error: ParserError) -> Error {
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
