//! Sessions: the SQL layer's face toward the server.
//!
//! ```text
//!   Session::parse ──► ParsedStatement
//!        │──prepare──► Prepared { param_types, columns, cached plan }
//!        └──execute(Prepared, params)──► Outcome ──fetch(cursor, n)──► rows
//! ```
//!
//! `state.rs` holds [`Session`] and its transaction state machine,
//! `statement.rs` prepared statements, plan caching and cursors,
//! `settings.rs` SET and SHOW, `identity.rs` who the session is. An [`Instance`] is what every session of
//! one database shares: the MVCC store and the catalog generation that
//! invalidates cached plans.

mod ddl;
mod identity;
mod sequence_ddl;
mod settings;
mod state;
mod statement;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use identity::{Identity, version_string};
pub use settings::SERVER_VERSION;
pub use state::{Session, TransactionStatus};
pub use statement::{Cursor, Notice, Outcome, Prepared};

use crate::error::Result;
use crate::sql::catalog;
use crate::sql::execution::spill::SpillSpace;
pub use crate::sql::plan::Column;
use crate::sql::sequence::Sequences;
use crate::txn::Mvcc;

/// What the sessions of one database share.
pub struct Instance {
    mvcc: Arc<Mvcc>,
    /// Raised after every commit that changed the catalog; a cached plan is
    /// used only under the generation it was made for.
    generation: AtomicU64,
    /// The spill directory every query of this database uses.
    spill: Arc<SpillSpace>,
    /// The positions of the database's sequences.
    sequences: Arc<Sequences>,
}

impl Instance {
    /// The SQL layer over an open MVCC store (creates the catalog on first
    /// use), spilling to `spill`.
    pub fn open(mvcc: Arc<Mvcc>, spill: Arc<SpillSpace>) -> Result<Arc<Instance>> {
        catalog::initialize(&mvcc)?;
        crate::sql::statistics::store::initialize(&mvcc)?;
        Ok(Arc::new(Instance {
            sequences: Arc::new(Sequences::new(Arc::clone(&mvcc))),
            mvcc,
            generation: AtomicU64::new(0),
            spill,
        }))
    }

    /// A new session.
    pub fn session(self: &Arc<Self>) -> Session {
        Session::new(Arc::clone(self))
    }

    pub fn mvcc(&self) -> &Arc<Mvcc> {
        &self.mvcc
    }

    /// The positions of the database's sequences.
    pub fn sequences(&self) -> &Arc<Sequences> {
        &self.sequences
    }

    /// Where this database's queries spill.
    pub fn spill_space(&self) -> &Arc<SpillSpace> {
        &self.spill
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A transaction that changed the catalog committed.
    pub(crate) fn catalog_changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}
