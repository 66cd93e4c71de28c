//! The sync↔async bridge: call async code from sync code and sync code from async code, safely.
//!
//! | from | to | use |
//! |---|---|---|
//! | sync code | a future | [`async_to_sync`] |
//! | async code | a blocking closure, in parallel | [`sync_to_async`] |
//! | async code | a blocking closure that must stay on one thread | [`sync_to_async_thread_sensitive`] |
//! | async code | a background task that keeps the bridge context | [`spawn`] |
//!
//! These are Django's (asgiref's) `async_to_sync` / `sync_to_async`, with three differences: a call
//! costs a few microseconds rather than ~90 µs, nested chains of any depth never deadlock, and
//! independent `sync_to_async` calls run in parallel instead of queueing on one thread.
//!
//! Every blocking duetto operation first runs [`check_sync_allowed`] and returns
//! [`Error::SynchronousOnlyOperation`] on a thread that drives async tasks, rather than stalling it.

mod guard;
mod thread_sensitive;

use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::runtime::Handle;
use tokio::task::JoinHandle;

pub use guard::{check_sync_allowed, in_async_context};

use crate::context::{self, Ambient, CALLER_THREAD};
use crate::observe::Voice;
use crate::{runtime, Error, Result};
use guard::BlockingMode;
use thread_sensitive::Waiting;

/// Runs `fut` to completion inside duetto's home runtime, blocking the calling thread until it ends.
///
/// The future is polled on the calling thread with home entered, so everything it opens or spawns
/// belongs to home, and a call costs well under a microsecond beyond the future's own work (no task
/// hop: home's workers drive the sockets and wake this thread).
///
/// While it waits, the calling thread serves every [`sync_to_async_thread_sensitive`] call made by
/// `fut` (or by tasks it starts with [`spawn`]), so sync → async → sync chains stay on the caller's
/// thread and nest to any depth without deadlocking.
///
/// # Errors
///
/// - [`Error::SynchronousOnlyOperation`] when called on a thread that drives async tasks (a tokio
///   worker, a `block_on` body, a `LocalSet`): await `fut` there instead. See
///   [`check_sync_allowed`] for the `DUETTO_ALLOW_ASYNC_UNSAFE` opt-out.
/// - [`Error::RuntimeShutdown`] if the home runtime shuts down before `fut` completes.
///
/// # Panics
///
/// A panic inside `fut` resumes in the caller with its original payload.
///
/// # Example
///
/// ```
/// use duetto::bridge::async_to_sync;
///
/// fn main() -> duetto::Result<()> {
///     let answer = async_to_sync(async { 6 * 7 })?;
///     assert_eq!(answer, 42);
///     Ok(())
/// }
/// ```
pub fn async_to_sync<F>(fut: F) -> Result<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    block_on_home("async_to_sync", fut)
}

/// `async_to_sync` for a named blocking operation: the guard reports `op` if it refuses.
///
/// The future is polled right here on the calling thread, inside the home runtime
/// (`Handle::block_on`): home's workers drive its sockets and timers and wake this thread, so a
/// call costs no task hop. While waiting, the thread also runs the thread-sensitive jobs queued
/// for it (by `fut`, by tasks it spawned, or by an outer waiting level on this thread); each runs
/// in `block_in_place`, outside the runtime, so it may block and may itself call `async_to_sync`
/// (nesting).
pub(crate) fn block_on_home<F>(op: &'static str, fut: F) -> Result<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let mode = guard::blocking_mode(op)?;
    let home = runtime::handle()?;
    if runtime::is_shut_down() {
        return Err(Error::RuntimeShutdown);
    }
    let (waiting, this_thread) = Waiting::enter();
    let body = async move {
        let mut run = std::pin::pin!(CALLER_THREAD.scope(this_thread, fut));
        let mut shutdown = std::pin::pin!(runtime::shutdown());
        loop {
            tokio::select! {
                biased;
                out = &mut run => return Ok(out),
                job = waiting.next_job() => {
                    tokio::task::block_in_place(|| context::allow_blocking(job))
                }
                () = &mut shutdown => return Err(Error::RuntimeShutdown),
            }
        }
    };
    // The body is async code even where this thread was marked as a blocking section.
    context::forbid_blocking(|| match mode {
        BlockingMode::Plain => home.block_on(body),
        BlockingMode::BlockInPlace => tokio::task::block_in_place(|| home.block_on(body)),
    })
}

/// The blocking twin of a fallible async operation `op`: guard, run on home, flatten the result.
pub(crate) fn blocking_twin<F, T>(op: &'static str, fut: F) -> Result<T>
where
    F: Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    block_on_home(op, Voice::Blocking.scope(fut))?
}

/// Lets exactly one of "the closure starts" and "the awaiting future is dropped" happen first.
#[derive(Clone, Default)]
struct StartGate(Arc<AtomicBool>);

impl StartGate {
    /// `true` if the closure may run: the awaiting future has not been dropped.
    fn try_start(&self) -> bool {
        !self.0.swap(true, Ordering::AcqRel)
    }
}

/// Closes the gate when the awaiting future is dropped, so a closure that has not started never will.
struct CancelOnDrop(StartGate);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0 .0.store(true, Ordering::Release);
    }
}

