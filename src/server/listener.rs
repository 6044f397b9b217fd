//! Accepting connections and shutting down gracefully.
//!
//! [`serve`] owns the [`Database`] for the server's lifetime. It accepts
//! connections on tokio until its `shutdown` future resolves, and gives
//! each one a thread of its own ([`Connection::run`], blocking I/O; see
//! connection.rs for why). The threads are registered in [`Connections`]
//! with a handle on their socket; past [`ServerSettings::max_connections`]
//! a new connection is answered FATAL 53300 after its startup packet.
//! Shutdown then goes:
//!
//! 1. stop accepting (the listener is dropped, so new connects are refused);
//! 2. raise the shutdown flag, then shut the read side of every registered
//!    socket, which wakes a connection blocked in a read: every connection
//!    finishes the messages it has already received (an in-flight
//!    statement is never interrupted), and when it next waits for input it
//!    sends FATAL `57P01` and closes;
//! 3. wait up to [`SHUTDOWN_GRACE`] for the connections, then shut the
//!    stragglers' sockets both ways and stop waiting for them;
//! 4. call [`Database::shutdown`], which flushes everything to disk.
//!
//! A storage failure is different: after a failed WAL or data-file fsync
//! nothing more can be made durable, and retrying could report lost writes
//! as saved (PostgreSQL's "fsyncgate"). [`serve`] checks
//! [`Database::fatal_error`] every [`FATAL_CHECK_INTERVAL`] and then returns
//! the error at once, without the graceful steps: the process exits and the
//! next start recovers from the WAL.
//!
//! [`ShutdownSignal`] turns SIGINT/SIGTERM into such a future. It is
//! installed before the server announces its address, so a signal sent by
//! someone who saw the announcement cannot hit the default handler.

use std::collections::HashMap;
use std::future::Future;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::database::Database;
use crate::error::{Error, Result};

use super::connection::Connection;

/// How long shutdown waits for connections to finish their work.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How often the server checks for a fatal storage failure.
pub const FATAL_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// The stack of a connection's thread. The SQL layer refuses deeper
/// recursion than its limit with 54001; the limit is this size less
/// [`STACK_HEADROOM`], which is left for the unchecked recursion of
/// dropping and cloning deep trees. Untouched stack pages are never
/// committed, so the size costs address space only.
pub const SESSION_STACK_SIZE: usize = 16 * 1024 * 1024;

/// The part of a connection thread's stack statements may not use.
const STACK_HEADROOM: usize = 4 * 1024 * 1024;

/// PostgreSQL's default `max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 100;

/// Settings of the server (not of the database it serves).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerSettings {
    /// Connections served at once. As in PostgreSQL, one more is answered
    /// FATAL 53300 ("sorry, too many clients already") after its startup
    /// packet, and closed: every connection is a thread, and a flood of
    /// them must not take the process's threads and memory.
    pub max_connections: usize,
}

