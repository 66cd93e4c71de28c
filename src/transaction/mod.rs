//! Transactions in both voices: `aatomic` / `atomic` scopes, savepoints, `on_commit`.
//!
//! Inside a scope every duetto call on that database, in either voice and at any depth of helper
//! functions, joins the scope's transaction without a handle being passed — through the task
//! (async) or the thread (blocking), and across the bridge. Nested scopes are savepoints.
//!
//! | the body… | the scope… |
//! |---|---|
//! | returns `Ok` | commits (a nested scope releases its savepoint), then runs `on_commit` callbacks once the outermost scope has committed |
//! | returns `Err` | rolls back (a nested scope only to its savepoint) and returns the error |
//! | panics | rolls back, then resumes the panic |
//! | is dropped (timeout, `select!`) | rolls back |
//!
//! A statement that fails inside a scope marks it broken: even if the body then swallows the
//! error and returns `Ok`, the scope rolls back and returns [`Error::Transaction`] (PostgreSQL
//! would refuse every further statement anyway; duetto makes all backends agree). Wrap the
//! statement that may fail in a nested scope to recover, as Django's `get_or_create` does.

use std::future::Future;
use std::panic::{resume_unwind, AssertUnwindSafe};
use std::sync::Arc;

use futures_util::FutureExt;
use sea_orm::{DbBackend, IsolationLevel};

use crate::context::Ambient;
use crate::error::TransactionProblem;
use crate::executor::{self, HeldConn, Scope};
use crate::observe::Origin;
use crate::runtime::on_home;
use crate::{Db, Error, Result};

/// Options for the outermost scope's transaction: isolation level and read-only mode. Nested
/// scopes are savepoints of their parent and ignore them.
///
/// ```
/// use duetto::AtomicOptions;
/// use duetto::sea_orm::IsolationLevel;
///
/// let options = AtomicOptions::new()
///     .isolation(IsolationLevel::Serializable)
///     .read_only(true);
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default)]
pub struct AtomicOptions {
    isolation: Option<IsolationLevel>,
    read_only: bool,
}

impl AtomicOptions {
    /// The database's default isolation level, read-write.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs the transaction at `level` (SQLite has only serializable transactions and ignores it).
    pub fn isolation(mut self, level: IsolationLevel) -> Self {
        self.isolation = Some(level);
        self
    }

    /// Opens the transaction read-only: writes inside it fail (PostgreSQL, MySQL).
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }
}

/// The statement that opens the outermost transaction.
///
/// SQLite opens it `IMMEDIATE`: a deferred transaction that reads first and writes later cannot
/// upgrade to a writer while another connection writes (`database is locked`, immediately, past
/// any busy timeout), which is what every read-modify-write scope does. Taking the write lock at
/// `BEGIN` makes concurrent scopes queue on the busy timeout instead (Django 5.1's
/// `transaction_mode = "IMMEDIATE"`). A read-only scope never writes, so it stays deferred and
/// does not queue behind writers.
fn begin_statements(backend: DbBackend, options: &AtomicOptions) -> Vec<String> {
    let mut characteristics = Vec::new();
    if let Some(level) = options.isolation {
        characteristics.push(format!("ISOLATION LEVEL {level}"));
    }
    if options.read_only {
        characteristics.push("READ ONLY".to_owned());
    }
    match backend {
        DbBackend::Sqlite if options.read_only => vec!["BEGIN DEFERRED".to_owned()],
        DbBackend::Sqlite => vec!["BEGIN IMMEDIATE".to_owned()],
        DbBackend::Postgres => vec![format!("BEGIN {}", characteristics.join(" "))],
        // MySQL sets the isolation level for the next transaction only, before it starts.
        _ => {
            let mut statements = Vec::new();
            if let Some(level) = options.isolation {
                statements.push(format!("SET TRANSACTION ISOLATION LEVEL {level}"));
            }
            statements.push(if options.read_only {
                "START TRANSACTION READ ONLY".to_owned()
            } else {
                "START TRANSACTION".to_owned()
            });
            statements
        }
    }
}

