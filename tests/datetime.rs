//! The time types end to end through tokio-postgres: `date`, `time`,
//! `timestamp`, `timestamptz` and `interval` in text and binary, as
//! parameters and results, with NULL, infinities and the range's ends, and
//! `timestamptz` text output following the session's `TimeZone`.

mod common;

use common::{connect, start_server};
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

/// A value in its binary wire form, for any of the time types.
#[derive(Debug, PartialEq)]
struct Raw(Vec<u8>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Raw, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw.to_vec()))
    }

    fn accepts(data_type: &Type) -> bool {
        [
            Type::DATE,
            Type::TIME,
            Type::TIMESTAMP,
            Type::TIMESTAMPTZ,
            Type::INTERVAL,
        ]
        .contains(data_type)
    }
}

impl ToSql for Raw {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&self.0);
        Ok(IsNull::No)
    }

    fn accepts(data_type: &Type) -> bool {
        <Raw as FromSql>::accepts(data_type)
    }

    to_sql_checked!();
}

/// An `events` row: id, date, time, timestamp, timestamptz, interval.
type EventRow = (
    i32,
    Option<Raw>,
    Option<Raw>,
    Option<Raw>,
    Option<Raw>,
    Option<Raw>,
);

fn date(days: i32) -> Raw {
    Raw(days.to_be_bytes().to_vec())
}

fn micros(value: i64) -> Raw {
    Raw(value.to_be_bytes().to_vec())
}

fn interval(months: i32, days: i32, microseconds: i64) -> Raw {
    let mut bytes = microseconds.to_be_bytes().to_vec();
    bytes.extend_from_slice(&days.to_be_bytes());
    bytes.extend_from_slice(&months.to_be_bytes());
    Raw(bytes)
}

async fn text_rows(client: &tokio_postgres::Client, sql: &str) -> Vec<Vec<Option<String>>> {
    client
        .simple_query(sql)
        .await
        .expect("simple query")
        .iter()
        .filter_map(|message| match message {
            tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|index| row.get(index).map(String::from))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn time_types_round_trip_in_text_and_binary() {
    let server = start_server().await;
    let client = connect(server.address).await;
    client
        .batch_execute(
            "CREATE TABLE events (id int PRIMARY KEY, d date, t time, ts timestamp, \
             tz timestamptz, span interval)",
        )
        .await
        .expect("create");
    let insert = client
        .prepare("INSERT INTO events VALUES ($1, $2, $3, $4, $5, $6)")
        .await
        .expect("prepare");
    assert_eq!(
        insert.params(),
        &[
            Type::INT4,
            Type::DATE,
            Type::TIME,
            Type::TIMESTAMP,
            Type::TIMESTAMPTZ,
            Type::INTERVAL
        ]
    );
    // 2024-01-15 is day 8780 after 2000-01-01.
    let day = 86_400_000_000i64;
    let rows: [EventRow; 3] = [
        (
            1,
            Some(date(8780)),
            Some(micros(10 * 3_600_000_000 + 30 * 60_000_000 + 500_000)),
            Some(micros(8780 * day + 3_600_000_000)),
            Some(micros(8780 * day + 15 * 3_600_000_000)),
            Some(interval(14, 3, 4 * 3_600_000_000 + 5_000_000)),
        ),
        (
            2,
            Some(date(i32::MAX)),
            Some(micros(day)),
            Some(micros(i64::MIN)),
            Some(micros(i64::MAX)),
            Some(interval(-1, 0, -1)),
        ),
        (3, None, None, None, None, None),
    ];
    for (id, d, t, ts, tz, span) in &rows {
        client
            .execute(&insert, &[id, d, t, ts, tz, span])
            .await
            .expect("insert");
    }
    client
        .batch_execute("SET TIME ZONE 'America/New_York'")
        .await
        .expect("set zone");
    let expected = |values: [&str; 5]| values.map(|v| Some(v.to_string())).to_vec();
    assert_eq!(
        text_rows(&client, "SELECT d, t, ts, tz, span FROM events ORDER BY id").await,
        vec![
            expected([
                "2024-01-15",
                "10:30:00.5",
                "2024-01-15 01:00:00",
                "2024-01-15 10:00:00-05",
                "1 year 2 mons 3 days 04:00:05",
            ]),
            expected([
                "infinity",
                "24:00:00",
                "-infinity",
                "infinity",
                "-1 mons -00:00:00.000001",
            ]),
            vec![None; 5],
        ]
    );
    // Binary results are the stored values, whatever the session zone.
    let binary = client
        .query("SELECT d, t, ts, tz, span FROM events ORDER BY id", &[])
        .await
        .expect("select binary");
    for (row, (_, d, t, ts, tz, span)) in binary.iter().zip(&rows) {
        assert_eq!(row.get::<_, Option<Raw>>(0).as_ref(), d.as_ref());
        assert_eq!(row.get::<_, Option<Raw>>(1).as_ref(), t.as_ref());
        assert_eq!(row.get::<_, Option<Raw>>(2).as_ref(), ts.as_ref());
        assert_eq!(row.get::<_, Option<Raw>>(3).as_ref(), tz.as_ref());
        assert_eq!(row.get::<_, Option<Raw>>(4).as_ref(), span.as_ref());
    }
    // Text parameters read in the session zone; a binary key lookup.
    let row = client
        .query_one(
            "SELECT id, tz = $1::text::timestamptz FROM events WHERE d = $2",
            &[&"2024-01-15 10:00", &date(8780)],
        )
        .await
        .expect("select by parameter");
    assert_eq!(row.get::<_, i32>(0), 1);
    assert!(row.get::<_, bool>(1));
    // A time past 24:00 in binary is refused, and the session goes on.
    let error = client
        .execute(
            &insert,
            &[
                &4,
                &None::<Raw>,
                &Some(micros(day + 1)),
                &None::<Raw>,
                &None::<Raw>,
                &None::<Raw>,
            ],
        )
        .await
        .expect_err("time out of range");
    assert_eq!(
        error.code().map(|code| code.code()),
        Some("22008"),
        "{error}"
    );
    let error = client
        .execute(
            &insert,
            &[
                &5,
                &None::<Raw>,
                &None::<Raw>,
                &Some(micros(i64::MAX - 1)),
                &None::<Raw>,
                &None::<Raw>,
            ],
        )
        .await
        .expect_err("timestamp out of range");
    assert_eq!(
        error.code().map(|code| code.code()),
        Some("22008"),
        "{error}"
    );
    assert_eq!(
        text_rows(&client, "SELECT count(*) FROM events").await,
        vec![vec![Some("3".to_string())]]
    );
}
