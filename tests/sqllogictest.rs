//! Runs our own `.slt` files in `sqllogictest/` through the `sqllogictest`
//! crate, against an in-process database (one fresh database per file; each
//! named `connection` in a file is its own session of that database).
//!
//! Values render in PostgreSQL's text format, NULL as `NULL` and the empty
//! string as `(empty)`; errors are matched against `SQLSTATE message` text
//! so files can assert on codes.

use std::path::PathBuf;

use basalt::Database;
use basalt::sql::{Outcome, Session};
use sqllogictest::{DBOutput, DefaultColumnType, Runner};

#[derive(Debug)]
struct SltError(String);

impl std::fmt::Display for SltError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SltError {}

struct Connection {
    session: Session,
}

impl sqllogictest::DB for Connection {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let to_error = |e: basalt::Error| SltError(format!("{} {}", e.sqlstate(), e));
        let statements = self.session.parse(sql).map_err(to_error)?;
        let mut last = DBOutput::StatementComplete(0);
        for statement in statements {
            let prepared = self
                .session
                .prepare_statement(statement, &[])
                .map_err(to_error)?;
            let outcome = self.session.execute(&prepared, &[]).map_err(to_error)?;
            last = match outcome {
                Outcome::Rows {
                    columns,
                    mut cursor,
                } => DBOutput::Rows {
                    types: columns.iter().map(|_| DefaultColumnType::Any).collect(),
                    // Times print in the session's zone, as the server prints them.
                    rows: {
                        let zone = self.session.time_context().zone;
                        self.session
                            .fetch_all(&mut cursor)
                            .map_err(to_error)?
                            .into_iter()
                            .map(|row| {
                                row.into_iter()
                                    .map(|value| match value.to_text_in(&zone) {
                                        None => "NULL".to_string(),
                                        Some(text) if text.is_empty() => "(empty)".to_string(),
                                        Some(text) => text,
                                    })
                                    .collect()
                            })
                            .collect()
                    },
                },
                Outcome::Command { tag, .. } => {
                    let count = tag
                        .rsplit(' ')
                        .next()
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0);
                    DBOutput::StatementComplete(count)
                }
                Outcome::Empty => DBOutput::StatementComplete(0),
            };
        }
        Ok(last)
    }

    fn engine_name(&self) -> &str {
        "basalt"
    }
}

#[test]
fn sqllogictest_files() {
    let directory = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sqllogictest");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&directory)
        .expect("sqllogictest directory exists")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "slt"))
        // `BASALT_SLT_FILTER=joins`: only the files whose name has it.
        .filter(|path| {
            std::env::var("BASALT_SLT_FILTER")
                .map_or(true, |filter| path.to_string_lossy().contains(&filter))
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files found");
    let mut failures = Vec::new();
    for file in &files {
        // No automatic analyze: EXPLAIN records show plans before and
        // after an explicit ANALYZE, which must not depend on timing.
        let no_autoanalyze = basalt::config::AutoAnalyze {
            enabled: false,
            ..Default::default()
        };
        let database = Database::with_engine_and(
            std::sync::Arc::new(basalt::storage::MemoryEngine::new()),
            no_autoanalyze,
        )
        .expect("open in-memory database");
        let mut runner = Runner::new(move || {
            let session = database.session();
            async move { Ok::<_, SltError>(Connection { session }) }
        });
        // `onlyif basalt` marks records whose outcome is basalt's own
        // (EXPLAIN, deliberate differences), which the differential run
        // against PostgreSQL skips.
        runner.add_label("basalt");
        if let Err(error) = runner.run_file(file) {
            failures.push(format!("{}: {}", file.display(), error));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} files failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}