/// Opens a scope on `db`: a transaction on a connection taken from the pool, or a savepoint in
/// the scope already open around the caller.
async fn begin(db: &Db, options: &AtomicOptions) -> Result<Arc<Scope>> {
    let failed = |e: Error| Error::transaction_because(db.alias(), TransactionProblem::Begin, e);
    if let Some(parent) = executor::scope_for(db) {
        let scope = Scope::savepoint(db, parent.clone());
        let sql = format!("SAVEPOINT {}", scope.savepoint_name());
        // The savepoint is made on the parent's connection, as one of the parent's statements.
        let opened = on_home(issued_on(db.alias(), async move {
            let mut conn = parent.lock().await?;
            conn.execute_unprepared(&sql).await.map_err(Error::from)
        }))
        .await?;
        opened.map_err(failed)?;
        scope.opened();
        return Ok(Arc::new(scope));
    }
    let source = executor::source_for(db);
    let statements = begin_statements(source.backend(), options);
    let conn = on_home(issued_on(db.alias(), async move {
        let mut conn = source.acquire().await?;
        // From the moment the first statement is sent the server may hold a transaction for
        // us: a connection released before `BEGIN`'s reply must be rolled back or closed.
        conn.set_in_transaction(true);
        for sql in &statements {
            conn.execute_unprepared(sql).await?;
        }
        Ok::<_, sea_orm::DbErr>(conn)
    }))
    .await?
    .map_err(|e| failed(e.into()))?;
    Ok(Arc::new(Scope::outermost(db, HeldConn::new(conn))))
}

/// Runs `body` in a new scope on `db` and ends it: committed if `commit` says so of the body's
/// output, else rolled back (a failed rollback is logged; the output is still returned). A
/// panicking body rolls back and resumes the panic; a dropped call abandons the scope.
pub(crate) async fn scoped<B, F>(
    db: &Db,
    options: &AtomicOptions,
    body: B,
    commit: impl FnOnce(&F::Output) -> bool,
) -> Result<F::Output>
where
    B: FnOnce(&Arc<Scope>) -> F,
    F: Future,
{
    // The scope's own steps are boxed: bodies nest scopes, and unboxed every level would carry
    // them inline, enough to overflow a thread's stack in debug builds.
    let scope = Box::pin(begin(db, options)).await?;
    let _abandon = Abandon(scope.clone());
    let inside = Ambient::current().with_scope(scope.pool(), scope.clone());
    let outcome = AssertUnwindSafe(Box::pin(inside.scope_future(body(&scope))))
        .catch_unwind()
        .await;
    match outcome {
        Ok(value) => {
            let commit = commit(&value);
            settled(value, commit, Box::pin(finish(scope, commit)).await)
        }
        Err(panic) => {
            let _ = Box::pin(finish(scope, false)).await;
            resume_unwind(panic)
        }
    }
}

/// The outcome of a scope whose body returned `value` and whose end (`commit` or roll back)
/// gave `ended`: a failed commit is the caller's error; a failed rollback is only logged, since
/// the body's own outcome is what the caller needs.
fn settled<T>(value: T, commit: bool, ended: Result<()>) -> Result<T> {
    match ended {
        Ok(()) => Ok(value),
        Err(e) if commit => Err(e),
        Err(rollback) => {
            log::warn!("duetto: rollback failed: {rollback}");
            Ok(value)
        }
    }
}

/// Blocking twin of [`scoped`]: the scope's own statements are the async implementation, run
/// through the bridge; only the body runs here, with the scope as this thread's ambient.
pub(crate) fn scoped_blocking<B, T>(
    db: &Db,
    options: &AtomicOptions,
    body: B,
    commit: impl FnOnce(&T) -> bool,
) -> Result<T>
where
    B: FnOnce(&Arc<Scope>) -> T,
{
    let ambient = Ambient::current();
    let scope = crate::bridge::blocking_twin("atomic", {
        let (ambient, db, options) = (ambient.clone(), db.clone(), options.clone());
        async move { ambient.scope_future(begin(&db, &options)).await }
    })?;
    let _abandon = Abandon(scope.clone());
    let inside = ambient.with_scope(scope.pool(), scope.clone());
    let outcome =
        std::panic::catch_unwind(AssertUnwindSafe(|| inside.enter_thread(|| body(&scope))));
    let finishing =
        |commit: bool| crate::bridge::blocking_twin("atomic", finish(scope.clone(), commit));
    match outcome {
        Ok(value) => {
            let commit = commit(&value);
            settled(value, commit, finishing(commit))
        }
        Err(panic) => {
            let _ = finishing(false);
            resume_unwind(panic)
        }
    }
}

/// `fut`, its statements reported as issued on the database `alias` (see [`crate::observe`]).
fn issued_on<F: std::future::Future>(
    alias: &str,
    fut: F,
) -> impl std::future::Future<Output = F::Output> {
    Origin {
        alias: Some(alias.into()),
        site: None,
        relation: None,
    }
    .scope(fut)
}

/// Rolls an open scope back when its `aatomic`/`atomic` call is left without ending it
/// (cancelled, or unwinding), however many tasks or streams still hold the scope.
struct Abandon(Arc<Scope>);

impl Drop for Abandon {
    fn drop(&mut self) {
        self.0.abandon();
    }
}

