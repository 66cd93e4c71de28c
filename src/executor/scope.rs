//! A connection held out of the pool for a span of work, shared in turn by everything that runs
//! inside that span, and the nested scopes (transaction, savepoints) that use it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use sea_orm::DbBackend;
use tokio::sync::Mutex as AsyncMutex;

use crate::error::TransactionProblem;
use crate::pool::PooledConn;
use crate::{Db, Error, Result};

static SAVEPOINTS: AtomicU64 = AtomicU64::new(1);

/// A callback registered with `on_commit`.
pub(crate) type Callback = Box<dyn FnOnce() + Send>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The connection a transaction holds, shared by its savepoints and by every statement, stream
/// and task running inside it. One user at a time: a statement locks it for its whole exchange,
/// a scope's end waits for the lock, so it never races the work still in flight.
pub(crate) struct HeldConn {
    /// `None` once the outermost scope has ended (or given up on) the connection.
    conn: AsyncMutex<Option<PooledConn>>,
    /// Statements owed before the next one: the `ROLLBACK TO SAVEPOINT` of a savepoint scope
    /// that was dropped unfinished while its connection was busy elsewhere or clean.
    owed: Mutex<Vec<String>>,
    backend: DbBackend,
}

impl HeldConn {
    pub(crate) fn new(conn: PooledConn) -> Arc<HeldConn> {
        Arc::new(HeldConn {
            backend: conn.backend(),
            conn: AsyncMutex::new(Some(conn)),
            owed: Mutex::new(Vec::new()),
        })
    }
}

/// One open scope on a held connection: the transaction itself (depth 0) or a savepoint in it.
pub(crate) struct Scope {
    pool: usize,
    alias: String,
    held: Arc<HeldConn>,
    depth: usize,
    /// Unique per savepoint: concurrent branches of one scope may each open one.
    savepoint: u64,
    open: AtomicBool,
    broken: Mutex<Option<String>>,
    on_commit: Mutex<Vec<Callback>>,
    pub(crate) parent: Option<Arc<Scope>>,
}

/// Exclusive use of a scope's connection for one exchange (or a scope's end).
pub(crate) struct ScopeConn<'a> {
    guard: tokio::sync::MutexGuard<'a, Option<PooledConn>>,
}

impl std::ops::Deref for ScopeConn<'_> {
    type Target = PooledConn;
    fn deref(&self) -> &PooledConn {
        self.guard.as_ref().expect("checked when locked")
    }
}

impl std::ops::DerefMut for ScopeConn<'_> {
    fn deref_mut(&mut self) -> &mut PooledConn {
        self.guard.as_mut().expect("checked when locked")
    }
}

impl ScopeConn<'_> {
    /// Gives the connection up: it leaves the scope (back to the pool if clean, else closed).
    pub(crate) fn release(mut self) {
        drop(self.guard.take());
    }
}

impl Scope {
    /// The outermost scope of a transaction just begun on `conn`.
    pub(crate) fn outermost(db: &Db, held: Arc<HeldConn>) -> Scope {
        Scope::new(db, held, 0, None)
    }

    /// A savepoint scope inside `parent`, not yet open: call [`opened`](Self::opened) once its
    /// `SAVEPOINT` has completed (until then, dropping it owes the connection nothing).
    pub(crate) fn savepoint(db: &Db, parent: Arc<Scope>) -> Scope {
        let scope = Scope::new(db, parent.held.clone(), parent.depth + 1, Some(parent));
        scope.open.store(false, Ordering::Release);
        scope
    }

    /// Marks a savepoint scope open: its `SAVEPOINT` exists on the connection.
    pub(crate) fn opened(&self) {
        self.open.store(true, Ordering::Release);
    }

    fn new(db: &Db, held: Arc<HeldConn>, depth: usize, parent: Option<Arc<Scope>>) -> Scope {
        Scope {
            pool: db.pool_id(),
            alias: db.alias().to_owned(),
            held,
            depth,
            savepoint: SAVEPOINTS.fetch_add(1, Ordering::Relaxed),
            open: AtomicBool::new(true),
            broken: Mutex::new(None),
            on_commit: Mutex::new(Vec::new()),
            parent,
        }
    }

    pub(crate) fn pool(&self) -> usize {
        self.pool
    }

    pub(crate) fn alias(&self) -> &str {
        &self.alias
    }