/// Runs the blocking closure `f` on tokio's blocking pool and awaits its result.
///
/// Use it for anything that would stall an async worker: a blocking duetto call, file or CPU-bound
/// work, a sync library. Concurrent calls run in parallel on separate threads. Inside `f`, blocking
/// duetto calls are allowed (the pool is not an async context).
///
/// The closure runs on the current tokio runtime's blocking pool, or on the home runtime's when
/// awaited outside tokio.
///
/// **Cancellation.** Dropping the returned future before `f` has started means `f` never runs.
/// Once `f` has started it runs to completion (threads cannot be interrupted) and its result is
/// dropped.
///
/// # Panics
///
/// A panic in `f` resumes in the awaiting task with its original payload. Awaiting it while its
/// runtime shuts down panics with a message saying so (the runtime drops the closure unrun).
///
/// # Example
///
/// ```
/// use duetto::bridge::sync_to_async;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let digest = sync_to_async(|| (1..=1_000u64).sum::<u64>()).await;
/// assert_eq!(digest, 500_500);
/// # }
/// ```
pub async fn sync_to_async<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let gate = StartGate::default();
    let _cancel = CancelOnDrop(gate.clone());
    let pool = match Handle::try_current() {
        Ok(current) => current,
        Err(_) => runtime::handle()
            .unwrap_or_else(|e| panic!("sync_to_async: {e}"))
            .clone(),
    };
    let ambient = Ambient::current();
    let span = tracing::Span::current();
    let task = pool.spawn_blocking(move || {
        gate.try_start()
            .then(|| span.in_scope(|| context::allow_blocking(|| ambient.enter_thread(f))))
    });
    match task.await {
        Ok(Some(value)) => value,
        Ok(None) => unreachable!("only dropping this future cancels the closure"),
        Err(err) if err.is_panic() => resume_unwind(err.into_panic()),
        Err(_) => panic!("sync_to_async: the runtime shut down before the closure ran"),
    }
}

/// Runs the blocking closure `f` on one well-known thread and awaits its result (asgiref's
/// `thread_sensitive=True`, its default).
///
/// - If this task descends from a sync caller waiting in [`async_to_sync`], `f` runs on **that
///   caller's thread**, so code that keeps state in thread-locals sees the same thread on the way
///   down and back up, and sync → async → sync nesting never deadlocks.
/// - Otherwise `f` runs on a single dedicated thread (`duetto-sync`) shared by the whole process:
///   such calls are serialised, one at a time, like Django's.
///
/// Tokio task-locals do not follow `tokio::spawn`, so a task started with raw `tokio::spawn` inside
/// such a chain forgets its caller and falls back to the dedicated thread; start it with [`spawn`]
/// to keep it.
///
/// Cancellation and panics behave as in [`sync_to_async`].
///
/// # Example
///
/// ```
/// use duetto::bridge::{async_to_sync, sync_to_async_thread_sensitive};
///
/// # fn main() -> duetto::Result<()> {
/// let caller = std::thread::current().id();
/// let ran_on = async_to_sync(async {
///     sync_to_async_thread_sensitive(|| std::thread::current().id()).await
/// })?;
/// assert_eq!(ran_on, caller);
/// # Ok(()) }
/// ```
pub async fn sync_to_async_thread_sensitive<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let gate = StartGate::default();
    let _cancel = CancelOnDrop(gate.clone());
    let (tx, rx) = tokio::sync::oneshot::channel();
    let ambient = Ambient::current();
    let span = tracing::Span::current();
    thread_sensitive::submit(Box::new(move || {
        if gate.try_start() {
            let run = || span.in_scope(|| ambient.enter_thread(f));
            let _ = tx.send(catch_unwind(AssertUnwindSafe(run)));
        }
    }));
    match rx.await {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => resume_unwind(panic),
        Err(_) => unreachable!("a job always runs, on its caller's thread or the dedicated one"),
    }
}

/// Spawns `fut` like `tokio::spawn`, keeping the bridge context of the current task.
///
/// Inside a chain started by [`async_to_sync`], tasks spawned with this function still route their
/// [`sync_to_async_thread_sensitive`] calls to the waiting caller's thread, and inside an
/// [`aatomic`](crate::aatomic) scope they join its transaction (await them before the scope ends).
/// Raw `tokio::spawn` cannot do that: tokio task-locals belong to one task and are not inherited
/// by the tasks it spawns.
///
/// The task runs on the current runtime, or on duetto's home runtime when called outside tokio.
///
/// # Panics
///
/// Only if called outside any tokio runtime and duetto's home runtime cannot be started.
///
/// # Example
///
/// ```
/// use duetto::bridge::{async_to_sync, spawn, sync_to_async_thread_sensitive};
///
/// # fn main() -> duetto::Result<()> {
/// let caller = std::thread::current().id();
/// let ran_on = async_to_sync(async {
///     spawn(async { sync_to_async_thread_sensitive(|| std::thread::current().id()).await })
///         .await
///         .unwrap()
/// })?;
/// assert_eq!(ran_on, caller);
/// # Ok(()) }
/// ```
pub fn spawn<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let on = match Handle::try_current() {
        Ok(current) => current,
        Err(_) => runtime::handle()
            .unwrap_or_else(|e| panic!("bridge::spawn: {e}"))
            .clone(),
    };
    let fut = Ambient::current().scope_future(tracing::Instrument::in_current_span(fut));
    match CALLER_THREAD.try_with(context::CallerThread::clone) {
        Ok(caller) => on.spawn(CALLER_THREAD.scope(caller, fut)),
        Err(_) => on.spawn(fut),
    }
}
