//! Is the current thread driving async tasks? The check behind every blocking duetto call.
//!
//! The answer comes from three sources:
//!
//! 1. tokio's coop budget: tokio constrains it exactly while it polls async code (worker tasks,
//!    `block_on` bodies, `LocalSet` tasks), and removes it in `spawn_blocking` and `block_in_place`;
//! 2. duetto's own mark ([`context::allow_blocking`]): its `sync_to_async` closures and
//!    thread-sensitive jobs are blocking sections by construction;
//! 3. when the budget is unconstrained, a runtime is current and no mark is set, the code is either in a blocking
//!    section duetto did not start (a raw `spawn_blocking`, `block_in_place`, a thread that only
//!    entered a runtime) or in async code that opted out of the budget
//!    (`tokio::task::coop::unconstrained`). tokio offers no query that tells these apart, only the
//!    panic `block_on` raises in the second case; [`runtime_entered`] provokes it on a trivial
//!    future with the panic message silenced and reads the answer.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Once, OnceLock};
use std::task::{Context, Poll, Waker};

use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::task::coop;

use crate::context;
use crate::{runtime, Error, Result};

/// How a permitted blocking call must wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockingMode {
    /// Plain blocking wait: no executor runs on this thread.
    Plain,
    /// `DUETTO_ALLOW_ASYNC_UNSAFE=1` on a multi-thread executor thread: wait inside
    /// `tokio::task::block_in_place` so the worker's other tasks move to another thread.
    BlockInPlace,
}

/// Returns `true` when the calling thread is driving async tasks: a tokio worker polling a task, a
/// `Runtime::block_on` / `#[tokio::main]` body (either flavour), or a `LocalSet` task, also inside
/// `tokio::task::coop::unconstrained`. Blocking there stalls every other task of that executor.
///
/// Returns `false` on plain threads, in `spawn_blocking` closures (including duetto's
/// [`sync_to_async`](super::sync_to_async)), inside `block_in_place`, and on threads that merely
/// entered a runtime with `Handle::enter`.
///
/// ```
/// assert!(!duetto::bridge::in_async_context());
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// assert!(rt.block_on(async { duetto::bridge::in_async_context() }));
/// ```
pub fn in_async_context() -> bool {
    if Handle::try_current().is_err() {
        return false;
    }
    // A runtime driven from inside a section duetto marked (a `block_on` in a `sync_to_async`
    // closure) constrains the budget again, so the mark only settles the unconstrained case.
    task_budget_is_constrained() || (!context::blocking_allowed() && runtime_entered())
}

/// Tokio gives a coop budget to everything it polls as async code and removes it for blocking
/// sections; an unconstrained budget never runs out. We spend budget until it does or until we
/// have spent far more than tokio ever grants (128 per poll), then restore what we spent, so the
/// probe leaves the task's scheduling untouched.
fn task_budget_is_constrained() -> bool {
    const MORE_THAN_ANY_TOKIO_BUDGET: usize = 1024;
    let mut cx = Context::from_waker(Waker::noop());
    if !coop::has_budget_remaining() {
        return true;
    }
    // Dropping the first guard without `made_progress` puts the budget back to its value before
    // the probe, whatever the later guards committed.
    let restore = match coop::poll_proceed(&mut cx) {
        Poll::Ready(guard) => guard,
        Poll::Pending => return true,
    };
    for _ in 0..MORE_THAN_ANY_TOKIO_BUDGET {
        if !coop::has_budget_remaining() {
            drop(restore);
            return true;
        }
        match coop::poll_proceed(&mut cx) {
            Poll::Ready(spent) => spent.made_progress(),
            Poll::Pending => {
                drop(restore);
                return true;
            }
        }
    }
    drop(restore);
    false
}

thread_local! {
    static PROBING: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is inside a runtime's executor context (where `block_on` would panic with
/// "Cannot start a runtime from within a runtime"), asked by trying exactly that on a trivial
/// future. Only reached when the budget probe cannot decide; the panic message is silenced for
/// this thread, every other panic still reaches the application's hook.
fn runtime_entered() -> bool {
    static QUIET_HOOK: Once = Once::new();
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !PROBING.with(Cell::get) {
                previous(info)
            }
        }));
    });
    let Ok(home) = runtime::handle() else {
        return false;
    };
    PROBING.with(|p| p.set(true));
    let entered = catch_unwind(AssertUnwindSafe(|| home.block_on(async {}))).is_err();
    PROBING.with(|p| p.set(false));
    entered
}

fn async_unsafe_allowed() -> bool {
    static ALLOWED: OnceLock<bool> = OnceLock::new();
    *ALLOWED.get_or_init(|| {
        std::env::var("DUETTO_ALLOW_ASYNC_UNSAFE")
            .map(|v| matches!(v.trim(), "1" | "true" | "yes" | "on"))
            .unwrap_or(false)
    })
}

/// Decides how (and whether) the blocking operation `op` may wait on this thread.
pub(crate) fn blocking_mode(op: &'static str) -> Result<BlockingMode> {
    if !in_async_context() {
        return Ok(BlockingMode::Plain);
    }
    let multi_thread = Handle::try_current()
        .map(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread)
        .unwrap_or(false);
    if async_unsafe_allowed() && multi_thread {
        return Ok(BlockingMode::BlockInPlace);
    }
    Err(Error::SynchronousOnlyOperation { operation: op })
}

/// The guard every blocking duetto method runs first.
///
/// Returns [`Error::SynchronousOnlyOperation`] naming `op` when the calling thread drives async
/// tasks (see [`in_async_context`]), so a blocking call in async code is reported instead of
/// silently stalling the executor. Plain threads, `spawn_blocking`, `block_in_place` and
/// [`sync_to_async`](super::sync_to_async) closures pass.
///
/// Setting `DUETTO_ALLOW_ASYNC_UNSAFE=1` (read once per process) disables the check on multi-thread
/// runtimes, where duetto then blocks inside `tokio::task::block_in_place`; on a `current_thread`
/// runtime blocking can never be made safe, so the error remains. `LocalSet` tasks on a multi-thread
/// runtime are not detectable from outside tokio and must not use the opt-out.
///
/// # Example
///
/// ```
/// use duetto::bridge::check_sync_allowed;
///
/// assert!(check_sync_allowed("get").is_ok());
/// # if std::env::var_os("DUETTO_ALLOW_ASYNC_UNSAFE").is_none() {
/// let rt = tokio::runtime::Runtime::new().unwrap();
/// let err = rt.block_on(async { check_sync_allowed("get") }).unwrap_err();
/// assert!(err.to_string().contains("use `aget"));
/// # }
/// ```
pub fn check_sync_allowed(op: &'static str) -> Result<()> {
    blocking_mode(op).map(|_| ())
}
