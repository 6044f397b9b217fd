//! `EXPLAIN [ANALYZE] [VERBOSE] query` and `EXPLAIN (option [value], …)
//! query`: the options PostgreSQL 15 knows, checked as it checks them.

use sqlparser::ast;

use super::ident_name;
use crate::error::{Error, Result, SqlState};

/// What an `EXPLAIN` shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExplainOptions {
    /// Estimated costs, rows and widths per node (`COSTS`, on by default).
    pub costs: bool,
}

impl Default for ExplainOptions {
    fn default() -> ExplainOptions {
        ExplainOptions { costs: true }
    }
}

/// The options of an `EXPLAIN`: unknown ones are 42601, a value of the
/// wrong kind 22023, and known ones basalt cannot honour yet 0A000.
pub fn explain_options(
    analyze: bool,
    verbose: bool,
    options: Option<&[ast::UtilityOption]>,
) -> Result<ExplainOptions> {
    let mut explain = ExplainOptions::default();
    let mut analyze = analyze;
    let mut verbose = verbose;
    let mut format_text = true;
    for option in options.unwrap_or_default() {
        let name = ident_name(&option.name);
        match name.as_str() {
            "analyze" => analyze = boolean(&name, option.arg.as_ref())?,
            "verbose" => verbose = boolean(&name, option.arg.as_ref())?,
            "costs" => explain.costs = boolean(&name, option.arg.as_ref())?,
            // Meaningful with ANALYZE only, which refuses below.
            "buffers" | "wal" | "timing" | "summary" | "settings" => {
                if boolean(&name, option.arg.as_ref())? && name != "summary" && name != "timing" {
                    return Err(Error::Unsupported(format!(
                        "EXPLAIN option {}",
                        name.to_uppercase()
                    )));
                }
            }
            "format" => {
                let value = match &option.arg {
                    Some(ast::Expr::Identifier(ident)) => ident_name(ident),
                    Some(other) => other.to_string().to_lowercase(),
                    None => String::new(),
                };
                match value.as_str() {
                    "text" => format_text = true,
                    "json" | "xml" | "yaml" => format_text = false,
                    _ => {
                        return Err(Error::sql(
                            SqlState::INVALID_PARAMETER_VALUE,
                            format!(
                                "unrecognized value for EXPLAIN option \"format\": \"{value}\""
                            ),
                        ));
                    }
                }
            }
            _ => {
                return Err(Error::sql(
                    SqlState::SYNTAX_ERROR,
                    format!("unrecognized EXPLAIN option \"{name}\""),
                ));
            }
        }
    }
    if analyze {
        return Err(Error::Unsupported("EXPLAIN ANALYZE".into()));
    }
    if verbose {
        return Err(Error::Unsupported("EXPLAIN VERBOSE".into()));
    }
    if !format_text {
        return Err(Error::Unsupported("EXPLAIN formats other than TEXT".into()));
    }
    Ok(explain)
}

/// An option's boolean value: none (true), or a boolean spelling.
fn boolean(name: &str, arg: Option<&ast::Expr>) -> Result<bool> {
    let Some(arg) = arg else { return Ok(true) };
    let text = match arg {
        ast::Expr::Identifier(ident) => ident_name(ident),
        ast::Expr::Value(value) => value.to_string().trim_matches('\'').to_lowercase(),
        other => other.to_string().to_lowercase(),
    };
    match text.as_str() {
        "true" | "on" | "1" | "yes" => Ok(true),
        "false" | "off" | "0" | "no" => Ok(false),
        _ => Err(Error::sql(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("{name} requires a Boolean value"),
        )),
    }
}
