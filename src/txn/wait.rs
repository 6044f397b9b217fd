//! Waiting for another transaction: a writer that meets a version written by
//! a transaction that is still running waits for it to end, as in
//! PostgreSQL, instead of failing at once. The waits form a graph; a wait
//! that would close a cycle is a deadlock and fails with 40P01, and a wait
//! longer than the waiter's `lock_timeout` fails with 55P03.
//!
//! ```text
//!   T1 writes k ──────────────── (running) ─────────── commit/abort ─► notify
//!   T2 writes k: T1's version is uncommitted ─► edge T2 → T1, sleep ─► wakes,
//!      edge removed, checks k again (T1 aborted: go on; committed: the
//!      caller decides, 40001 at REPEATABLE READ and SERIALIZABLE)
//!   T1 then writes j, which T2 wrote: edge T1 → T2 would close
//!      T1 → T2 → T1: T1 gets 40P01 "deadlock detected" at once
//! ```
//!
//! Deviation from PostgreSQL: it checks for deadlock only after
//! `deadlock_timeout` (1 s) of waiting and picks the checking process as the
//! victim; here every wait checks at once (a graph walk over waits, each
//! transaction waiting for at most one other), so a deadlock costs no second
//! and the transaction closing the cycle is the victim.
//!
//! Invariants:
//! 1. `edges` holds `waiter → holder` exactly while the waiter sleeps in
//!    [`WaitGraph::wait_for`]; each transaction waits for at most one other,
//!    so following edges from any transaction is a path or ends in a cycle
//!    that includes the newest edge, which is never inserted.
//! 2. A transaction leaves the active set before [`WaitGraph::finished`] is
//!    called, and a waiter counts itself as sleeping, then checks "still
//!    running" under the graph's mutex before each sleep, so no wake-up is
//!    lost: `finished` either sees the count and notifies under the mutex,
//!    or ran before the count rose, and then the check sees the end.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::mvcc::TxnId;
use crate::error::{Error, Result, SqlState};

/// Who waits for whom, and the signal that some transaction ended.
#[derive(Default)]
pub struct WaitGraph {
    edges: Mutex<HashMap<TxnId, TxnId>>,
    finished: Condvar,
    /// How many transactions sleep in `wait_for`, so that `finished` (called
    /// at every commit) skips the mutex when nobody waits (invariant 2).
    sleeping: AtomicUsize,
}

impl WaitGraph {
    /// Blocks `waiter` until `holder` is no longer running (`running`
    /// returns false), failing with 40P01 if the wait closes a cycle and
    /// with 55P03 after `timeout` (`None`: no limit).
    pub fn wait_for(
        &self,
        waiter: TxnId,
        holder: TxnId,
        running: impl Fn() -> bool,
        timeout: Option<Duration>,
    ) -> Result<()> {
        let mut edges = self.edges.lock();
        if !running() {
            return Ok(());
        }
        let mut next = holder;
        while let Some(&waits_for) = edges.get(&next) {
            if waits_for == waiter {
                return Err(Error::sql(
                    SqlState::DEADLOCK_DETECTED,
                    format!(
                        "deadlock detected: transaction {waiter} would wait for transaction \
                         {holder}, whose waits lead back to transaction {waiter}"
                    ),
                ));
            }
            next = waits_for;
        }
        edges.insert(waiter, holder);
        // Counted before `running` is checked again below: a transaction
        // ending after this sees the count, one ending before is seen as
        // not running.
        self.sleeping.fetch_add(1, Ordering::SeqCst);
        let deadline = timeout.map(|timeout| Instant::now() + timeout);
        let outcome = loop {
            if !running() {
                break Ok(());
            }
            match deadline {
                Some(deadline) => {
                    if self.finished.wait_until(&mut edges, deadline).timed_out() && running() {
                        break Err(Error::sql(
                            SqlState::LOCK_NOT_AVAILABLE,
                            "canceling statement due to lock timeout",
                        ));
                    }
                }
                None => self.finished.wait(&mut edges),
            }
        };
        edges.remove(&waiter);
        self.sleeping.fetch_sub(1, Ordering::SeqCst);
        outcome
    }

