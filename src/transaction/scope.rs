//! Transaction scopes and the ambient context that makes every call inside one join it.
//!
//! The ambient is a stack of open scopes. Async code carries it in a tokio task-local (set by
//! `aatomic` around its body); blocking code in a thread-local (set by `atomic` around its
//! closure). The bridge copies it across every hop it makes (`sync_to_async`, the
//! thread-sensitive executor, `bridge::spawn`), so a blocking call inside `sync_to_async` inside
//! an async scope still joins the scope's transaction.

use std::cell::RefCell;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use sea_orm::DatabaseTransaction;

use crate::{runtime, Db, Error, Result};

/// A callback registered with `on_commit`.
pub(crate) type Callback = Box<dyn FnOnce() + Send>;

/// One open `atomic` scope: a transaction, or a savepoint inside its parent's.
pub(crate) struct Scope {
    pool: usize,
    alias: String,
    txn: Mutex<Option<Arc<DatabaseTransaction>>>,
    on_commit: Mutex<Vec<Callback>>,
    broken: Mutex<Option<String>>,
    pub(crate) parent: Option<Arc<Scope>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Scope {
    pub(crate) fn new(db: &Db, txn: DatabaseTransaction, parent: Option<Arc<Scope>>) -> Self {
        Scope {
            pool: db.pool_id(),
            alias: db.alias().to_owned(),
            txn: Mutex::new(Some(Arc::new(txn))),
            on_commit: Mutex::new(Vec::new()),
            broken: Mutex::new(None),
            parent,
        }
    }

    /// The transaction, for a statement that joins this scope.
    pub(crate) fn transaction(&self) -> Result<Arc<DatabaseTransaction>> {
        lock(&self.txn).clone().ok_or_else(|| {
            Error::Transaction(format!(
                "the transaction on `{}` has already ended; a task started inside its atomic \
                 scope outlived it",
                self.alias
            ))
        })
    }

    /// Takes the transaction out to commit or roll it back; later statements get an error.
    pub(crate) fn take_transaction(&self) -> Option<Arc<DatabaseTransaction>> {
        lock(&self.txn).take()
    }

    pub(crate) fn alias(&self) -> &str {
        &self.alias
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

    pub(crate) fn take_on_commit(&self) -> Vec<Callback> {
        std::mem::take(&mut *lock(&self.on_commit))
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        // A scope dropped while open (cancelled, or its body panicked past us) rolls back: SeaORM
        // queues the rollback and sqlx runs it as the connection returns to its pool, through a
        // task that must land on the home runtime that owns the pool.
        if let Some(txn) = lock(&self.txn).take() {
            let _home = runtime::handle().ok().map(|home| home.enter());
            drop(txn);
        }
    }
}

/// The stack of scopes open around the current code, outermost first.
#[derive(Clone, Default)]
pub(crate) struct Ambient {
    scopes: Vec<Arc<Scope>>,
}

tokio::task_local! {
    static TASK_AMBIENT: Ambient;
}

thread_local! {
    static THREAD_AMBIENT: RefCell<Ambient> = RefCell::new(Ambient::default());
}

impl Ambient {
    /// Reads the current ambient without cloning it.
    fn with<R>(f: impl FnOnce(&Ambient) -> R) -> R {
        let mut f = Some(f);
        if let Ok(r) = TASK_AMBIENT.try_with(|ambient| (f.take().expect("called once"))(ambient)) {
            return r;
        }
        THREAD_AMBIENT.with(|ambient| (f.take().expect("called once"))(&ambient.borrow()))
    }

    /// The ambient of the calling task (async) or thread (blocking).
    pub(crate) fn current() -> Ambient {
        Self::with(Ambient::clone)
    }

    /// The innermost open scope on `db`'s pool, if any.
    pub(crate) fn scope_for(db: &Db) -> Option<Arc<Scope>> {
        let pool = db.pool_id();
        Self::with(|ambient| {
            ambient
                .scopes
                .iter()
                .rev()
                .find(|s| s.pool == pool)
                .cloned()
        })
    }

    /// The innermost open scope on any database, if any.
    pub(crate) fn innermost() -> Option<Arc<Scope>> {
        Self::with(|ambient| ambient.scopes.last().cloned())
    }

    /// This ambient with `scope` opened inside it.
    pub(crate) fn with_scope(&self, scope: Arc<Scope>) -> Ambient {
        let mut scopes = self.scopes.clone();
        scopes.push(scope);
        Ambient { scopes }
    }

    /// Runs `fut` with this ambient as its task's.
    pub(crate) fn scope_future<F: Future>(self, fut: F) -> impl Future<Output = F::Output> {
        TASK_AMBIENT.scope(self, fut)
    }

    /// Runs `f` with this ambient as the calling thread's, restoring the previous one after
    /// (also when `f` panics).
    pub(crate) fn enter_thread<R>(self, f: impl FnOnce() -> R) -> R {
        struct Restore(Option<Ambient>);
        impl Drop for Restore {
            fn drop(&mut self) {
                if let Some(previous) = self.0.take() {
                    THREAD_AMBIENT.with(|ambient| *ambient.borrow_mut() = previous);
                }
            }
        }
        let previous = THREAD_AMBIENT.with(|ambient| ambient.replace(self));
        let _restore = Restore(Some(previous));
        f()
    }
}