/// Ends `scope`: waits for the statement in flight on its connection, then commits (or rolls
/// back) and hands its `on_commit` callbacks on.
async fn finish(scope: Arc<Scope>, commit: bool) -> Result<()> {
    let ending = scope.clone();
    let alias = scope.alias().to_owned();
    let outcome = on_home(issued_on(&alias, async move { end(&ending, commit).await })).await?;
    let committed = outcome?;
    if committed {
        let callbacks = scope.take_on_commit();
        match &scope.parent {
            // A savepoint's callbacks wait for the outermost commit.
            Some(parent) => callbacks.into_iter().for_each(|c| parent.add_on_commit(c)),
            None => callbacks.into_iter().for_each(|callback| callback()),
        }
    }
    Ok(())
}

/// The statements that end `scope`; `Ok(true)` if it committed.
async fn end(scope: &Scope, commit: bool) -> Result<bool> {
    let mut conn = scope.lock_to_finish().await?;
    let broken = scope.broken();
    let commit = commit && broken.is_none();
    let (sql, problem) = match (scope.depth(), commit) {
        (0, true) => ("COMMIT".to_owned(), TransactionProblem::Commit),
        (0, false) => ("ROLLBACK".to_owned(), TransactionProblem::Rollback),
        (_, true) => (
            format!("RELEASE SAVEPOINT {}", scope.savepoint_name()),
            TransactionProblem::Commit,
        ),
        (_, false) => (
            format!("ROLLBACK TO SAVEPOINT {}", scope.savepoint_name()),
            TransactionProblem::Rollback,
        ),
    };
    let ended = conn.execute_unprepared(&sql).await;
    if scope.depth() == 0 {
        // Only a completed COMMIT/ROLLBACK leaves the connection clean for the pool; after a
        // failed one it is closed.
        if ended.is_ok() {
            conn.set_in_transaction(false);
        }
        conn.release();
    }
    if let Err(e) = ended {
        // A COMMIT whose reply never came may have committed: say so rather than "rolled back".
        let loss = crate::connection_loss::loss(&e);
        if let (Some(loss), 0, true) = (loss, scope.depth(), commit) {
            return Err(Error::ConnectionLost {
                alias: scope.alias().to_owned(),
                might_have_committed: loss == crate::connection_loss::Loss::NoReply,
                source: e,
            });
        }
        return Err(Error::transaction_because(scope.alias(), problem, e));
    }
    match broken {
        Some(reason) => Err(scope.error(TransactionProblem::Broken { reason })),
        None => Ok(commit),
    }
}

impl Db {
    /// Runs `body` in a transaction on this database (a savepoint if one is already open in the
    /// caller's scope); commits on `Ok`, rolls back on `Err`, panic or drop. See the
    /// [module docs](crate::transaction) for the full contract.
    ///
    /// The body returns `duetto::Result`; wrap application errors with [`Error::other`] to roll
    /// back on them and get them back (downcast) afterwards.
    ///
    /// # Errors
    ///
    /// The body's error; [`Error::Transaction`] when the transaction cannot open or commit.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use entity::user;
    ///
    /// let db = duetto::default_db()?;
    /// let result: duetto::Result<()> = db
    ///     .aatomic(async {
    ///         user::Entity::objects().using(&db).adelete().await?;
    ///         Err(duetto::Error::other(std::io::Error::other("changed my mind")))
    ///     })
    ///     .await;
    /// assert!(result.is_err());
    /// assert_eq!(user::Entity::objects().acount().await?, 3); // rolled back
    /// # Ok(()) });
    /// ```
    pub async fn aatomic<F, T>(&self, body: F) -> Result<T>
    where
        F: Future<Output = Result<T>>,
    {
        self.aatomic_with(AtomicOptions::default(), body).await
    }

    /// [`aatomic`](Self::aatomic) with [`AtomicOptions`].
    ///
    /// # Errors
    ///
    /// As [`aatomic`](Self::aatomic).
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use duetto::sea_orm::IsolationLevel;
    ///
    /// let db = duetto::default_db()?;
    /// let options = duetto::AtomicOptions::new().isolation(IsolationLevel::Serializable);
    /// let n = db.aatomic_with(options, async { entity::user::Entity::objects().acount().await }).await?;
    /// assert_eq!(n, 3);
    /// # Ok(()) });
    /// ```
    pub async fn aatomic_with<F, T>(&self, options: AtomicOptions, body: F) -> Result<T>
    where
        F: Future<Output = Result<T>>,
    {
        scoped(self, &options, |_| body, Result::is_ok).await?
    }

