//! `numeric` end to end: exactness against PostgreSQL's own results on
//! 10,000 generated operand pairs (`tests/numeric_expected.tsv`, written
//! by `scripts/numeric_on_postgres.py` on PostgreSQL 15), a million-row
//! exact sum, and round trips through tokio-postgres in text and binary.

mod common;

use basalt::Database;
use basalt::sql::{Outcome, Session};
use common::{connect, start_server};
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

/// Runs `sql` (one statement) and returns its rows as PostgreSQL text.
fn query(session: &mut Session, sql: &str) -> Vec<Vec<Option<String>>> {
    let mut statements = session.parse(sql).expect("parse");
    assert_eq!(statements.len(), 1, "{sql}");
    let prepared = session
        .prepare_statement(statements.remove(0), &[])
        .expect("prepare");
    match session.execute(&prepared, &[]).expect(sql) {
        Outcome::Rows { mut cursor, .. } => session
            .fetch_all(&mut cursor)
            .expect("fetch")
            .into_iter()
            .map(|row| row.iter().map(|value| value.to_text()).collect())
            .collect(),
        _ => Vec::new(),
    }
}

#[test]
fn arithmetic_and_rounding_match_postgres_on_ten_thousand_pairs() {
    let expected = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/numeric_expected.tsv"
    ))
    .expect("tests/numeric_expected.tsv");
    let cases: Vec<Vec<&str>> = expected
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| line.split('\t').collect())
        .collect();
    assert_eq!(cases.len(), 10_000);
    let database = Database::open_in_memory().expect("database");
    let mut session = database.session();
    query(
        &mut session,
        "CREATE TABLE pairs (id int PRIMARY KEY, a numeric, b numeric, k int)",
    );
    for (chunk_index, chunk) in cases.chunks(500).enumerate() {
        let rows: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(index, case)| {
                format!(
                    "({}, '{}', '{}', {})",
                    chunk_index * 500 + index,
                    case[0],
                    case[1],
                    case[2]
                )
            })
            .collect();
        query(
            &mut session,
            &format!("INSERT INTO pairs VALUES {}", rows.join(", ")),
        );
    }
    let rows = query(
        &mut session,
        "SELECT a, b, k, a + b, a - b, a * b, a / b, a % b, div(a, b), round(a / b, k), \
         trunc(a * b, k), round(a, k) FROM pairs ORDER BY id",
    );
    assert_eq!(rows.len(), cases.len());
    let columns = [
        "a",
        "b",
        "k",
        "a + b",
        "a - b",
        "a * b",
        "a / b",
        "a % b",
        "div(a, b)",
        "round(a / b, k)",
        "trunc(a * b, k)",
        "round(a, k)",
    ];
    let mut mismatches = Vec::new();
    for (row, case) in rows.iter().zip(&cases) {
        for (column, (got, want)) in columns.iter().zip(row.iter().zip(case)) {
            if got.as_deref() != Some(*want) {
                mismatches.push(format!(
                    "{column} for a = {}, b = {}, k = {}: basalt {got:?}, PostgreSQL {want}",
                    case[0], case[1], case[2]
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches, the first:\n{}",
        mismatches.len(),
        mismatches[..mismatches.len().min(10)].join("\n")
    );
}

#[test]
fn a_million_tenths_sum_to_exactly_one_hundred_thousand() {
    let database = Database::open_in_memory().expect("database");
    let mut session = database.session();
    query(&mut session, "CREATE TABLE digits (d int)");
    query(
        &mut session,
        "INSERT INTO digits VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)",
    );
    query(&mut session, "CREATE TABLE tenths (v numeric)");
    query(
        &mut session,
        "INSERT INTO tenths SELECT 0.1 FROM digits a, digits b, digits c, digits d, digits e, digits f",
    );
    let rows = query(
        &mut session,
        "SELECT count(*), sum(v), avg(v), sum(v) = 100000 FROM tenths",
    );
    assert_eq!(
        rows,
        vec![vec![
            Some("1000000".to_string()),
            Some("100000.0".to_string()),
            Some("0.10000000000000000000".to_string()),
            Some("t".to_string()),
        ]]
    );
    // The float sum is not exact: that is why numeric exists.
    let rows = query(&mut session, "SELECT sum(v::float8) = 100000 FROM tenths");
    assert_eq!(rows, vec![vec![Some("f".to_string())]]);
}

/// A numeric in PostgreSQL's binary format, as raw bytes: tokio-postgres
/// has no numeric type of its own.
#[derive(Debug, PartialEq)]
struct NumericBytes(Vec<u8>);

impl<'a> FromSql<'a> for NumericBytes {
    fn from_sql(
        _: &Type,
        raw: &'a [u8],
    ) -> Result<NumericBytes, Box<dyn std::error::Error + Sync + Send>> {
        Ok(NumericBytes(raw.to_vec()))
    }

    fn accepts(data_type: &Type) -> bool {
        *data_type == Type::NUMERIC
    }
}

impl ToSql for NumericBytes {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&self.0);
        Ok(IsNull::No)
    }

    fn accepts(data_type: &Type) -> bool {
        *data_type == Type::NUMERIC
    }

    to_sql_checked!();
}

/// `numeric_send` bytes: digit count, weight, sign, display scale, then
/// base-10000 digits, all big-endian 16-bit words.
fn binary(words: &[u16]) -> NumericBytes {
    NumericBytes(words.iter().flat_map(|word| word.to_be_bytes()).collect())
}

#[tokio::test]
async fn numerics_round_trip_through_a_driver_in_text_and_binary() {
    let server = start_server().await;
    let client = connect(server.address).await;
    client
        .batch_execute(
            "CREATE TABLE money (id int PRIMARY KEY, amount numeric(12,2), exact numeric)",
        )
        .await
        .expect("create");
    let insert = client
        .prepare("INSERT INTO money VALUES ($1, $2, $3)")
        .await
        .expect("prepare");
    assert_eq!(insert.params(), &[Type::INT4, Type::NUMERIC, Type::NUMERIC]);
    // Binary parameters: 1234.5678 (rounded to the column's 2 places),
    // -0.01, NaN, a 40-digit value, and NULL.
    let cases: [(i32, Option<NumericBytes>, Option<NumericBytes>); 4] = [
        (
            1,
            Some(binary(&[2, 0, 0, 4, 1234, 5678])),
            Some(binary(&[2, 0, 0, 4, 1234, 5678])),
        ),
        (
            2,
            Some(binary(&[1, 0xFFFF, 0x4000, 2, 100])),
            Some(binary(&[0, 0, 0xC000, 0])),
        ),
        (
            3,
            None,
            Some(binary(&[
                10, 4, 0, 20, 1234, 5678, 9012, 3456, 7890, 1234, 5678, 9012, 3456, 7890,
            ])),
        ),
        (
            4,
            Some(binary(&[0, 0, 0, 0])),
            Some(binary(&[0, 0, 0xF000, 0])),
        ),
    ];
    for (id, amount, exact) in &cases {
        client
            .execute(&insert, &[id, amount, exact])
            .await
            .expect("insert");
    }
    // Text results, as psql would show them.
    let rows = client
        .simple_query("SELECT amount, exact FROM money ORDER BY id")
        .await
        .expect("select");
    let text: Vec<(Option<String>, Option<String>)> = rows
        .iter()
        .filter_map(|message| match message {
            tokio_postgres::SimpleQueryMessage::Row(row) => {
                Some((row.get(0).map(String::from), row.get(1).map(String::from)))
            }
            _ => None,
        })
        .collect();
    let owned = |text: &str| Some(text.to_string());
    assert_eq!(
        text,
        vec![
            (owned("1234.57"), owned("1234.5678")),
            (owned("-0.01"), owned("NaN")),
            (None, owned("12345678901234567890.12345678901234567890")),
            (owned("0.00"), owned("-Infinity")),
        ]
    );
    // Binary results: the same values in numeric_send's format, the
    // column's scale included.
    let rows = client
        .query("SELECT amount, exact FROM money ORDER BY id", &[])
        .await
        .expect("select binary");
    let binary_rows: Vec<(Option<NumericBytes>, Option<NumericBytes>)> =
        rows.iter().map(|row| (row.get(0), row.get(1))).collect();
    assert_eq!(binary_rows[0].0, Some(binary(&[2, 0, 0, 2, 1234, 5700])));
    assert_eq!(binary_rows[0].1, Some(binary(&[2, 0, 0, 4, 1234, 5678])));
    assert_eq!(binary_rows[1].0, Some(binary(&[1, 0xFFFF, 0x4000, 2, 100])));
    assert_eq!(binary_rows[1].1, Some(binary(&[0, 0, 0xC000, 0])));
    assert_eq!(binary_rows[2].0, None);
    assert_eq!(
        binary_rows[2].1,
        Some(binary(&[
            10, 4, 0, 20, 1234, 5678, 9012, 3456, 7890, 1234, 5678, 9012, 3456, 7890
        ]))
    );
    assert_eq!(binary_rows[3].0, Some(binary(&[0, 0, 0, 2])));
    assert_eq!(binary_rows[3].1, Some(binary(&[0, 0, 0xF000, 0])));
    // A binary parameter compared against the key, and arithmetic on it.
    let row = client
        .query_one(
            "SELECT id, amount * $1 FROM money WHERE amount = $2",
            &[
                &binary(&[1, 0, 0, 1, 2]),
                &binary(&[2, 0, 0, 2, 1234, 5700]),
            ],
        )
        .await
        .expect("select by parameter");
    assert_eq!(row.get::<_, i32>(0), 1);
    assert_eq!(
        row.get::<_, NumericBytes>(1),
        binary(&[2, 0, 0, 3, 2469, 1400])
    );
    // Malformed binary input is 22P03, and the connection stays usable.
    let error = client
        .execute(
            &insert,
            &[&5i32, &binary(&[1, 0, 0, 0, 10000]), &None::<NumericBytes>],
        )
        .await
        .expect_err("a digit of 10000 is invalid");
    assert_eq!(
        error.code(),
        Some(&tokio_postgres::error::SqlState::INVALID_BINARY_REPRESENTATION)
    );
    let error = client
        .execute(
            &insert,
            &[&6i32, &binary(&[1, 3, 0, 0, 1]), &None::<NumericBytes>],
        )
        .await
        .expect_err("1e12 overflows numeric(12,2)");
    assert_eq!(
        error.code(),
        Some(&tokio_postgres::error::SqlState::NUMERIC_VALUE_OUT_OF_RANGE)
    );
    let count = client
        .query_one("SELECT count(*) FROM money", &[])
        .await
        .expect("count");
    assert_eq!(count.get::<_, i64>(0), 4);
}
