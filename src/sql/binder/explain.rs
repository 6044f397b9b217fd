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
    /// Run the query and show what each node did (`ANALYZE`).
    pub analyze: Option<AnalyzeOptions>,
}

/// What `EXPLAIN ANALYZE` adds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnalyzeOptions {
    /// Time per node (`TIMING`, on by default).
    pub timing: bool,
    /// The execution time under the plan (`SUMMARY`, on by default).
    pub summary: bool,
}

impl Default for ExplainOptions {
    fn default() -> ExplainOptions {
        ExplainOptions {
            costs: true,
            analyze: None,
        }
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
    let (mut timing, mut summary) = (None, None);
    for option in options.unwrap_or_default() {
        let name = ident_name(&option.name);
        match name.as_str() {
            "analyze" => analyze = boolean(&name, option.arg.as_ref())?,
            "verbose" => verbose = boolean(&name, option.arg.as_ref())?,
            "costs" => explain.costs = boolean(&name, option.arg.as_ref())?,
            "timing" => timing = Some(boolean(&name, option.arg.as_ref())?),
            "summary" => summary = Some(boolean(&name, option.arg.as_ref())?),
            "buffers" | "wal" | "settings" => {
                if boolean(&name, option.arg.as_ref())? {
                    if name == "wal" && !analyze_requested(analyze, options) {
                        return Err(requires_analyze("WAL"));
                    }
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
        explain.analyze = Some(AnalyzeOptions {
            timing: timing.unwrap_or(true),
            summary: summary.unwrap_or(true),
        });
    } else if timing == Some(true) {
        return Err(requires_analyze("TIMING"));
    }
    if verbose {
        return Err(Error::Unsupported("EXPLAIN VERBOSE".into()));
    }
    if !format_text {
        return Err(Error::Unsupported("EXPLAIN formats other than TEXT".into()));
    }
    Ok(explain)
}

/// Whether ANALYZE is on, looking ahead through the options (PostgreSQL
/// checks the combination after reading them all).
fn analyze_requested(analyze: bool, options: Option<&[ast::UtilityOption]>) -> bool {
    let mut analyze = analyze;
    for option in options.unwrap_or_default() {
        if ident_name(&option.name) == "analyze" {
            analyze = boolean("analyze", option.arg.as_ref()).unwrap_or(false);
        }
    }
    analyze
}

/// 22023 for an option that means something only with ANALYZE.
fn requires_analyze(option: &str) -> Error {
    Error::sql(
        SqlState::INVALID_PARAMETER_VALUE,
        format!("EXPLAIN option {option} requires ANALYZE"),
    )
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