impl Default for ServerSettings {
    fn default() -> ServerSettings {
        ServerSettings {
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// The live connections: a handle on each one's socket, so shutdown can
/// wake connections blocked in a read, and the flag they check.
struct Connections {
    sockets: Mutex<HashMap<u64, TcpStream>>,
    shutting_down: Arc<AtomicBool>,
    /// Notified by each connection's thread after it deregistered, for
    /// shutdown's wait (a notification with nobody waiting is kept).
    ended: Notify,
}

impl Connections {
    /// Raises the flag, then shuts each socket's read side: the order
    /// matters, so a connection that finds its read ended also finds the
    /// flag raised.
    fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
        for socket in self.sockets.lock().values() {
            // A socket the peer already closed may refuse; nothing to wake.
            let _ = socket.shutdown(Shutdown::Read);
        }
    }

    fn len(&self) -> usize {
        self.sockets.lock().len()
    }
}

/// Held by [`serve`]: however it ends (returning, failing or being
/// dropped), no connection outlives it for long, because every socket is
/// shut both ways and a connection's next read or write fails.
struct CloseOnExit(Arc<Connections>);

impl Drop for CloseOnExit {
    fn drop(&mut self) {
        self.0.shutting_down.store(true, Ordering::Release);
        for socket in self.0.sockets.lock().values() {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }
}

/// Serves PostgreSQL clients on `listener` until `shutdown` resolves, then
/// shuts down gracefully (see the module docs) and returns the result of
/// [`Database::shutdown`].
pub async fn serve(
    database: Database,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    serve_with(database, listener, shutdown, ServerSettings::default()).await
}

/// [`serve`] with the given settings.
pub async fn serve_with(
    database: Database,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    settings: ServerSettings,
) -> Result<()> {
    let connections = Arc::new(Connections {
        sockets: Mutex::new(HashMap::new()),
        shutting_down: Arc::new(AtomicBool::new(false)),
        ended: Notify::new(),
    });
    let close_on_exit = CloseOnExit(Arc::clone(&connections));
    let mut next_id = 0u64;
    let mut fatal_check = tokio::time::interval(FATAL_CHECK_INTERVAL);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = fatal_check.tick() => {
                if let Some(reason) = database.fatal_error() {
                    tracing::error!(%reason, "stopping at once: storage can no longer be trusted");
                    return Err(Error::Io(std::io::Error::other(format!(
                        "storage failure, stopping: {reason}"
                    ))));
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    next_id += 1;
                    let refused = connections.len() >= settings.max_connections;
                    start_connection(next_id, stream, peer, &database, &connections, refused);
                }
                Err(error) => {
                    // Typically EMFILE: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    tracing::info!(
        connections = connections.len(),
        "shutting down: no longer accepting connections"
    );
    connections.begin_shutdown();
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.len() > 0 {
            connections.ended.notified().await;
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = connections.len(),
            "connections still busy after the grace period; closing their sockets"
        );
    }
    drop(close_on_exit);
    tracing::info!("flushing the database");
    tokio::task::spawn_blocking(move || database.shutdown())
        .await
        .map_err(|error| Error::Internal(format!("database shutdown task failed: {error}")))?
}

/// Registers an accepted connection and starts its thread. A connection
/// that cannot get a thread (the process is out of them) is closed; the
/// server goes on. A `refused` one (over `max_connections`) gets a thread
/// only to read its startup packet and answer 53300.
fn start_connection(
    id: u64,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    database: &Database,
    connections: &Arc<Connections>,
    refused: bool,
) {
    let (socket, handle) = match blocking_socket(stream) {
        Ok(sockets) => sockets,
        Err(error) => {
            tracing::warn!(%peer, %error, "could not set up an accepted connection");
            return;
        }
    };
    connections.sockets.lock().insert(id, handle);
    tracing::debug!(%peer, "connection accepted");
    let mut connection = Connection::new(
        socket,
        peer,
        database,
        Arc::clone(&connections.shutting_down),
    );
    connection.refused = refused;
    let registry = Arc::clone(connections);
    let spawned = std::thread::Builder::new()
        .name("basalt-session".into())
        .stack_size(SESSION_STACK_SIZE)
        .spawn(move || {
            crate::sql::stack::set_thread_limit(SESSION_STACK_SIZE - STACK_HEADROOM);
            if catch_unwind(AssertUnwindSafe(|| connection.run())).is_err() {
                tracing::error!(%peer, "a connection's thread panicked");
            }
            registry.sockets.lock().remove(&id);
            registry.ended.notify_one();
        });
    if let Err(error) = spawned {
        tracing::warn!(%peer, %error, "could not start a thread for a connection");
        if let Some(socket) = connections.sockets.lock().remove(&id) {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }
}

/// The accepted socket as a blocking std socket, with Nagle off (small
/// responses such as ReadyForQuery must not wait), and a second handle on
/// it for the registry.
fn blocking_socket(stream: tokio::net::TcpStream) -> std::io::Result<(TcpStream, TcpStream)> {
    stream.set_nodelay(true)?;
    let socket = stream.into_std()?;
    socket.set_nonblocking(false)?;
    let handle = socket.try_clone()?;
    Ok((socket, handle))
}

/// SIGINT (Ctrl-C) or SIGTERM, installed up front.
pub struct ShutdownSignal {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    /// Installs the handlers. Must be called inside a tokio runtime.
    pub fn install() -> std::io::Result<ShutdownSignal> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(ShutdownSignal {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(ShutdownSignal {})
        }
    }

    /// Resolves at the first SIGINT or SIGTERM.
    pub async fn wait(self) {
        #[cfg(unix)]
        {
            let ShutdownSignal {
                mut interrupt,
                mut terminate,
            } = self;
            tokio::select! {
                _ = interrupt.recv() => tracing::info!("SIGINT received"),
                _ = terminate.recv() => tracing::info!("SIGTERM received"),
            }
        }
        #[cfg(not(unix))]
        {
            if let Err(error) = tokio::signal::ctrl_c().await {
                tracing::warn!(%error, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
        }
    }
}
