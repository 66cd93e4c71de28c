//! The *home* runtime: the one tokio runtime that owns every duetto pool and connection.
//!
//! sqlx registers each socket with the runtime that opened it, and a pool opens connections lazily
//! on whatever runtime happens to poll it. A pool shared between runtimes therefore breaks the day
//! one of them ends (a `#[tokio::test]`, a per-request runtime, a CLI's short-lived `block_on`). duetto
//! avoids that by running all database work on a single long-lived multi-thread runtime:
//!
//! - blocking calls run their future on the calling thread with home entered (`Handle::block_on`):
//!   home's workers drive the sockets and wake the caller, with no task hop per call;
//! - async calls already running on home run in place; from any other executor they are polled
//!   with home entered (see [`on_home`]), so whatever they open or spawn belongs to home, and
//!   dropping them cancels in place.
//!
//! By default duetto builds home lazily (worker threads named `duetto-home`). An application that
//! already runs a multi-thread runtime can [`adopt`] it before its first connection, so its async
//! calls never hop.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll};

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::runtime::{Handle, Runtime, RuntimeFlavor};
use tokio::sync::Notify;

use crate::{Error, Result};

struct Home {
    handle: Handle,
    // Owned only when duetto built it; kept alive for the whole process.
    _owned: Option<Runtime>,
}

static HOME: OnceLock<Home> = OnceLock::new();
// Serialises initialisation so two racing first calls never build (and then drop) a second runtime.
static INIT: Mutex<()> = Mutex::new(());

/// Makes `handle`'s runtime duetto's home runtime.
///
/// Call it once, before the first connection, from an application that runs its own multi-thread
/// runtime: every async duetto call made on that runtime then runs in place instead of hopping.
/// The runtime must outlive every [`Db`](crate::Db); once it shuts down, calls return
/// [`Error::RuntimeShutdown`].
///
/// # Errors
///
/// [`Error::Runtime`] if home already exists (duetto built its own on first use, or `adopt` was
/// called before), or if `handle` belongs to a `current_thread` runtime, which cannot serve blocking
/// callers while it is itself blocked.
///
/// # Example
///
/// ```
/// # fn main() -> duetto::Result<()> {
/// let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
/// duetto::runtime::adopt(rt.handle().clone())?;
/// rt.block_on(async {
///     let db = duetto::Db::connect("sqlite::memory:").await?;
///     assert_eq!(db.backend(), duetto::Backend::Sqlite);
///     Ok::<_, duetto::Error>(())
/// })?;
/// # Ok(()) }
/// ```
pub fn adopt(handle: Handle) -> Result<()> {
    if handle.runtime_flavor() != RuntimeFlavor::MultiThread {
        return Err(Error::Runtime(
            "only a multi-thread tokio runtime can be adopted as duetto's home runtime".into(),
        ));
    }
    let _guard = INIT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if HOME.get().is_some() {
        return Err(Error::Runtime(
            "duetto's home runtime already exists; call runtime::adopt before the first connection"
                .into(),
        ));
    }
    install_shutdown_sentinel(&handle);
    let _ = HOME.set(Home {
        handle,
        _owned: None,
    });
    Ok(())
}

/// The home runtime's handle, building duetto's own runtime on first use.
///
/// # Errors
///
/// [`Error::Runtime`] if the operating system refuses to start the runtime's threads.
///
/// # Example
///
/// ```
/// let home = duetto::runtime::handle().unwrap();
/// assert_eq!(home.block_on(async { 40 + 2 }), 42);
/// ```
pub fn handle() -> Result<&'static Handle> {
    if let Some(home) = HOME.get() {
        return Ok(&home.handle);
    }
    let _guard = INIT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(home) = HOME.get() {
        return Ok(&home.handle);
    }
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("duetto-home")
        .enable_all()
        .build()
        .map_err(|e| Error::Runtime(format!("cannot start duetto's home runtime: {e}")))?;
    let handle = runtime.handle().clone();
    install_shutdown_sentinel(&handle);
    let _ = HOME.set(Home {
        handle,
        _owned: Some(runtime),
    });
    Ok(&HOME.get().expect("home was just set").handle)
}