    /// Wakes the waiters after a transaction ended (invariant 2).
    pub fn finished(&self) {
        if self.sleeping.load(Ordering::SeqCst) == 0 {
            return;
        }
        let _edges = self.edges.lock();
        self.finished.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    use super::*;

    #[test]
    fn a_wait_ends_when_the_holder_finishes_and_times_out_otherwise() {
        let graph = Arc::new(WaitGraph::default());
        let running = Arc::new(AtomicBool::new(true));
        let waiter = {
            let (graph, running) = (Arc::clone(&graph), Arc::clone(&running));
            std::thread::spawn(move || {
                graph.wait_for(2, 1, || running.load(Ordering::SeqCst), None)
            })
        };
        std::thread::sleep(Duration::from_millis(20));
        running.store(false, Ordering::SeqCst);
        graph.finished();
        waiter.join().unwrap().unwrap();

        let error = graph
            .wait_for(2, 1, || true, Some(Duration::from_millis(20)))
            .unwrap_err();
        assert_eq!(error.sqlstate().code(), "55P03");
        assert!(
            graph.edges.lock().is_empty(),
            "a failed wait leaves no edge"
        );
    }

    #[test]
    fn a_wait_that_closes_a_cycle_is_a_deadlock() {
        let graph = Arc::new(WaitGraph::default());
        let release = Arc::new(AtomicBool::new(false));
        // 1 waits for 2, 2 waits for 3; 3 waiting for 1 closes the cycle.
        let sleepers: Vec<_> = [(1, 2), (2, 3)]
            .into_iter()
            .map(|(waiter, holder)| {
                let (graph, release) = (Arc::clone(&graph), Arc::clone(&release));
                std::thread::spawn(move || {
                    graph.wait_for(waiter, holder, || !release.load(Ordering::SeqCst), None)
                })
            })
            .collect();
        while graph.edges.lock().len() < 2 {
            std::thread::yield_now();
        }
        let error = graph.wait_for(3, 1, || true, None).unwrap_err();
        assert_eq!(error.sqlstate().code(), "40P01");
        release.store(true, Ordering::SeqCst);
        graph.finished();
        for sleeper in sleepers {
            sleeper.join().unwrap().unwrap();
        }
    }

    mod through_mvcc {
        use std::sync::Arc;
        use std::time::Duration;

        use crate::txn::{IsolationLevel, Mvcc};

        use crate::txn::mvcc::tests::setup;

        /// The tree `setup` creates.
        const TREE: u64 = 7;

        /// Starts a second writer of the first transaction's key in a
        /// thread, checks that it waits, ends the first with `end_first`
        /// and returns the second writer's outcome.
        fn race(
            end_first: impl FnOnce(crate::txn::Transaction),
        ) -> (Arc<Mvcc>, crate::error::Result<()>) {
            let mvcc = setup();
            let mut first = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
            first.set(TREE, b"k", b"first").unwrap();
            let waiter = {
                let mvcc = Arc::clone(&mvcc);
                std::thread::spawn(move || {
                    let mut second = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
                    let result = second.set(TREE, b"k", b"second");
                    if result.is_ok() {
                        second.commit().unwrap();
                    }
                    result
                })
            };
            std::thread::sleep(Duration::from_millis(50));
            assert!(!waiter.is_finished(), "the second writer must wait");
            end_first(first);
            let result = waiter.join().unwrap();
            (mvcc, result)
        }

        fn value(mvcc: &Arc<Mvcc>) -> Option<Vec<u8>> {
            let mut txn = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
            txn.get(TREE, b"k").unwrap()
        }

        #[test]
        fn a_writer_waits_and_proceeds_when_the_other_rolls_back() {
            let (mvcc, result) = race(|first| first.rollback().unwrap());
            result.unwrap();
            assert_eq!(value(&mvcc), Some(b"second".to_vec()));
        }

        #[test]
        fn a_writer_waits_and_fails_with_40001_when_the_other_commits() {
            let (mvcc, result) = race(|first| first.commit().unwrap());
            assert_eq!(result.unwrap_err().sqlstate().code(), "40001");
            assert_eq!(value(&mvcc), Some(b"first".to_vec()));
        }

        #[test]
        fn crossed_writes_deadlock_and_one_victim_gets_40p01() {
            let mvcc = setup();
            let mut one = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
            let mut two = mvcc.begin(IsolationLevel::RepeatableRead).unwrap();
            one.set(TREE, b"a", b"one").unwrap();
            two.set(TREE, b"b", b"two").unwrap();
            let waiter = std::thread::spawn(move || {
                let result = one.set(TREE, b"b", b"one");
                (one, result)
            });
            std::thread::sleep(Duration::from_millis(50));
            let error = two.set(TREE, b"a", b"two").unwrap_err();
            assert_eq!(error.sqlstate().code(), "40P01");
            assert!(
                error.to_string().starts_with("deadlock detected"),
                "{error}"
            );
            two.rollback().unwrap();
            let (one, result) = waiter.join().unwrap();
            result.unwrap();
            one.commit().unwrap();
        }

        #[test]
        fn lock_timeout_bounds_the_wait_with_55p03() {
            let mvcc = setup();
            let mut first = mvcc.begin(IsolationLevel::ReadCommitted).unwrap();
            first.set(TREE, b"k", b"first").unwrap();
            let mut second = mvcc.begin(IsolationLevel::ReadCommitted).unwrap();
            second.set_lock_timeout(Some(Duration::from_millis(30)));
            let error = second.set(TREE, b"k", b"second").unwrap_err();
            assert_eq!(error.sqlstate().code(), "55P03");
            assert_eq!(error.to_string(), "canceling statement due to lock timeout");
            first.commit().unwrap();
        }
    }
}