    pub(crate) fn backend(&self) -> DbBackend {
        self.held.backend
    }

    /// 0 for the transaction, n for the n-th nested savepoint.
    pub(crate) fn depth(&self) -> usize {
        self.depth
    }

    /// The savepoint name of this scope (depth ≥ 1).
    pub(crate) fn savepoint_name(&self) -> String {
        format!("duetto_sp_{}", self.savepoint)
    }

    pub(crate) fn error(&self, problem: TransactionProblem) -> Error {
        Error::transaction(&self.alias, problem)
    }

    /// Waits for the connection (every exchange in flight ends first), then checks this scope
    /// may still use it and pays what is owed on it.
    pub(crate) async fn lock(&self) -> Result<ScopeConn<'_>> {
        let guard = self.held.conn.lock().await;
        let mut conn = ScopeConn { guard };
        if conn.guard.is_none() || !self.open.load(Ordering::Acquire) {
            return Err(self.error(TransactionProblem::Ended));
        }
        if conn.is_interrupted() {
            return Err(self.error(TransactionProblem::Interrupted));
        }
        if conn.is_broken() {
            return Err(self.error(TransactionProblem::ConnectionLost));
        }
        let owed = std::mem::take(&mut *lock(&self.held.owed));
        for sql in owed {
            conn.execute_unprepared(&sql).await?;
        }
        Ok(conn)
    }

    /// Like [`lock`](Self::lock) for this scope's end: afterwards no statement may use the scope.
    /// Returns `None` when the connection is already gone or interrupted (after closing it).
    pub(crate) async fn lock_to_finish(&self) -> Result<ScopeConn<'_>> {
        let guard = self.held.conn.lock().await;
        let mut conn = ScopeConn { guard };
        if !self.open.swap(false, Ordering::AcqRel) || conn.guard.is_none() {
            return Err(self.error(TransactionProblem::Ended));
        }
        if conn.is_interrupted() {
            // Nothing more can be said on this connection: close it, the server rolls back.
            conn.release();
            return Err(self.error(TransactionProblem::Interrupted));
        }
        if conn.is_broken() {
            conn.release();
            return Err(self.error(TransactionProblem::ConnectionLost));
        }
        let owed = std::mem::take(&mut *lock(&self.held.owed));
        for sql in owed {
            conn.execute_unprepared(&sql).await?;
        }
        Ok(conn)
    }

    /// Records that a statement in this scope failed: the scope may no longer commit.
    pub(crate) fn mark_broken(&self, error: &Error) {
        lock(&self.broken).get_or_insert_with(|| error.to_string());
    }

    pub(crate) fn broken(&self) -> Option<String> {
        lock(&self.broken).clone()
    }

    pub(crate) fn add_on_commit(&self, callback: Callback) {
        lock(&self.on_commit).push(callback);
    }

    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    pub(crate) fn pending_on_commit(&self) -> usize {
        lock(&self.on_commit).len()
    }

    pub(crate) fn take_on_commit(&self) -> Vec<Callback> {
        std::mem::take(&mut *lock(&self.on_commit))
    }
}

impl Scope {
    /// Gives up an open scope without ending it (its future was cancelled, or its body panicked
    /// past it), which rolls it back: a savepoint owes a `ROLLBACK TO` before its connection's
    /// next statement; the transaction gives its connection up, which closes it (see
    /// [`PooledConn`]), and the server rolls back. Tasks and streams that still hold the scope
    /// get [`TransactionProblem::Ended`] from then on. Does nothing once the scope has ended.
    pub(crate) fn abandon(&self) {
        if !self.open.swap(false, Ordering::AcqRel) {
            return;
        }
        if self.depth > 0 {
            lock(&self.held.owed).push(format!("ROLLBACK TO SAVEPOINT {}", self.savepoint_name()));
            return;
        }
        // A statement in flight keeps the connection until it ends; the last holder of the
        // `HeldConn` then releases it.
        if let Ok(mut conn) = self.held.conn.try_lock() {
            let _home = crate::runtime::enter_home();
            drop(conn.take());
        }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        self.abandon();
    }
}

impl Drop for HeldConn {
    fn drop(&mut self) {
        // Releasing a connection may spawn its return to the pool: that belongs on home.
        let _home = crate::runtime::enter_home();
        drop(self.conn.get_mut().take());
    }
}
