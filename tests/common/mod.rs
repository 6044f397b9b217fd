//! Helpers shared by the wire tests: an in-process server, a connected
//! tokio-postgres client, simple-query result extraction, and a minimal raw
//! protocol client for bytes no driver would send.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use basalt::Database;
use basalt::server::serve;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

/// An in-process server over an in-memory database. Dropping `stop` (or
/// the whole struct) asks the server to shut down.
pub struct TestServer {
    pub address: SocketAddr,
    pub stop: Option<oneshot::Sender<()>>,
    /// The serve task: resolves with `serve`'s result once shut down.
    pub handle: tokio::task::JoinHandle<basalt::Result<()>>,
}

pub async fn start_server() -> TestServer {
    let database = Database::open_in_memory().expect("open in-memory database");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("local address");
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        serve(database, listener, shutdown).await
    });
    TestServer {
        address,
        stop: Some(stop),
        handle,
    }
}

pub async fn connect(address: SocketAddr) -> Client {
    let config = format!(
        "host=127.0.0.1 port={} user=tester dbname=test",
        address.port()
    );
    let (client, connection) = tokio_postgres::connect(&config, NoTls)
        .await
        .expect("connect");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

pub fn code(error: &tokio_postgres::Error) -> Option<&SqlState> {
    error.code()
}

/// Asserts that a client call failed with the given SQLSTATE.
#[track_caller]
pub fn assert_code<T: std::fmt::Debug>(
    result: Result<T, tokio_postgres::Error>,
    expected: SqlState,
) {
    match result {
        Ok(value) => panic!(
            "expected SQLSTATE {}, got success: {value:?}",
            expected.code()
        ),
        Err(error) => assert_eq!(error.code(), Some(&expected), "{error}"),
    }
}

/// The data rows of a simple-query response, as text.
pub fn simple_rows(messages: &[SimpleQueryMessage]) -> Vec<Vec<Option<String>>> {
    messages
        .iter()
        .filter_map(|message| match message {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|index| row.get(index).map(str::to_string))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

/// The row counts of every CommandComplete in a simple-query response.
pub fn command_counts(messages: &[SimpleQueryMessage]) -> Vec<u64> {
    messages
        .iter()
        .filter_map(|message| match message {
            SimpleQueryMessage::CommandComplete(count) => Some(*count),
            _ => None,
        })
        .collect()
}

/// A backend message: type byte and body.
#[derive(Debug)]
pub struct Reply {
    pub kind: u8,
    pub body: Vec<u8>,
}

impl Reply {
    /// The SQLSTATE (field `C`) of an ErrorResponse.
    pub fn sqlstate(&self) -> Option<String> {
        self.error_field(b'C')
    }

    pub fn error_field(&self, field: u8) -> Option<String> {
        if self.kind != b'E' {
            return None;
        }
        let mut rest = &self.body[..];
        while let Some((&code, tail)) = rest.split_first() {
            if code == 0 {
                break;
            }
            let end = tail.iter().position(|byte| *byte == 0)?;
            if code == field {
                return Some(String::from_utf8_lossy(&tail[..end]).into_owned());
            }
            rest = &tail[end + 1..];
        }
        None
    }
}

pub async fn read_reply(stream: &mut TcpStream) -> Option<Reply> {
    let read = async {
        let kind = stream.read_u8().await.ok()?;
        let length = stream.read_i32().await.ok()?;
        let mut body = vec![0; usize::try_from(length - 4).ok()?];
        stream.read_exact(&mut body).await.ok()?;
        Some(Reply { kind, body })
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .ok()
        .flatten()
}

/// Reads replies up to and including ReadyForQuery.
pub async fn read_until_ready(stream: &mut TcpStream) -> Vec<Reply> {
    let mut replies = Vec::new();
    while let Some(reply) = read_reply(stream).await {
        let done = reply.kind == b'Z';
        replies.push(reply);
        if done {
            break;
        }
    }
    replies
}

pub fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut bytes = vec![kind];
    bytes.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
    bytes.extend_from_slice(body);
    bytes
}

pub fn startup_packet(user: &str) -> Vec<u8> {
    let mut body = 196_608i32.to_be_bytes().to_vec();
    for part in ["user", user, "database", "test", ""] {
        body.extend_from_slice(part.as_bytes());
        body.push(0);
    }
    let mut packet = (body.len() as i32 + 4).to_be_bytes().to_vec();
    packet.extend_from_slice(&body);
    packet
}

/// A raw connection past startup, with the greeting checked.
pub async fn raw_session(address: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.expect("connect raw");
    stream
        .write_all(&startup_packet("raw"))
        .await
        .expect("send startup");
    let greeting = read_until_ready(&mut stream).await;
    let kinds: Vec<u8> = greeting.iter().map(|reply| reply.kind).collect();
    assert_eq!(
        kinds.first(),
        Some(&b'R'),
        "AuthenticationOk first: {greeting:?}"
    );
    assert_eq!(kinds.iter().filter(|kind| **kind == b'S').count(), 13);
    assert!(kinds.contains(&b'K'), "BackendKeyData");
    assert_eq!(
        greeting.last().map(|reply| reply.body.clone()),
        Some(b"I".to_vec())
    );
    stream
}

pub fn parse_message(name: &str, sql: &str, oids: &[u32]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(name.as_bytes());
    body.push(0);
    body.extend_from_slice(sql.as_bytes());
    body.push(0);
    body.extend_from_slice(&(oids.len() as i16).to_be_bytes());
    for oid in oids {
        body.extend_from_slice(&oid.to_be_bytes());
    }
    message(b'P', &body)
}

pub fn bind_message(
    portal: &str,
    statement: &str,
    formats: &[i16],
    parameters: &[Option<&[u8]>],
) -> Vec<u8> {
    let mut body = Vec::new();
    for name in [portal, statement] {
        body.extend_from_slice(name.as_bytes());
        body.push(0);
    }
    body.extend_from_slice(&(formats.len() as i16).to_be_bytes());
    for format in formats {
        body.extend_from_slice(&format.to_be_bytes());
    }
    body.extend_from_slice(&(parameters.len() as i16).to_be_bytes());
    for parameter in parameters {
        match parameter {
            Some(bytes) => {
                body.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                body.extend_from_slice(bytes);
            }
            None => body.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    body.extend_from_slice(&0i16.to_be_bytes());
    message(b'B', &body)
}

pub fn named(kind: u8, subtype: u8, name: &str) -> Vec<u8> {
    let mut body = vec![subtype];
    body.extend_from_slice(name.as_bytes());
    body.push(0);
    message(kind, &body)
}

pub fn execute_message(portal: &str, max_rows: i32) -> Vec<u8> {
    let mut body = portal.as_bytes().to_vec();
    body.push(0);
    body.extend_from_slice(&max_rows.to_be_bytes());
    message(b'E', &body)
}

pub fn sync_message() -> Vec<u8> {
    message(b'S', &[])
}

pub fn kinds(replies: &[Reply]) -> String {
    replies.iter().map(|reply| char::from(reply.kind)).collect()
}

pub fn sqlstates(replies: &[Reply]) -> Vec<String> {
    replies.iter().filter_map(Reply::sqlstate).collect()
}

/// The server must answer garbage with an error and/or close, never crash.
pub async fn expect_closed(stream: &mut TcpStream) {
    let mut sink = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut sink)).await;
    assert!(
        closed.is_ok(),
        "the server should close a broken connection"
    );
}

// ---- the real binary ------------------------------------------------------

/// A `basalt serve` child process on a free port.
pub struct BinaryServer {
    pub child: Child,
    pub address: SocketAddr,
}

impl Drop for BinaryServer {
    /// A failing test must not leave a server running (it would also keep
    /// the test's output pipes open).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn spawn_binary(data_dir: &std::path::Path) -> BinaryServer {
    let mut child = Command::new(env!("CARGO_BIN_EXE_basalt"))
        .arg("serve")
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn basalt");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let address = loop {
        let line = lines
            .next()
            .expect("basalt exited before announcing its address")
            .expect("read stdout");
        if let Some(address) = line.strip_prefix("listening on ") {
            break address.trim().parse().expect("announced address");
        }
    };
    BinaryServer { child, address }
}

/// Runs `basalt check` over `data_dir` (recovering it first); panics
/// unless it succeeds, and returns what it printed.
pub fn check_binary(data_dir: &std::path::Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_basalt"))
        .arg("check")
        .arg("--data-dir")
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run basalt check");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "basalt check failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// [`spawn_binary`] from async code (it blocks until the server listens).
pub async fn start_binary(data_dir: &std::path::Path) -> BinaryServer {
    let path = data_dir.to_path_buf();
    tokio::task::spawn_blocking(move || spawn_binary(&path))
        .await
        .expect("spawn")
}

/// [`terminate`] from async code; returns the server's exit status.
pub async fn stop_binary(mut server: BinaryServer) -> std::process::ExitStatus {
    tokio::task::spawn_blocking(move || terminate(&mut server))
        .await
        .expect("stop")
}

pub fn terminate(server: &mut BinaryServer) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(server.child.id().to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -TERM failed");
    // Bounded wait: shutdown grace is 10 s; allow generous slack.
    for _ in 0..600 {
        if let Some(status) = server.child.try_wait().expect("wait for basalt") {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = server.child.kill();
    panic!("basalt did not exit after SIGTERM");
}

// ---- deterministic randomness for tests ------------------------------------

/// splitmix64: a tiny seeded generator, so a failing run replays exactly.
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound > 0`).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}
