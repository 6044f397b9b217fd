//! Accepting connections and shutting down gracefully.
//!
//! [`serve`] owns the [`Database`] for the server's lifetime. It accepts
//! connections until its `shutdown` future resolves, running each one as a
//! tokio task ([`Connection::run`]). Shutdown then goes:
//!
//! 1. stop accepting (the listener is dropped, so new connects are refused);
//! 2. raise the shutdown flag: every connection finishes the messages it
//!    has already received (an in-flight statement is never interrupted),
//!    and when it next waits for input it sends FATAL `57P01` and closes;
//! 3. wait up to [`SHUTDOWN_GRACE`] for the connections, then abort the
//!    stragglers;
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

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::database::Database;
use crate::error::{Error, Result};

use super::connection::Connection;

/// How long shutdown waits for connections to finish their work.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How often the server checks for a fatal storage failure.
pub const FATAL_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// Serves PostgreSQL clients on `listener` until `shutdown` resolves, then
/// shuts down gracefully (see the module docs) and returns the result of
/// [`Database::shutdown`].
pub async fn serve(
    database: Database,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let (shutdown_sender, shutdown_receiver) = watch::channel(false);
    let mut connections = JoinSet::new();
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
                    // Small responses (ReadyForQuery) must not wait for Nagle.
                    if let Err(error) = stream.set_nodelay(true) {
                        tracing::debug!(%peer, %error, "could not set TCP_NODELAY");
                    }
                    tracing::debug!(%peer, "connection accepted");
                    let connection =
                        Connection::new(stream, peer, &database, shutdown_receiver.clone());
                    connections.spawn(connection.run());
                }
                Err(error) => {
                    // Typically EMFILE: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(finished) = connections.join_next(), if !connections.is_empty() => {
                log_connection_end(finished);
            }
        }
    }
    drop(listener);
    tracing::info!(
        connections = connections.len(),
        "shutting down: no longer accepting connections"
    );
    // Receivers treat a dropped sender as shutdown too, so the send result
    // does not matter.
    let _ = shutdown_sender.send(true);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while let Some(finished) = connections.join_next().await {
            log_connection_end(finished);
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = connections.len(),
            "connections still busy after the grace period; aborting them"
        );
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
    tracing::info!("flushing the database");
    tokio::task::spawn_blocking(move || database.shutdown())
        .await
        .map_err(|error| Error::Internal(format!("database shutdown task failed: {error}")))?
}

/// A connection task that panicked is logged; the server keeps running.
fn log_connection_end(finished: std::result::Result<(), tokio::task::JoinError>) {
    if let Err(error) = finished
        && error.is_panic()
    {
        tracing::error!(%error, "a connection task panicked");
    }
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