/// Whether the calling code runs inside the home runtime's context (a home worker, a home
/// `spawn_blocking` thread, or a body the home runtime's `block_on` drives).
///
/// ```
/// assert!(!duetto::runtime::is_home());
/// let inside = duetto::runtime::handle().unwrap().block_on(async { duetto::runtime::is_home() });
/// assert!(inside);
/// ```
pub fn is_home() -> bool {
    match (HOME.get(), Handle::try_current()) {
        (Some(home), Ok(current)) => home.handle.id() == current.id(),
        _ => false,
    }
}

/// Runs `fut` inside the home runtime and returns its output.
///
/// Already on home, `fut` is simply awaited in place. Anywhere else (another tokio runtime, a
/// `futures` executor) it is still polled by the caller's executor, but with the home runtime
/// *entered* for every poll and for its drop: sockets it opens register with home's I/O driver,
/// timers use home's clock, and tasks it spawns (sqlx's connection upkeep) land on home. So pools
/// and connections belong to home whichever runtime awaits them, without paying a thread hop per
/// call; dropping the future cancels the work in place, exactly as on home.
///
/// Every duetto async operation goes through here; use it yourself when you drive SeaORM directly
/// on a [`Db::conn`](crate::Db::conn) from a runtime that may end before the pool does.
///
/// # Errors
///
/// [`Error::RuntimeShutdown`] if the home runtime has shut down (checked at every poll).
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> duetto::Result<()> {
/// let in_home = duetto::runtime::on_home(async { duetto::runtime::is_home() }).await?;
/// assert!(in_home);
/// # Ok(()) }
/// ```
pub async fn on_home<F>(fut: F) -> Result<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    if is_home() {
        return Ok(fut.await);
    }
    InHome {
        home: handle()?,
        fut: Some(Box::pin(fut)),
    }
    .await
}

/// Polls and drops a future with the home runtime entered.
struct InHome<F: Future> {
    home: &'static Handle,
    fut: Option<Pin<Box<F>>>,
}

impl<F: Future> Future for InHome<F> {
    type Output = Result<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if is_shut_down() {
            return Poll::Ready(Err(Error::RuntimeShutdown));
        }
        let _entered = self.home.enter();
        match self.fut.as_mut() {
            Some(fut) => fut.as_mut().poll(cx).map(Ok),
            None => Poll::Ready(Err(Error::Runtime("InHome polled after completion".into()))),
        }
    }
}

impl<F: Future> Drop for InHome<F> {
    fn drop(&mut self) {
        if let Some(fut) = self.fut.take() {
            // Whatever the future owns (a pooled connection, a transaction) returns to the pool
            // through tasks spawned on drop; they must land on home.
            let _entered = self.home.enter();
            drop(fut);
        }
    }
}

/// Enters the home runtime for the guard's life, if home exists: for dropping things whose drop
/// spawns work that must land on home (connections going back to their pool).
pub(crate) fn enter_home() -> Option<tokio::runtime::EnterGuard<'static>> {
    handle().ok().map(|home| home.enter())
}

static SHUT_DOWN: AtomicBool = AtomicBool::new(false);
static SHUTDOWN_NOTIFY: Notify = Notify::const_new();

/// Spawns, on a new home runtime, a task that never finishes: a runtime drops its tasks when it
/// shuts down, so the sentinel's drop is the shutdown notification tokio does not otherwise offer.
fn install_shutdown_sentinel(home: &Handle) {
    struct Sentinel;
    impl Drop for Sentinel {
        fn drop(&mut self) {
            SHUT_DOWN.store(true, Ordering::Release);
            SHUTDOWN_NOTIFY.notify_waiters();
        }
    }
    let sentinel = Sentinel;
    home.spawn(async move {
        let _sentinel = sentinel;
        std::future::pending::<()>().await
    });
}

/// Whether the home runtime has shut down.
pub(crate) fn is_shut_down() -> bool {
    SHUT_DOWN.load(Ordering::Acquire)
}

/// Completes when the home runtime shuts down.
pub(crate) async fn shutdown() {
    // A `Notified` created before `notify_waiters` is woken by it even if not yet polled, so
    // checking the flag after creating it cannot miss the notification.
    let notified = SHUTDOWN_NOTIFY.notified();
    if is_shut_down() {
        return;
    }
    notified.await
}
