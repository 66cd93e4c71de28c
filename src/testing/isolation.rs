//! Django `TestCase`-style isolation: a test body inside a transaction that always rolls back.

use std::future::Future;
use std::sync::Arc;

use crate::executor::Scope;
use crate::transaction::{scoped, scoped_blocking, AtomicOptions};
use crate::{Db, Result};

/// The `on_commit` callbacks registered inside a test transaction, held until the test runs
/// them (Django's `captureOnCommitCallbacks`): the test transaction never commits, so they would
/// otherwise never run.
///
/// Callbacks from the code's own scopes arrive here when those scopes "commit" (release their
/// savepoints); callbacks of scopes that rolled back are dropped, as in production.
#[derive(Clone)]
pub struct CommitCallbacks {
    scope: Arc<Scope>,
}

impl std::fmt::Debug for CommitCallbacks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommitCallbacks")
            .field("pending", &self.pending())
            .finish()
    }
}

impl CommitCallbacks {
    /// How many callbacks are waiting.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// let db = duetto::default_db()?;
    /// duetto::testing::atest_transaction(&db, |callbacks| async move {
    ///     duetto::aatomic(async { duetto::on_commit(|| ()); Ok(()) }).await?;
    ///     assert_eq!(callbacks.pending(), 1);
    ///     Ok::<(), duetto::Error>(())
    /// })
    /// .await??;
    /// # Ok(()) });
    /// ```
    pub fn pending(&self) -> usize {
        self.scope.pending_on_commit()
    }

    /// Runs the waiting callbacks, in registration order, and returns how many ran. Callbacks
    /// registered later wait for the next call.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// let db = duetto::default_db()?;
    /// let sent = Arc::new(AtomicBool::new(false));
    /// let flag = sent.clone();
    /// duetto::testing::atest_transaction(&db, |callbacks| async move {
    ///     duetto::aatomic(async move {
    ///         duetto::on_commit(move || flag.store(true, Ordering::SeqCst));
    ///         Ok(())
    ///     })
    ///     .await?;
    ///     assert_eq!(callbacks.run(), 1);
    ///     Ok::<(), duetto::Error>(())
    /// })
    /// .await??;
    /// assert!(sent.load(Ordering::SeqCst));
    /// # Ok(()) });
    /// ```
    pub fn run(&self) -> usize {
        let callbacks = self.scope.take_on_commit();
        let n = callbacks.len();
        callbacks.into_iter().for_each(|callback| callback());
        n
    }
}

/// Runs `body` inside a transaction on `db` that is always rolled back, whatever the body
/// returns (Django's `TestCase`): the database is left as it was. Scopes the code opens inside
/// become savepoints of it and behave as they would in production, except that `on_commit`
/// callbacks wait in the [`CommitCallbacks`] passed to the body until it runs them.
///
/// Everything the body runs on `db` — awaited, bridged, or in tasks started with
/// [`bridge::spawn`](crate::bridge::spawn) — joins the transaction. Work on other connections (a
/// raw `tokio::spawn`, another thread) does not see its rows; on SQLite such a writer waits for
/// the test's transaction, which holds the database's write lock.
///
/// # Errors
///
/// Errors from `BEGIN` and `ROLLBACK`; the body's own result is returned inside `Ok`.
///
/// ```
/// # duetto::doc_db::with_users(|| async {
/// use duetto::prelude::*;
/// use entity::user;
/// let db = duetto::default_db()?;
/// duetto::testing::atest_transaction(&db, |_| async {
///     user::Entity::objects().filter(user::Column::Id.eq(1)).adelete().await?;
///     assert_eq!(user::Entity::objects().acount().await?, 2);
///     Ok::<(), duetto::Error>(())
/// })
/// .await??;
/// assert_eq!(user::Entity::objects().acount().await?, 3); // rolled back
/// # Ok(()) });
/// # use duetto::sea_orm::ColumnTrait;
/// ```
pub async fn atest_transaction<F, Fut>(db: &Db, body: F) -> Result<Fut::Output>
where
    F: FnOnce(CommitCallbacks) -> Fut,
    Fut: Future,
{
    let body = |scope: &Arc<Scope>| {
        body(CommitCallbacks {
            scope: scope.clone(),
        })
    };
    scoped(db, &AtomicOptions::default(), body, |_| false).await
}

/// Blocking twin of [`atest_transaction`]: runs `body` on the calling thread inside a
/// transaction that is always rolled back.
///
/// # Errors
///
/// As [`atest_transaction`], plus [`Error::SynchronousOnlyOperation`](crate::Error::SynchronousOnlyOperation)
/// in async code.
///
/// ```
/// # duetto::doc_db::with_users_blocking(|| {
/// use duetto::prelude::*;
/// let db = duetto::default_db()?;
/// duetto::testing::test_transaction(&db, |_| {
///     entity::user::Entity::objects().delete()?;
///     Ok::<(), duetto::Error>(())
/// })??;
/// assert_eq!(entity::user::Entity::objects().count()?, 3);
/// # Ok(()) });
/// ```
pub fn test_transaction<F, T>(db: &Db, body: F) -> Result<T>
where
    F: FnOnce(CommitCallbacks) -> T,
{
    let body = |scope: &Arc<Scope>| {
        body(CommitCallbacks {
            scope: scope.clone(),
        })
    };
    scoped_blocking(db, &AtomicOptions::default(), body, |_| false)
}
