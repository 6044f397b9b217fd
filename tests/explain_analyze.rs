//! `EXPLAIN ANALYZE` with its default options: the per-node times and the
//! summary lines, whose values vary from run to run (the golden tests in
//! `sqllogictest/explain_analyze.slt` switch them off).

mod sessions;

use sessions::{database, ok};

#[test]
fn explain_analyze_times_each_node_and_summarizes_the_run() {
    let database = database(
        "CREATE TABLE t (id int PRIMARY KEY, v int);
         INSERT INTO t SELECT g, g % 10 FROM generate_series(1, 1000) g",
    );
    let mut session = database.session();
    let lines: Vec<String> = ok(
        &mut session,
        "EXPLAIN ANALYZE SELECT v, count(*) FROM t GROUP BY v",
    )
    .into_iter()
    .map(|row| row[0].to_text().expect("a line of text"))
    .collect();
    let actual = |line: &str| -> (f64, f64, String) {
        let start = line.find("(actual time=").expect("actual time") + "(actual time=".len();
        let rest = &line[start..];
        let (times, counts) = rest.split_once(' ').expect("times, then counts");
        let (first, last) = times.split_once("..").expect("first..last");
        (
            first.parse().expect("a time"),
            last.parse().expect("a time"),
            counts.trim_end_matches(')').to_string(),
        )
    };
    let (first, last, counts) = actual(&lines[0]);
    assert!(lines[0].starts_with("HashAggregate  (cost="), "{lines:?}");
    assert!(0.0 <= first && first <= last, "{lines:?}");
    assert_eq!(counts, "rows=10 loops=1");
    let scan = lines
        .iter()
        .find(|line| line.contains("Seq Scan on t"))
        .expect("the scan's line");
    assert_eq!(actual(scan).2, "rows=1000 loops=1");
    let summary = &lines[lines.len() - 2..];
    for (line, label) in summary.iter().zip(["Planning Time: ", "Execution Time: "]) {
        let value = line
            .strip_prefix(label)
            .and_then(|rest| rest.strip_suffix(" ms"))
            .unwrap_or_else(|| panic!("{label} line: {lines:?}"));
        assert!(value.parse::<f64>().expect("milliseconds") >= 0.0);
    }
    // The run's time covers the top node's.
    let execution: f64 = summary[1]["Execution Time: ".len()..summary[1].len() - 3]
        .parse()
        .expect("milliseconds");
    assert!(execution >= last, "{lines:?}");
}
