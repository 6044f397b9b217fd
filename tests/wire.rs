//! End-to-end tests of the PostgreSQL wire protocol: a real server on
//! `127.0.0.1:0` (in-process, or the `basalt` binary for restarts) and real
//! clients (tokio-postgres, or hand-written bytes for malformed input and
//! protocol corners tokio-postgres never sends).

use std::time::Duration;

mod common;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

#[tokio::test]
async fn startup_reports_postgres_15_parameters() {
    let server = start_server().await;
    let config = format!(
        "host=127.0.0.1 port={} user=alice dbname=test application_name=wiretest",
        server.address.port()
    );
    let (client, connection) = tokio_postgres::connect(&config, NoTls)
        .await
        .expect("connect");
    assert!(
        connection
            .parameter("server_version")
            .is_some_and(|v| v.starts_with("15."))
    );
    assert_eq!(connection.parameter("DateStyle"), Some("ISO, MDY"));
    assert_eq!(connection.parameter("client_encoding"), Some("UTF8"));
    assert_eq!(connection.parameter("session_authorization"), Some("alice"));
    assert_eq!(connection.parameter("application_name"), Some("wiretest"));
    assert_eq!(
        connection.parameter("standard_conforming_strings"),
        Some("on")
    );
    assert_eq!(connection.parameter("TimeZone"), Some("UTC"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let messages = client.simple_query("SELECT 1").await.expect("select 1");
    assert_eq!(simple_rows(&messages), vec![vec![Some("1".to_string())]]);
}

#[tokio::test]
async fn simple_protocol_runs_every_statement_in_order() {
    let server = start_server().await;
    let client = connect(server.address).await;
    client
        .batch_execute(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price DOUBLE PRECISION);
             INSERT INTO items VALUES (1, 'apple', 1.5), (2, 'pear', 2.25), (3, 'fig', NULL);",
        )
        .await
        .expect("create and insert");
    let messages = client
        .simple_query(
            "INSERT INTO items VALUES (4, 'kiwi', 0.5);
             SELECT id, name, price FROM items ORDER BY id;
             UPDATE items SET price = 3 WHERE id = 3;
             SELECT name FROM items WHERE price > 1 ORDER BY name",
        )
        .await
        .expect("multi-statement query");
    assert_eq!(command_counts(&messages), vec![1, 4, 1, 3]);
    let columns = messages.iter().find_map(|message| match message {
        SimpleQueryMessage::RowDescription(columns) => Some(columns.clone()),
        _ => None,
    });
    let names: Vec<String> = columns
        .expect("a RowDescription")
        .iter()
        .map(|column| column.name().to_string())
        .collect();
    assert_eq!(names, vec!["id", "name", "price"]);
    let text = |value: &str| Some(value.to_string());
    assert_eq!(
        simple_rows(&messages),
        vec![
            vec![text("1"), text("apple"), text("1.5")],
            vec![text("2"), text("pear"), text("2.25")],
            vec![text("3"), text("fig"), None],
            vec![text("4"), text("kiwi"), text("0.5")],
            vec![text("apple")],
            vec![text("fig")],
            vec![text("pear")],
        ]
    );
    let aggregate = client
        .simple_query("SELECT count(*), sum(id) FROM items")
        .await
        .expect("aggregate");
    assert_eq!(simple_rows(&aggregate), vec![vec![text("4"), text("10")]]);
}

#[tokio::test]
async fn extended_protocol_binds_binary_parameters_of_every_type() {
    let server = start_server().await;
    let client = connect(server.address).await;
    client
        .batch_execute(
            "CREATE TABLE typed (id INTEGER PRIMARY KEY, small SMALLINT, big BIGINT,
                                 ratio DOUBLE PRECISION, label TEXT, flag BOOLEAN, code VARCHAR(8))",
        )
        .await
        .expect("create");
    let insert = client
        .prepare("INSERT INTO typed VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .await
        .expect("prepare insert");
    // Parameter types are inferred from the target columns.
    assert_eq!(
        insert.params(),
        &[
            Type::INT4,
            Type::INT2,
            Type::INT8,
            Type::FLOAT8,
            Type::TEXT,
            Type::BOOL,
            Type::VARCHAR
        ]
    );
    // The same prepared statement reused, with values and with NULLs.
    let inserted = client
        .execute(
            &insert,
            &[
                &1i32,
                &-7i16,
                &9_000_000_000i64,
                &2.5f64,
                &"héllo",
                &true,
                &"abc",
            ],
        )
        .await
        .expect("insert row 1");
    assert_eq!(inserted, 1);
    let none_i16: Option<i16> = None;
    let none_text: Option<&str> = None;
    let none_bool: Option<bool> = None;
    client
        .execute(
            &insert,
            &[
                &2i32,
                &none_i16,
                &i64::MIN,
                &-0.125f64,
                &none_text,
                &none_bool,
                &"xyz",
            ],
        )
        .await
        .expect("insert row 2 with NULLs");

    let select = client
        .prepare("SELECT id, small, big, ratio, label, flag, code FROM typed WHERE id = $1")
        .await
        .expect("prepare select");
    assert_eq!(select.params(), &[Type::INT4]);
    let column_types: Vec<Type> = select
        .columns()
        .iter()
        .map(|column| column.type_().clone())
        .collect();
    assert_eq!(
        column_types,
        vec![
            Type::INT4,
            Type::INT2,
            Type::INT8,
            Type::FLOAT8,
            Type::TEXT,
            Type::BOOL,
            Type::VARCHAR
        ]
    );
    let row = client.query_one(&select, &[&1i32]).await.expect("row 1");
    assert_eq!(row.get::<_, i32>(0), 1);
    assert_eq!(row.get::<_, i16>(1), -7);
    assert_eq!(row.get::<_, i64>(2), 9_000_000_000);
    assert_eq!(row.get::<_, f64>(3), 2.5);
    assert_eq!(row.get::<_, &str>(4), "héllo");
    assert!(row.get::<_, bool>(5));
    assert_eq!(row.get::<_, &str>(6), "abc");
    let row = client.query_one(&select, &[&2i32]).await.expect("row 2");
    assert_eq!(row.get::<_, Option<i16>>(1), None);
    assert_eq!(row.get::<_, i64>(2), i64::MIN);
    assert_eq!(row.get::<_, f64>(3), -0.125);
    assert_eq!(row.get::<_, Option<&str>>(4), None);
    assert_eq!(row.get::<_, Option<bool>>(5), None);

    // Explicitly typed parameters, inferred comparison parameters, reuse.
    let typed = client
        .prepare_typed("SELECT count(*) FROM typed WHERE big > $1", &[Type::INT8])
        .await
        .expect("prepare typed");
    for (bound, expected) in [(0i64, 1i64), (i64::MIN, 1), (-1, 1), (i64::MAX, 0)] {
        let row = client.query_one(&typed, &[&bound]).await.expect("count");
        assert_eq!(row.get::<_, i64>(0), expected, "big > {bound}");
    }
    let missing = client.query_opt(&select, &[&99i32]).await.expect("no row");
    assert!(missing.is_none());

    // A NULL parameter compares as unknown: no rows.
    let by_label = client
        .prepare("SELECT id FROM typed WHERE label = $1")
        .await
        .expect("prepare by label");
    assert_eq!(by_label.params(), &[Type::TEXT]);
    assert!(
        client
            .query(&by_label, &[&none_text])
            .await
            .expect("null label")
            .is_empty()
    );
    let rows = client.query(&by_label, &[&"héllo"]).await.expect("label");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, i32>(0), 1);
}