    /// Blocking twin of [`aatomic`](Self::aatomic): runs `body` on the calling thread in a
    /// transaction; blocking duetto calls inside it (and async ones it bridges to) join it.
    ///
    /// # Errors
    ///
    /// As [`aatomic`](Self::aatomic), plus [`Error::SynchronousOnlyOperation`] in async code.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// use entity::user;
    ///
    /// let db = duetto::default_db()?;
    /// db.atomic(|| {
    ///     user::Entity::objects().get_pk(1)?.delete()?;
    ///     duetto::Result::Ok(())
    /// })?;
    /// assert_eq!(user::Entity::objects().count()?, 2);
    /// # Ok(()) });
    /// ```
    pub fn atomic<F, T>(&self, body: F) -> Result<T>
    where
        F: FnOnce() -> Result<T>,
    {
        self.atomic_with(AtomicOptions::default(), body)
    }

    /// Blocking twin of [`aatomic_with`](Self::aatomic_with).
    ///
    /// # Errors
    ///
    /// As [`atomic`](Self::atomic).
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// let db = duetto::default_db()?;
    /// let n = db.atomic_with(duetto::AtomicOptions::new().read_only(true), || {
    ///     use duetto::prelude::*;
    ///     entity::user::Entity::objects().count()
    /// })?;
    /// assert_eq!(n, 3);
    /// # Ok(()) });
    /// ```
    pub fn atomic_with<F, T>(&self, options: AtomicOptions, body: F) -> Result<T>
    where
        F: FnOnce() -> Result<T>,
    {
        scoped_blocking(self, &options, |_| body(), Result::is_ok)?
    }

    /// Registers `callback` to run after the transaction open in the caller's scope on this
    /// database commits (after the outermost commit, for nested scopes); it is dropped if the
    /// transaction rolls back. Outside a scope it runs at once (Django's `on_commit(using=…)`).
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// let db = duetto::default_db()?;
    /// db.on_commit(|| println!("runs now: no transaction is open"));
    /// # Ok(()) });
    /// ```
    pub fn on_commit(&self, callback: impl FnOnce() + Send + 'static) {
        match executor::scope_for(self) {
            Some(scope) => scope.add_on_commit(Box::new(callback)),
            None => callback(),
        }
    }
}

/// [`Db::aatomic`] on the default database.
///
/// # Errors
///
/// [`Error::NoDatabase`] when no default is set; otherwise as [`Db::aatomic`].
///
/// ```
/// # duetto::doc_db::with_users(|| async {
/// use duetto::prelude::*;
/// use entity::user;
///
/// duetto::aatomic(async {
///     let ada = user::Entity::objects().aget_pk(1).await?;
///     ada.adelete().await?;
///     duetto::Result::Ok(())
/// })
/// .await?;
/// assert_eq!(user::Entity::objects().acount().await?, 2);
/// # Ok(()) });
/// ```
pub async fn aatomic<F, T>(body: F) -> Result<T>
where
    F: Future<Output = Result<T>>,
{
    crate::default_db()?.aatomic(body).await
}

/// [`Db::atomic`] on the default database.
///
/// # Errors
///
/// [`Error::NoDatabase`] when no default is set; otherwise as [`Db::atomic`].
///
/// ```
/// # duetto::doc_db::with_users_blocking(|| {
/// use duetto::prelude::*;
/// let n = duetto::atomic(|| entity::user::Entity::objects().count())?;
/// assert_eq!(n, 3);
/// # Ok(()) });
/// ```
pub fn atomic<F, T>(body: F) -> Result<T>
where
    F: FnOnce() -> Result<T>,
{
    crate::default_db()?.atomic(body)
}

/// Runs `callback` after the innermost open scope's transaction commits (after the outermost
/// commit when nested), or at once outside any scope; dropped on rollback (Django's
/// `transaction.on_commit`).
///
/// ```
/// # duetto::doc_db::with_users(|| async {
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
///
/// let sent = Arc::new(AtomicBool::new(false));
/// let flag = sent.clone();
/// duetto::aatomic(async move {
///     duetto::on_commit(move || flag.store(true, Ordering::SeqCst));
///     duetto::Result::Ok(())
/// })
/// .await?;
/// assert!(sent.load(Ordering::SeqCst));
/// # Ok(()) });
/// ```
pub fn on_commit(callback: impl FnOnce() + Send + 'static) {
    match Ambient::innermost::<Scope>() {
        Some(scope) => scope.add_on_commit(Box::new(callback)),
        None => callback(),
    }
}

/// Async [`on_commit`]: after the commit the future is spawned on the home runtime (so the scope
/// does not wait for it); outside any scope it is awaited at once.
///
/// ```
/// # duetto::doc_db::with_users(|| async {
/// duetto::aon_commit(async { println!("after commit") }).await;
/// # Ok(()) });
/// ```
pub async fn aon_commit<F>(fut: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    match Ambient::innermost::<Scope>() {
        Some(scope) => scope.add_on_commit(Box::new(move || {
            if let Ok(home) = crate::runtime::handle() {
                home.spawn(fut);
            }
        })),
        None => fut.await,
    }
}
