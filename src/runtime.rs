//! The *home* runtime: the one tokio runtime that owns every duetto pool and connection.
//!
//! sqlx registers each socket with the runtime that opened it, and a pool opens connections lazily
//! on whatever runtime happens to poll it. A pool shared between runtimes therefore breaks the day
//! one of them ends (a `#[tokio::test]`, a per-request runtime, a CLI's short-lived `block_on`). duetto
//! avoids that by running all database work on a single long-lived multi-thread runtime:
//!
//! - blocking calls spawn their future onto home and wait on a channel;
//! - async calls already running on home run in place; from any other executor they hop to home
//!   (see [`on_home`]) and are aborted if the caller drops them, so cancellation behaves the same.
//!
//! By default duetto builds home lazily (worker threads named `duetto-home`). An application that
//! already runs a multi-thread runtime can [`adopt`] it before its first connection, so its async
//! calls never hop.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll};

use tokio::runtime::{Handle, Runtime, RuntimeFlavor};
use tokio::task::JoinHandle;

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

/// Runs `fut` on the home runtime and returns its output.
///
/// Already on home, `fut` is simply awaited in place. Anywhere else (another tokio runtime, a
/// `futures` executor) it is spawned onto home; dropping the returned future aborts that task, so a
/// timeout or a `select!` cancels the work exactly as it would in place. A panic inside `fut`
/// resumes in the caller.
///
/// Every duetto async operation goes through here; use it yourself when you drive SeaORM directly
/// on a [`Db::conn`](crate::Db::conn) from a runtime that may end before the pool does.
///
/// # Errors
///
/// [`Error::RuntimeShutdown`] if the home runtime has shut down.
///
/// # Example
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> duetto::Result<()> {
/// let on_home = duetto::runtime::on_home(async { duetto::runtime::is_home() }).await?;
/// assert!(on_home);
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
    let task = AbortOnDrop(handle()?.spawn(fut));
    task.await
}

/// A spawned task that is aborted when its awaiting future is dropped.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|joined| match joined {
            Ok(value) => Ok(value),
            Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
            // The task was never aborted by us while we still poll it, so cancellation means the
            // runtime dropped it while shutting down.
            Err(_) => Err(Error::RuntimeShutdown),
        })
    }
}