#[tokio::test]
async fn portals_return_rows_in_batches() {
    let server = start_server().await;
    let mut client = connect(server.address).await;
    client
        .batch_execute(
            "CREATE TABLE numbers (n INTEGER PRIMARY KEY);
             INSERT INTO numbers VALUES (1), (2), (3), (4), (5);",
        )
        .await
        .expect("setup");
    let transaction = client.transaction().await.expect("begin");
    let portal = transaction
        .bind("SELECT n FROM numbers WHERE n > $1 ORDER BY n", &[&0i32])
        .await
        .expect("bind portal");
    let mut batches = Vec::new();
    for _ in 0..4 {
        let rows = transaction.query_portal(&portal, 2).await.expect("fetch");
        batches.push(
            rows.iter()
                .map(|row| row.get::<_, i32>(0))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(batches, vec![vec![1, 2], vec![3, 4], vec![5], vec![]]);
    transaction.commit().await.expect("commit");
}

#[tokio::test]
async fn errors_carry_sqlstates_and_keep_the_connection_usable() {
    let server = start_server().await;
    let client = connect(server.address).await;
    assert_code(
        client.simple_query("SELEKT 1").await,
        SqlState::SYNTAX_ERROR,
    );
    assert_code(
        client.prepare("SELECT FROM WHERE").await,
        SqlState::SYNTAX_ERROR,
    );
    assert_code(
        client.simple_query("SELECT * FROM missing").await,
        SqlState::UNDEFINED_TABLE,
    );
    assert_code(
        client.prepare("SELECT * FROM missing").await,
        SqlState::UNDEFINED_TABLE,
    );

    client
        .batch_execute("CREATE TABLE keyed (id INTEGER PRIMARY KEY)")
        .await
        .expect("create");
    assert_code(
        client
            .batch_execute("CREATE TABLE keyed (id INTEGER)")
            .await,
        SqlState::DUPLICATE_TABLE,
    );
    client
        .batch_execute("INSERT INTO keyed VALUES (1)")
        .await
        .expect("insert");
    assert_code(
        client.batch_execute("INSERT INTO keyed VALUES (1)").await,
        SqlState::UNIQUE_VIOLATION,
    );

    // In a multi-statement query, statements after an error do not run, and
    // the ones before it roll back with the implicit transaction.
    assert_code(
        client
            .batch_execute(
                "INSERT INTO keyed VALUES (2); SELECT * FROM missing; INSERT INTO keyed VALUES (3)",
            )
            .await,
        SqlState::UNDEFINED_TABLE,
    );
    let rows = client
        .query("SELECT id FROM keyed ORDER BY id", &[])
        .await
        .expect("select");
    let ids: Vec<i32> = rows.iter().map(|row| row.get(0)).collect();
    assert_eq!(ids, vec![1]);
}

#[tokio::test]
async fn transactions_commit_roll_back_and_fail() {
    let server = start_server().await;
    let client = connect(server.address).await;
    client
        .batch_execute(
            "CREATE TABLE ledger (id INTEGER PRIMARY KEY, amount BIGINT NOT NULL DEFAULT 0)",
        )
        .await
        .expect("create");
    client
        .batch_execute("BEGIN; INSERT INTO ledger VALUES (1, 10); ROLLBACK")
        .await
        .expect("rolled back transaction");
    assert_eq!(row_count(&client, "ledger").await, 0);

    client.batch_execute("BEGIN").await.expect("begin");
    client
        .batch_execute("INSERT INTO ledger VALUES (1, 10)")
        .await
        .expect("insert");
    client
        .batch_execute("INSERT INTO ledger (id) VALUES (2)")
        .await
        .expect("insert default");
    client.batch_execute("COMMIT").await.expect("commit");
    assert_eq!(row_count(&client, "ledger").await, 2);
    let rows = client
        .query("SELECT amount FROM ledger ORDER BY id", &[])
        .await
        .expect("select");
    assert_eq!(
        rows.iter()
            .map(|row| row.get::<_, i64>(0))
            .collect::<Vec<_>>(),
        vec![10, 0]
    );

    // An error inside a transaction block fails it until ROLLBACK.
    client
        .batch_execute("START TRANSACTION")
        .await
        .expect("start");
    client
        .batch_execute("INSERT INTO ledger VALUES (3, 30)")
        .await
        .expect("insert");
    assert_code(
        client.batch_execute("SELECT * FROM missing").await,
        SqlState::UNDEFINED_TABLE,
    );
    assert_code(
        client.batch_execute("SELECT 1").await,
        SqlState::IN_FAILED_SQL_TRANSACTION,
    );
    assert_code(
        client.query("SELECT 1", &[]).await,
        SqlState::IN_FAILED_SQL_TRANSACTION,
    );
    client.batch_execute("ROLLBACK").await.expect("rollback");
    assert_eq!(row_count(&client, "ledger").await, 2);

    // END commits, and the tokio-postgres transaction API works.
    client
        .batch_execute(
            "BEGIN ISOLATION LEVEL REPEATABLE READ; UPDATE ledger SET amount = amount + 1; END",
        )
        .await
        .expect("repeatable read transaction");
    let total = client
        // sum(bigint) is numeric, as in PostgreSQL.
        .query_one("SELECT sum(amount)::bigint FROM ledger", &[])
        .await
        .expect("sum");
    assert_eq!(total.get::<_, i64>(0), 12);
}

async fn row_count(client: &Client, table: &str) -> i64 {
    let row = client
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .expect("count rows");
    row.get(0)
}

#[tokio::test]
async fn a_query_string_is_one_implicit_transaction() {
    let server = start_server().await;
    let client = connect(server.address).await;
    client
        .batch_execute("CREATE TABLE implicit (id INT PRIMARY KEY)")
        .await
        .expect("create");
    // A failing statement rolls back the whole string, as in PostgreSQL.
    assert_code(
        client
            .batch_execute(
                "INSERT INTO implicit VALUES (1); INSERT INTO implicit VALUES (2); SELECT 1/0",
            )
            .await,
        SqlState::DIVISION_BY_ZERO,
    );
    assert_eq!(row_count(&client, "implicit").await, 0);
    // Without an error everything commits.
    client
        .batch_execute("INSERT INTO implicit VALUES (1); INSERT INTO implicit VALUES (2)")
        .await
        .expect("two inserts");
    assert_eq!(row_count(&client, "implicit").await, 2);
    // COMMIT inside the string ends the implicit transaction early.
    assert_code(
        client.batch_execute("INSERT INTO implicit VALUES (3); COMMIT; INSERT INTO implicit VALUES (4); SELECT 1/0").await,
        SqlState::DIVISION_BY_ZERO,
    );
    assert_eq!(row_count(&client, "implicit").await, 3);
    // BEGIN inside the string turns it into an ordinary block.
    client
        .batch_execute("INSERT INTO implicit VALUES (5); BEGIN; INSERT INTO implicit VALUES (6)")
        .await
        .expect("begin inside");
    assert_code(
        client.batch_execute("SELECT 1/0").await,
        SqlState::DIVISION_BY_ZERO,
    );
    assert_code(
        client.batch_execute("SELECT 1").await,
        SqlState::IN_FAILED_SQL_TRANSACTION,
    );
    client.batch_execute("ROLLBACK").await.expect("rollback");
    assert_eq!(row_count(&client, "implicit").await, 3);
}

/// A SELECT runs as its transaction's only statement (declared to run
/// queries only, which SSI need not track under a safe snapshot) only when
/// the server has already received the Sync that ends it with no other
/// Execute before: a write that follows the query before the Sync, in the
/// same packet or a later one, or in the same Query string, shares the
/// query's transaction and must still be able to write.
#[tokio::test]
async fn a_write_after_a_query_in_one_implicit_transaction_still_writes() {
    let server = start_server().await;
    let client = connect(server.address).await;
    client
        .batch_execute(
            "CREATE TABLE piped (id INT PRIMARY KEY, v INT); INSERT INTO piped VALUES (1, 10)",
        )
        .await
        .expect("setup");
    let mut stream = raw_session(server.address).await;
    let mut bytes = parse_message("query", "SELECT v FROM piped WHERE id = 1", &[]);
    bytes.extend(parse_message(
        "write",
        "INSERT INTO piped VALUES ($1, 0)",
        &[23],
    ));
    bytes.extend(sync_message());
    stream.write_all(&bytes).await.expect("send");
    assert_eq!(kinds(&read_until_ready(&mut stream).await), "11Z");
    let run_query = || {
        let mut bytes = bind_message("", "query", &[], &[]);
        bytes.extend(execute_message("", 0));
        bytes
    };
    let run_write = |id: i32| {
        let mut bytes = bind_message("", "write", &[1], &[Some(&id.to_be_bytes())]);
        bytes.extend(execute_message("", 0));
        bytes
    };

    // The query alone before its Sync; then query and write in one packet.
    let mut bytes = run_query();
    bytes.extend(sync_message());
    bytes.extend(run_query());
    bytes.extend(run_write(2));
    bytes.extend(sync_message());
    stream.write_all(&bytes).await.expect("send");
    assert_eq!(kinds(&read_until_ready(&mut stream).await), "2DCZ");
    let replies = read_until_ready(&mut stream).await;
    assert_eq!(kinds(&replies), "2DC2CZ", "{:?}", sqlstates(&replies));

    // The query's Execute arrives before anything after it: it has run
    // (its rows are back) when the write and the Sync are sent.
    stream.write_all(&run_query()).await.expect("send");
    let mut replies = Vec::new();
    while replies
        .last()
        .is_none_or(|reply: &Reply| reply.kind != b'C')
    {
        replies.push(read_reply(&mut stream).await.expect("a reply"));
    }
    assert_eq!(kinds(&replies), "2DC");
    let mut bytes = run_write(3);
    bytes.extend(sync_message());
    stream.write_all(&bytes).await.expect("send");
    let replies = read_until_ready(&mut stream).await;
    assert_eq!(kinds(&replies), "2CZ", "{:?}", sqlstates(&replies));

    // The simple protocol: queries, then a write, in one string.
    client
        .batch_execute("SELECT 1; SELECT v FROM piped; INSERT INTO piped VALUES (4, 0)")
        .await
        .expect("queries then a write");
    assert_eq!(row_count(&client, "piped").await, 4);
}

#[tokio::test]
async fn empty_queries_answer_empty_query_response() {
    let server = start_server().await;
    let client = connect(server.address).await;
    let messages = client.simple_query("").await.expect("empty query");
    assert!(simple_rows(&messages).is_empty());
    client.batch_execute("   ").await.expect("blank query");
    let messages = client
        .simple_query("SELECT 2")
        .await
        .expect("usable afterwards");
    assert_eq!(simple_rows(&messages), vec![vec![Some("2".to_string())]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_connections_insert() {
    let server = start_server().await;
    let setup = connect(server.address).await;
    setup
        .batch_execute("CREATE TABLE hits (id INTEGER PRIMARY KEY, worker INTEGER NOT NULL)")
        .await
        .expect("create");
    let mut tasks = Vec::new();
    for worker in 0..16i32 {
        let address = server.address;
        tasks.push(tokio::spawn(async move {
            let client = connect(address).await;
            let insert = client
                .prepare("INSERT INTO hits VALUES ($1, $2)")
                .await
                .expect("prepare");
            for index in 0..10i32 {
                let id = worker * 100 + index;
                // A serializable engine may abort a transaction (40001); retry those.
                let mut attempts = 0;
                loop {
                    match client.execute(&insert, &[&id, &worker]).await {
                        Ok(count) => {
                            assert_eq!(count, 1);
                            break;
                        }
                        Err(error)
                            if code(&error) == Some(&SqlState::T_R_SERIALIZATION_FAILURE)
                                && attempts < 50 =>
                        {
                            attempts += 1;
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                        Err(error) => panic!("worker {worker} insert {id}: {error}"),
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("worker task");
    }
    assert_eq!(row_count(&setup, "hits").await, 160);
    let rows = setup
        .query(
            "SELECT worker, count(*) FROM hits GROUP BY worker ORDER BY worker",
            &[],
        )
        .await
        .expect("group by");
    assert_eq!(rows.len(), 16);
    assert!(rows.iter().all(|row| row.get::<_, i64>(1) == 10));
}

#[tokio::test]
async fn ssl_and_gssenc_requests_are_refused_and_cancel_is_ignored() {
    let server = start_server().await;
    let mut stream = TcpStream::connect(server.address).await.expect("connect");
    let mut request = 8i32.to_be_bytes().to_vec();
    request.extend_from_slice(&80_877_103i32.to_be_bytes());
    stream.write_all(&request).await.expect("ssl request");
    assert_eq!(stream.read_u8().await.expect("ssl answer"), b'N');
    let mut request = 8i32.to_be_bytes().to_vec();
    request.extend_from_slice(&80_877_104i32.to_be_bytes());
    stream.write_all(&request).await.expect("gss request");
    assert_eq!(stream.read_u8().await.expect("gss answer"), b'N');
    stream
        .write_all(&startup_packet("plain"))
        .await
        .expect("startup");
    let greeting = read_until_ready(&mut stream).await;
    assert_eq!(greeting.last().map(|reply| reply.kind), Some(b'Z'));

    let mut cancel = TcpStream::connect(server.address).await.expect("connect");
    let mut request = 16i32.to_be_bytes().to_vec();
    request.extend_from_slice(&80_877_102i32.to_be_bytes());
    request.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]);
    cancel.write_all(&request).await.expect("cancel request");
    expect_closed(&mut cancel).await;
}

#[tokio::test]
async fn extended_protocol_corner_cases_over_raw_bytes() {
    let server = start_server().await;
    let mut stream = raw_session(server.address).await;

    // A named statement cannot be redefined; the unnamed one can.
    let mut bytes = parse_message("s1", "SELECT 1", &[]);
    bytes.extend(parse_message("s1", "SELECT 2", &[]));
    bytes.extend(sync_message());
    stream.write_all(&bytes).await.expect("send");
    let replies = read_until_ready(&mut stream).await;
    assert_eq!(kinds(&replies), "1EZ");
    assert_eq!(sqlstates(&replies), vec!["42P05"]);
    let mut bytes = parse_message("", "SELECT 1", &[]);
    bytes.extend(parse_message("", "SELECT 2", &[]));
    bytes.extend(sync_message());
    stream.write_all(&bytes).await.expect("send");
    assert_eq!(kinds(&read_until_ready(&mut stream).await), "11Z");

    // Describe S gives ParameterDescription then RowDescription; a named
    // statement can be bound and executed twice with PortalSuspended.
    let mut bytes = parse_message("two", "SELECT $1 + 1", &[23]);
    bytes.extend(named(b'D', b'S', "two"));
    bytes.extend(bind_message(
        "p",
        "two",
        &[1],
        &[Some(&41i32.to_be_bytes())],
    ));
    bytes.extend(execute_message("p", 0));
    bytes.extend(sync_message());
    stream.write_all(&bytes).await.expect("send");
    let replies = read_until_ready(&mut stream).await;
    assert_eq!(kinds(&replies), "1tT2DCZ");
    assert_eq!(replies[1].body, [0, 1, 0, 0, 0, 23]);
    assert_eq!(replies[4].body, b"\0\x01\0\0\0\x0242".to_vec());
    assert_eq!(replies[5].body, b"SELECT 1\0".to_vec());

    // Unknown names: 26000 for statements, 34000 for portals; errors skip
    // everything up to Sync, and Sync always answers.
    let mut bytes = named(b'D', b'S', "nope");
    bytes.extend(execute_message("p", 0));
    bytes.extend(sync_message());
    bytes.extend(execute_message("nope", 0));
    bytes.extend(sync_message());
    stream.write_all(&bytes).await.expect("send");
    let first = read_until_ready(&mut stream).await;
    assert_eq!(kinds(&first), "EZ");
    assert_eq!(sqlstates(&first), vec!["26000"]);
    let second = read_until_ready(&mut stream).await;
    assert_eq!(sqlstates(&second), vec!["34000"]);

    // Binary parameter of the wrong width: 22P03, not a panic.
    let mut bytes = bind_message("", "two", &[1], &[Some(&[0, 7])]);
    bytes.extend(sync_message());
    stream.write_all(&bytes).await.expect("send");
    let replies = read_until_ready(&mut stream).await;
    assert_eq!(sqlstates(&replies), vec!["22P03"]);

    // Bad text input for an int4 parameter: 22P02 at Bind.
    let mut bytes = bind_message("", "two", &[0], &[Some(b"seven")]);
    bytes.extend(sync_message());
    stream.write_all(&bytes).await.expect("send");
    assert_eq!(
        sqlstates(&read_until_ready(&mut stream).await),
        vec!["22P02"]
    );

    // Wrong number of parameters: 08P01. Unsupported type OID: 0A000.
    let mut bytes = bind_message("", "two", &[], &[]);
    bytes.extend(sync_message());
    bytes.extend(parse_message("", "SELECT $1", &[2950]));
    bytes.extend(sync_message());
    stream.write_all(&bytes).await.expect("send");
    assert_eq!(
        sqlstates(&read_until_ready(&mut stream).await),
        vec!["08P01"]
    );
    assert_eq!(
        sqlstates(&read_until_ready(&mut stream).await),
        vec!["0A000"]
    );

    // Text-format NULL and value parameters; Close S and P.
    let mut bytes = bind_message("", "two", &[0], &[Some(b"9")]);
    bytes.extend(execute_message("", 0));
    bytes.extend(bind_message("", "two", &[0], &[None]));
    bytes.extend(execute_message("", 0));
    bytes.extend(named(b'C', b'S', "two"));
    bytes.extend(named(b'C', b'P', "missing"));
    bytes.extend(sync_message());
    stream.write_all(&bytes).await.expect("send");
    let replies = read_until_ready(&mut stream).await;
    assert_eq!(kinds(&replies), "2DC2DC33Z");
    assert_eq!(replies[1].body, b"\0\x01\0\0\0\x0210".to_vec());
    assert_eq!(replies[4].body, b"\0\x01\xff\xff\xff\xff".to_vec());

    // A malformed body (truncated Bind) is an 08P01 error, and the
    // connection then skips to Sync and stays usable.
    let mut bytes = message(b'B', b"\0two\0\0\x01");
    bytes.extend(sync_message());
    bytes.extend(message(b'Q', b"SELECT 3\0"));
    stream.write_all(&bytes).await.expect("send");
    assert_eq!(
        sqlstates(&read_until_ready(&mut stream).await),
        vec!["08P01"]
    );
    let replies = read_until_ready(&mut stream).await;
    assert_eq!(kinds(&replies), "TDCZ");

    // Invalid UTF-8 in a query: 22021, connection stays usable.
    stream
        .write_all(&message(b'Q', b"SELECT '\xff'\0"))
        .await
        .expect("send");
    let replies = read_until_ready(&mut stream).await;
    assert_eq!(sqlstates(&replies), vec!["22021"]);
    assert_eq!(
        replies.last().map(|reply| reply.body.clone()),
        Some(b"I".to_vec())
    );

    // An empty query through the extended protocol.
    let mut bytes = parse_message("", "", &[]);
    bytes.extend(bind_message("", "", &[], &[]));
    bytes.extend(execute_message("", 0));
    bytes.extend(sync_message());
    stream.write_all(&bytes).await.expect("send");
    assert_eq!(kinds(&read_until_ready(&mut stream).await), "12IZ");

    // Terminate closes.
    stream
        .write_all(&message(b'X', &[]))
        .await
        .expect("terminate");
    expect_closed(&mut stream).await;
}

#[tokio::test]
async fn malformed_bytes_never_crash_the_server() {
    let server = start_server().await;

    // Garbage instead of a startup packet.
    let mut stream = TcpStream::connect(server.address).await.expect("connect");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("garbage");
    expect_closed(&mut stream).await;

    // A startup packet claiming 2 GiB.
    let mut stream = TcpStream::connect(server.address).await.expect("connect");
    stream
        .write_all(&[0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0])
        .await
        .expect("huge startup");
    expect_closed(&mut stream).await;

    // A startup packet with an unsupported protocol version.
    let mut stream = TcpStream::connect(server.address).await.expect("connect");
    let mut packet = 9i32.to_be_bytes().to_vec();
    packet.extend_from_slice(&[0, 9, 0, 0, 0]);
    stream.write_all(&packet).await.expect("bad version");
    let reply = read_reply(&mut stream).await.expect("an error");
    assert_eq!(reply.sqlstate().as_deref(), Some("0A000"));
    assert_eq!(reply.error_field(b'S').as_deref(), Some("FATAL"));
    expect_closed(&mut stream).await;

    // A startup packet without a terminator and without a user.
    let mut stream = TcpStream::connect(server.address).await.expect("connect");
    let mut packet = 12i32.to_be_bytes().to_vec();
    packet.extend_from_slice(&[0, 3, 0, 0, b'u', b's', b'e', b'r']);
    stream.write_all(&packet).await.expect("unterminated");
    let reply = read_reply(&mut stream).await.expect("an error");
    assert_eq!(reply.sqlstate().as_deref(), Some("08P01"));
    expect_closed(&mut stream).await;

    // After startup: a huge message length, an unknown message type, a
    // negative length, and a truncated message followed by EOF.
    for bytes in [
        vec![b'Q', 0x7f, 0xff, 0xff, 0xff],
        vec![b'z', 0, 0, 0, 4],
        vec![b'S', 0xff, 0xff, 0xff, 0xf0],
    ] {
        let mut stream = raw_session(server.address).await;
        stream.write_all(&bytes).await.expect("bad frame");
        let reply = read_reply(&mut stream).await.expect("a FATAL error");
        assert_eq!(reply.sqlstate().as_deref(), Some("08P01"), "{bytes:?}");
        assert_eq!(reply.error_field(b'S').as_deref(), Some("FATAL"));
        expect_closed(&mut stream).await;
    }
    let mut stream = raw_session(server.address).await;
    stream
        .write_all(&[b'Q', 0, 0, 0, 100, b'S'])
        .await
        .expect("truncated");
    stream.shutdown().await.expect("half close");
    expect_closed(&mut stream).await;

    // Random bytes after startup.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..20 {
        let mut stream = raw_session(server.address).await;
        let mut noise = Vec::new();
        for _ in 0..64 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            noise.push(state as u8);
        }
        // Start with a valid type so the length and body get parsed.
        noise[0] = [b'P', b'B', b'D', b'E', b'C', b'Q'][(state % 6) as usize];
        noise[1] = 0;
        noise[2] = 0;
        let _ = stream.write_all(&noise).await;
        let _ = stream.write_all(&sync_message()).await;
        let _ = stream.shutdown().await;
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut sink)).await;
    }

    // The server still serves new clients.
    let client = connect(server.address).await;
    let messages = client
        .simple_query("SELECT 40 + 2")
        .await
        .expect("query after abuse");
    assert_eq!(simple_rows(&messages), vec![vec![Some("42".to_string())]]);
}

// ---- the real binary ------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_through_the_binary_keeps_every_row() {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let server = start_binary(data_dir.path()).await;
    let client = connect(server.address).await;
    client
        .batch_execute(
            "CREATE TABLE durable (id INTEGER PRIMARY KEY, name VARCHAR(20) NOT NULL, score REAL);
             INSERT INTO durable VALUES (1, 'one', 1.5), (2, 'two', NULL);",
        )
        .await
        .expect("create and insert");
    let insert = client
        .prepare("INSERT INTO durable VALUES ($1, $2, $3)")
        .await
        .expect("prepare");
    for id in 3..=100i32 {
        let score = id as f32 / 4.0;
        client
            .execute(&insert, &[&id, &format!("row {id}"), &score])
            .await
            .expect("insert");
    }
    client
        .batch_execute("BEGIN; DELETE FROM durable WHERE id = 50; COMMIT")
        .await
        .expect("delete");
    drop(client);

    let status = stop_binary(server).await;
    assert_eq!(status.code(), Some(0), "graceful shutdown exits 0");

    let server = start_binary(data_dir.path()).await;
    let client = connect(server.address).await;
    let rows = client
        .query("SELECT id, name, score FROM durable ORDER BY id", &[])
        .await
        .expect("select after restart");
    assert_eq!(rows.len(), 99);
    assert_eq!(rows[0].get::<_, &str>(1), "one");
    assert_eq!(rows[0].get::<_, Option<f32>>(2), Some(1.5));
    assert_eq!(rows[1].get::<_, Option<f32>>(2), None);
    let ids: Vec<i32> = rows.iter().map(|row| row.get(0)).collect();
    let expected: Vec<i32> = (1..=100).filter(|id| *id != 50).collect();
    assert_eq!(ids, expected);
    for row in &rows[2..] {
        let id: i32 = row.get(0);
        assert_eq!(row.get::<_, &str>(1), format!("row {id}"));
        assert_eq!(row.get::<_, Option<f32>>(2), Some(id as f32 / 4.0));
    }
    drop(client);
    let status = stop_binary(server).await;
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn shutdown_closes_idle_connections_and_returns() {
    let mut server = start_server().await;
    let client = connect(server.address).await;
    client
        .batch_execute("CREATE TABLE kept (id INTEGER)")
        .await
        .expect("create");
    let mut raw = raw_session(server.address).await;
    drop(server.stop.take());
    let result = tokio::time::timeout(Duration::from_secs(15), &mut server.handle)
        .await
        .expect("serve returns within the grace period")
        .expect("serve task");
    assert!(result.is_ok(), "{result:?}");
    // An idle connection is told why it is closed: 57P01.
    let reply = read_reply(&mut raw).await.expect("a FATAL error");
    assert_eq!(reply.sqlstate().as_deref(), Some("57P01"));
    assert_eq!(reply.error_field(b'S').as_deref(), Some("FATAL"));
    expect_closed(&mut raw).await;
    assert!(client.simple_query("SELECT 1").await.is_err());
    assert!(
        TcpStream::connect(server.address).await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn connections_past_max_connections_are_refused_with_53300() {
    let database = basalt::Database::open_in_memory().expect("database");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let settings = basalt::server::ServerSettings { max_connections: 2 };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(basalt::server::serve_with(
        database,
        listener,
        async {
            let _ = stopped.await;
        },
        settings,
    ));
    let first = connect(address).await;
    let second = connect(address).await;
    let config = format!("host=127.0.0.1 port={} user=tester", address.port());
    let error = match tokio_postgres::connect(&config, NoTls).await {
        Ok(_) => panic!("a third connection must be refused"),
        Err(error) => error,
    };
    assert_eq!(
        error.code(),
        Some(&SqlState::TOO_MANY_CONNECTIONS),
        "{error}"
    );
    let message = error.as_db_error().map(|db| db.message().to_string());
    assert_eq!(message.as_deref(), Some("sorry, too many clients already"));
    // The two served are unaffected, and a slot freed is a slot to take.
    first
        .simple_query("SELECT 1")
        .await
        .expect("first still served");
    drop(second);
    let mut third = None;
    for _ in 0..100 {
        if let Ok((client, connection)) = tokio_postgres::connect(&config, NoTls).await {
            tokio::spawn(connection);
            third = Some(client);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let third = third.expect("a connection once another closed");
    let rows = third.simple_query("SELECT 2").await.expect("served");
    assert_eq!(simple_rows(&rows), vec![vec![Some("2".to_string())]]);
    drop(stop);
    let stopped = tokio::time::timeout(Duration::from_secs(15), server)
        .await
        .expect("serve returns")
        .expect("serve task");
    assert!(stopped.is_ok(), "{stopped:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_fsync_stops_the_server_at_once() {
    use basalt::storage::BTreeEngine;
    use basalt::storage::vfs::SimulatedFileSystem;
    let fs = SimulatedFileSystem::new(5);
    let engine = BTreeEngine::open_with(
        &basalt::Config::new("/sim/data"),
        std::sync::Arc::new(fs.clone()),
    )
    .expect("open");
    let database = basalt::Database::with_engine(std::sync::Arc::new(engine)).expect("database");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let server = tokio::spawn(basalt::server::serve(
        database,
        listener,
        std::future::pending::<()>(),
    ));
    let client = connect(address).await;
    client
        .batch_execute("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)")
        .await
        .expect("durable commits work");
    // The next fsync is this commit's WAL flush: it fails, and must not be
    // retried or papered over.
    fs.fail_next_sync();
    let failed = client.batch_execute("INSERT INTO t VALUES (2)").await;
    assert!(
        failed.is_err(),
        "a commit whose fsync failed cannot succeed"
    );
    let stopped = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server stops by itself after a failed fsync")
        .expect("serve task");
    let error = stopped.expect_err("a storage failure is an error exit");
    assert!(error.to_string().contains("storage failure"), "{error}");
    // Its connections do not live on without it.
    let after = tokio::time::timeout(Duration::from_secs(5), client.simple_query("SELECT 1"))
        .await
        .expect("the connection is closed, not left hanging");
    assert!(after.is_err(), "a statement after the stop must fail");
}

#[tokio::test]
async fn savepoints_recover_a_failed_block_over_both_protocols() {
    let server = start_server().await;
    let mut client = connect(server.address).await;
    client
        .batch_execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        .await
        .expect("create");
    // tokio-postgres' own savepoint API (SAVEPOINT, then ROLLBACK TO when
    // the nested transaction is dropped without commit, RELEASE on commit).
    let mut txn = client.transaction().await.expect("begin");
    txn.execute("INSERT INTO notes VALUES (1, 'kept')", &[])
        .await
        .expect("insert");
    {
        let nested = txn.savepoint("attempt").await.expect("savepoint");
        nested
            .execute("INSERT INTO notes VALUES (2, 'dropped')", &[])
            .await
            .expect("insert in savepoint");
        let duplicate = nested
            .execute("INSERT INTO notes VALUES (1, 'duplicate')", &[])
            .await;
        assert_code(duplicate, SqlState::UNIQUE_VIOLATION);
        nested
            .rollback()
            .await
            .expect("ROLLBACK TO repairs the block");
    }
    {
        let nested = txn.savepoint("second").await.expect("savepoint");
        nested
            .execute("INSERT INTO notes VALUES (3, 'released')", &[])
            .await
            .expect("insert");
        nested.commit().await.expect("RELEASE");
    }
    // The extended protocol: ROLLBACK TO is the one statement a failed block
    // accepts besides ROLLBACK and COMMIT.
    txn.execute("SAVEPOINT manual", &[])
        .await
        .expect("savepoint");
    assert_code(
        txn.execute("SELECT * FROM missing", &[]).await,
        SqlState::UNDEFINED_TABLE,
    );
    assert_code(
        txn.execute("SELECT 1", &[]).await,
        SqlState::IN_FAILED_SQL_TRANSACTION,
    );
    txn.execute("ROLLBACK TO manual", &[])
        .await
        .expect("rollback to over the extended protocol");
    assert_code(
        txn.execute("RELEASE nowhere", &[]).await,
        SqlState::S_E_INVALID_SPECIFICATION,
    );
    txn.execute("ROLLBACK TO manual", &[])
        .await
        .expect("repairs again");
    txn.commit().await.expect("commit");
    let bodies: Vec<String> = client
        .query("SELECT body FROM notes ORDER BY id", &[])
        .await
        .expect("select")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(bodies, ["kept", "released"]);
}

#[tokio::test]
async fn conflicting_writers_wait_deadlock_with_40p01_and_honour_lock_timeout() {
    let server = start_server().await;
    let first = connect(server.address).await;
    let second = connect(server.address).await;
    first
        .batch_execute(
            "CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance BIGINT);
             INSERT INTO accounts VALUES (1, 100), (2, 100)",
        )
        .await
        .expect("setup");

    // The second writer of a row waits until the first ends; a rollback
    // lets it through.
    first
        .batch_execute("BEGIN; UPDATE accounts SET balance = 0 WHERE id = 1")
        .await
        .expect("first update");
    let waiting = {
        let second = &second;
        async move {
            second
                .batch_execute("BEGIN; UPDATE accounts SET balance = 50 WHERE id = 1")
                .await
        }
    };
    let rollback_later = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        first.batch_execute("ROLLBACK").await
    };
    let (waited, rolled_back) = tokio::join!(waiting, rollback_later);
    rolled_back.expect("rollback");
    waited.expect("the waiting update goes ahead after the rollback");

    // Crossed updates: the one closing the cycle fails with 40P01, the other
    // goes on once the victim's block is rolled back.
    first
        .batch_execute("BEGIN; UPDATE accounts SET balance = 1 WHERE id = 2")
        .await
        .expect("first takes row 2");
    let first_blocked = async {
        first
            .batch_execute("UPDATE accounts SET balance = 1 WHERE id = 1")
            .await
    };
    let second_closes_cycle = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let result = second
            .batch_execute("UPDATE accounts SET balance = 2 WHERE id = 2")
            .await;
        assert_code(result, SqlState::T_R_DEADLOCK_DETECTED);
        second.batch_execute("ROLLBACK").await
    };
    let (blocked, victim) = tokio::join!(first_blocked, second_closes_cycle);
    victim.expect("victim rolls back");
    blocked.expect("the survivor's update completes");
    first.batch_execute("COMMIT").await.expect("commit");

    // lock_timeout bounds the wait.
    first
        .batch_execute("BEGIN; UPDATE accounts SET balance = 7 WHERE id = 1")
        .await
        .expect("hold row 1");
    second
        .batch_execute("SET lock_timeout = '50ms'")
        .await
        .expect("set");
    assert_code(
        second
            .batch_execute("UPDATE accounts SET balance = 8 WHERE id = 1")
            .await,
        SqlState::LOCK_NOT_AVAILABLE,
    );
    first.batch_execute("COMMIT").await.expect("commit");
    let balances: Vec<i64> = first
        .query("SELECT balance FROM accounts ORDER BY id", &[])
        .await
        .expect("select")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(balances, [7, 1]);
}

/// Input nested or chained deeper than the stack allows is refused with
/// 54001, as PostgreSQL refuses it, and never overflows the stack of the
/// server process (which would end every connection). Runs the binary, so
/// the server's own thread stacks and limits are the ones tested.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_and_huge_statements_are_refused_or_run_never_crash() {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let server = start_binary(data_dir.path()).await;
    let client = connect(server.address).await;
    let chain = |terms: usize, operator: &str| vec!["1"; terms].join(operator);
    let unions = |terms: usize| vec!["SELECT 1"; terms].join(" UNION ALL ");
    let too_deep = [
        format!("SELECT {}", chain(100_000, "+")),
        format!("SELECT 1 WHERE {}", chain(100_000, " = 1 OR 1")),
        format!("SELECT {}", chain(20_000, "||")),
        format!("SELECT 1{}", "::int".repeat(20_000)),
        format!("SELECT {}1{}", "(".repeat(5_000), ")".repeat(5_000)),
        format!("SELECT {}1{}", "(SELECT ".repeat(1_000), ")".repeat(1_000)),
        format!("SELECT {}1", "- ".repeat(5_000)),
        format!("SELECT count(*) FROM ({}) u", unions(20_000)),
        format!("EXPLAIN SELECT count(*) FROM ({}) u", unions(20_000)),
        format!("CREATE VIEW deep AS SELECT {} AS x", chain(100_000, "+")),
    ];
    for sql in &too_deep {
        let error = client.simple_query(sql).await.expect_err("too deep to run");
        assert_eq!(
            code(&error),
            Some(&SqlState::STATEMENT_TOO_COMPLEX),
            "{error} for {}…",
            &sql[..40]
        );
    }
    // sqlparser reports prefix NOTs beyond its recursion limit as a syntax
    // error, as PostgreSQL's parser does past its own stack ("memory
    // exhausted", 42601).
    let error = client
        .simple_query(&format!("SELECT {}true", "NOT ".repeat(5_000)))
        .await
        .expect_err("too deep to parse");
    assert!(
        matches!(
            code(&error),
            Some(&SqlState::STATEMENT_TOO_COMPLEX | &SqlState::SYNTAX_ERROR)
        ),
        "{error}"
    );
    // Deep but within PostgreSQL's reach, and wide input, runs.
    let rows = client
        .query(&format!("SELECT {}", chain(2_000, "+")), &[])
        .await
        .expect("a chain of 2,000 additions");
    assert_eq!(rows[0].get::<_, i32>(0), 2_000);
    let rows = client
        .query(&format!("SELECT count(*) FROM ({}) u", unions(500)), &[])
        .await
        .expect("500 UNION ALL branches");
    assert_eq!(rows[0].get::<_, i64>(0), 500);
    let list: Vec<String> = (0..200_000).map(|i| i.to_string()).collect();
    let rows = client
        .query(
            &format!("SELECT 1 WHERE 199999 IN ({})", list.join(",")),
            &[],
        )
        .await
        .expect("an IN list of 200,000 values");
    assert_eq!(rows.len(), 1);
    let values: Vec<String> = (0..100_000).map(|i| format!("({i})")).collect();
    let rows = client
        .query(
            &format!("SELECT sum(v) FROM (VALUES {}) t (v)", values.join(",")),
            &[],
        )
        .await
        .expect("VALUES of 100,000 rows");
    assert_eq!(rows[0].get::<_, i64>(0), 4_999_950_000);
    let tables: Vec<String> = (0..2_000).map(|i| format!("(SELECT 1) t{i}")).collect();
    let error = client
        .simple_query(&format!("SELECT 1 FROM {}", tables.join(", ")))
        .await
        .expect_err("2,000 relations");
    assert_eq!(code(&error), Some(&SqlState::STATEMENT_TOO_COMPLEX));
    // A view over a view over … 300 deep is expanded at bind.
    client
        .batch_execute("CREATE VIEW level0 AS SELECT 1 AS x")
        .await
        .expect("base view");
    for level in 1..=300 {
        client
            .batch_execute(&format!(
                "CREATE VIEW level{level} AS SELECT x + 1 AS x FROM level{}",
                level - 1
            ))
            .await
            .expect("stacked view");
    }
    let rows = client
        .query("SELECT x FROM level300", &[])
        .await
        .expect("view 300 deep");
    assert_eq!(rows[0].get::<_, i32>(0), 301);
    // After all of it, the same connection and server still answer.
    let rows = client.query("SELECT 42", &[]).await.expect("still up");
    assert_eq!(rows[0].get::<_, i32>(0), 42);
    drop(client);
    let status = stop_binary(server).await;
    assert_eq!(status.code(), Some(0), "the server never crashed");
}

/// Connects and collects the server's notices (severity, SQLSTATE,
/// message) as they arrive.
async fn connect_with_notices(
    address: std::net::SocketAddr,
) -> (
    Client,
    tokio::sync::mpsc::UnboundedReceiver<(String, String, String)>,
) {
    use futures::StreamExt;
    let config = format!(
        "host=127.0.0.1 port={} user=tester dbname=test",
        address.port()
    );
    let (client, mut connection) = tokio_postgres::connect(&config, NoTls)
        .await
        .expect("connect");
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notice(notice) = message {
                let _ = sender.send((
                    notice.severity().to_string(),
                    notice.code().code().to_string(),
                    notice.message().to_string(),
                ));
            }
        }
    });
    (client, receiver)
}

#[tokio::test]
async fn notices_say_what_a_statement_skipped_or_did_differently() {
    let server = start_server().await;
    let (client, mut notices) = connect_with_notices(server.address).await;
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(10), notices.recv())
            .await
            .expect("a notice in time")
            .expect("the connection is open")
    };
    client
        .batch_execute("CREATE TABLE t (a int); CREATE TABLE IF NOT EXISTS t (b int)")
        .await
        .expect("create");
    assert_eq!(
        next().await,
        (
            "NOTICE".into(),
            "42P07".into(),
            "relation \"t\" already exists, skipping".into()
        )
    );
    // Each missing name of a DROP … IF EXISTS, in order.
    client
        .simple_query("DROP TABLE IF EXISTS nope, t")
        .await
        .expect("drop");
    assert_eq!(
        next().await.2,
        "table \"nope\" does not exist, skipping".to_string()
    );
    client
        .batch_execute("CREATE TABLE t (a int)")
        .await
        .expect("create again");
    // CONCURRENTLY runs as a plain build, and says so; through the
    // extended protocol too.
    client
        .execute("CREATE INDEX CONCURRENTLY t_a ON t (a)", &[])
        .await
        .expect("create index concurrently");
    let (severity, code, message) = next().await;
    assert_eq!((severity.as_str(), code.as_str()), ("NOTICE", "00000"));
    assert!(
        message.starts_with("CREATE INDEX CONCURRENTLY ran as a plain build"),
        "{message}"
    );
    client
        .execute("DROP INDEX IF EXISTS t_nope", &[])
        .await
        .expect("drop index");
    assert_eq!(
        next().await.2,
        "index \"t_nope\" does not exist, skipping".to_string()
    );
    // A statement with nothing to say sends no notice.
    client.execute("DROP INDEX t_a", &[]).await.expect("drop");
    client
        .simple_query("SELECT 1")
        .await
        .expect("a round trip after the drop");
    assert!(notices.try_recv().is_err());
}

#[tokio::test]
async fn session_functions_report_the_startup_user_database_and_pid() {
    let server = start_server().await;
    let client = connect(server.address).await;
    let row = client
        .query_one(
            "SELECT current_user, session_user, current_database(), current_schema(), \
             version(), pg_backend_pid()",
            &[],
        )
        .await
        .expect("session functions");
    assert_eq!(row.get::<_, String>(0), "tester");
    assert_eq!(row.get::<_, String>(1), "tester");
    assert_eq!(row.get::<_, String>(2), "test");
    assert_eq!(row.get::<_, String>(3), "public");
    assert!(row.get::<_, String>(4).starts_with("PostgreSQL 15."));
    assert!(row.get::<_, i32>(5) > 0);
    // Without a database name, PostgreSQL's default is the user's name.
    let config = format!("host=127.0.0.1 port={} user=ann", server.address.port());
    let (other, connection) = tokio_postgres::connect(&config, NoTls)
        .await
        .expect("connect without a database");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let row = other
        .query_one("SELECT current_database(), current_user", &[])
        .await
        .expect("defaults");
    assert_eq!(row.get::<_, String>(0), "ann");
    assert_eq!(row.get::<_, String>(1), "ann");
}

#[tokio::test]
async fn char_values_arrive_blank_padded_as_bpchar() {
    let server = start_server().await;
    let client = connect(server.address).await;
    client
        .batch_execute("CREATE TABLE codes (code char(4) PRIMARY KEY, label char(6))")
        .await
        .expect("create");
    // A text parameter into char(4): padded on the way in.
    client
        .execute("INSERT INTO codes VALUES ($1, $2)", &[&"ab", &"x"])
        .await
        .expect("insert");
    let statement = client
        .prepare("SELECT code, label FROM codes WHERE code = $1")
        .await
        .expect("prepare");
    assert_eq!(statement.columns()[0].type_(), &Type::BPCHAR);
    // The lookup matches with or without the padding written out.
    for key in ["ab", "ab  "] {
        let row = client.query_one(&statement, &[&key]).await.expect("select");
        assert_eq!(row.get::<_, String>(0), "ab  ");
        assert_eq!(row.get::<_, String>(1), "x     ");
    }
    let rows = client
        .simple_query("SELECT code, length(code), code || '|' FROM codes")
        .await
        .expect("simple");
    let row = rows
        .iter()
        .find_map(|message| match message {
            SimpleQueryMessage::Row(row) => Some(row),
            _ => None,
        })
        .expect("a row");
    assert_eq!(row.get(0), Some("ab  "));
    assert_eq!(row.get(1), Some("2"));
    assert_eq!(row.get(2), Some("ab|"));
    let error = client
        .execute("INSERT INTO codes VALUES ($1, 'y')", &[&"abcde"])
        .await
        .expect_err("too long");
    assert_eq!(error.code(), Some(&SqlState::STRING_DATA_RIGHT_TRUNCATION));
}

#[tokio::test]
async fn returning_rows_arrive_with_the_statement_tag() {
    let server = start_server().await;
    let client = connect(server.address).await;
    client
        .batch_execute("CREATE TABLE notes (id bigserial PRIMARY KEY, body text NOT NULL)")
        .await
        .expect("create");
    // Simple protocol: the rows, then INSERT's own tag (its row count).
    let messages = client
        .simple_query("INSERT INTO notes (body) VALUES ('a'), ('b') RETURNING id, upper(body)")
        .await
        .expect("insert");
    assert_eq!(
        simple_rows(&messages),
        [
            vec![Some("1".to_string()), Some("A".to_string())],
            vec![Some("2".to_string()), Some("B".to_string())]
        ]
    );
    assert_eq!(command_counts(&messages), [2]);
    // Extended protocol: described columns, typed values, a parameter.
    let statement = client
        .prepare("INSERT INTO notes (body) VALUES ($1) RETURNING id, body")
        .await
        .expect("prepare");
    assert_eq!(statement.columns()[0].type_(), &Type::INT8);
    assert_eq!(statement.columns()[1].name(), "body");
    let row = client.query_one(&statement, &[&"c"]).await.expect("insert");
    assert_eq!(row.get::<_, i64>(0), 3);
    assert_eq!(row.get::<_, String>(1), "c");
    // execute() counts the rows of a RETURNING statement from its tag.
    let updated = client
        .execute("UPDATE notes SET body = body || '!' RETURNING id", &[])
        .await
        .expect("update");
    assert_eq!(updated, 3);
    let deleted = client
        .query("DELETE FROM notes WHERE id > $1 RETURNING body", &[&1i64])
        .await
        .expect("delete");
    let mut bodies: Vec<String> = deleted.iter().map(|row| row.get(0)).collect();
    bodies.sort();
    assert_eq!(bodies, ["b!", "c!"]);
    // A failing RETURNING expression undoes the whole statement.
    let error = client
        .simple_query("INSERT INTO notes (body) VALUES ('x'), ('y') RETURNING 1 / (id - 5)")
        .await
        .expect_err("division by zero");
    assert_eq!(code(&error), Some(&SqlState::DIVISION_BY_ZERO));
    let count: i64 = client
        .query_one("SELECT count(*) FROM notes", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(count, 1);
}
