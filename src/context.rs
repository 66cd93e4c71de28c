//! What a task or a thread carries with it: the scopes open around the running code, the sync
//! caller a chain of bridge calls started from, and whether blocking is allowed here.
//!
//! This is the bottom of duetto's layering: it knows nothing of databases or bridges, so the
//! bridge (which copies the context across every hop it makes) and the executor (which reads the
//! open scopes to pick a connection) both build on it without importing each other.
//!
//! - **Scopes** ([`Ambient`]): a stack of frames, each a type-erased scope tagged with the pool it
//!   belongs to. Async code carries it in a tokio task-local (set around a scope's body), blocking
//!   code in a thread-local (set around a blocking scope's closure).
//! - **Caller thread** ([`CALLER_THREAD`]): set on every future `async_to_sync` runs, naming the
//!   waiting sync thread that serves thread-sensitive calls.
//! - **Blocking allowed** ([`allow_blocking`]): a thread-local mark duetto sets where it knows a
//!   blocking wait is safe (its `sync_to_async` closures, thread-sensitive jobs), so the blocking
//!   guard does not have to guess from tokio's internals there.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::sync::Arc;

/// One open scope: who it belongs to (a pool) and what it is (the layer that opened it knows).
#[derive(Clone)]
pub(crate) struct Frame {
    pool: usize,
    scope: Arc<dyn Any + Send + Sync>,
}

/// The stack of scopes open around the current code, outermost first.
#[derive(Clone, Default)]
pub(crate) struct Ambient {
    frames: Vec<Frame>,
}

tokio::task_local! {
    static TASK_AMBIENT: Ambient;
}

thread_local! {
    static THREAD_AMBIENT: RefCell<Ambient> = RefCell::new(Ambient::default());
}

impl Ambient {
    /// Reads the current ambient without cloning it: the task's if this runs inside a task that
    /// has one, else the thread's.
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

    /// The innermost open scope of type `S` on `pool`, if any.
    pub(crate) fn find<S: Any + Send + Sync>(pool: usize) -> Option<Arc<S>> {
        Self::with(|ambient| {
            ambient
                .frames
                .iter()
                .rev()
                .filter(|frame| frame.pool == pool)
                .find_map(|frame| frame.scope.clone().downcast::<S>().ok())
        })
    }

    /// The innermost open scope of type `S` on any pool, if any.
    pub(crate) fn innermost<S: Any + Send + Sync>() -> Option<Arc<S>> {
        Self::with(|ambient| {
            ambient
                .frames
                .iter()
                .rev()
                .find_map(|frame| frame.scope.clone().downcast::<S>().ok())
        })
    }

    /// Calls `f` on every open scope of type `S`, on any pool, outermost first.
    pub(crate) fn each<S: Any + Send + Sync>(mut f: impl FnMut(Arc<S>)) {
        Self::with(|ambient| {
            for frame in &ambient.frames {
                if let Ok(scope) = frame.scope.clone().downcast::<S>() {
                    f(scope);
                }
            }
        })
    }

    /// Whether a scope tied to `pool` is open (a transaction scope: the only frames tagged with
    /// a pool).
    pub(crate) fn any_on(pool: usize) -> bool {
        Self::with(|ambient| ambient.frames.iter().any(|frame| frame.pool == pool))
    }

    /// Whether no scope of any kind is open.
    pub(crate) fn is_empty() -> bool {
        Self::with(|ambient| ambient.frames.is_empty())
    }

    /// This ambient with `scope` (on `pool`) opened inside it.
    pub(crate) fn with_scope<S: Any + Send + Sync>(&self, pool: usize, scope: Arc<S>) -> Ambient {
        let mut frames = self.frames.clone();
        frames.push(Frame { pool, scope });
        Ambient { frames }
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

/// A closure queued for a thread-sensitive executor.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// Where the thread-sensitive calls of a chain started by `async_to_sync` go: the waiting
/// caller's thread. `send` hands a job back when that thread no longer takes jobs.
#[derive(Clone)]
pub(crate) struct CallerThread {
    send: Arc<dyn Fn(Job) -> Result<(), Job> + Send + Sync>,
}

impl CallerThread {
    pub(crate) fn new(send: impl Fn(Job) -> Result<(), Job> + Send + Sync + 'static) -> Self {
        CallerThread {
            send: Arc::new(send),
        }
    }

    /// Queues `job` for the caller's thread, or gives it back if that thread has returned.
    pub(crate) fn submit(&self, job: Job) -> Result<(), Job> {
        (self.send)(job)
    }
}

tokio::task_local! {
    /// Set on every future `async_to_sync` runs: the waiting caller's thread.
    pub(crate) static CALLER_THREAD: CallerThread;
}

thread_local! {
    static BLOCKING_ALLOWED: Cell<u32> = const { Cell::new(0) };
}

/// Runs `f` with blocking waits marked safe on this thread (duetto's own blocking sections).
pub(crate) fn allow_blocking<R>(f: impl FnOnce() -> R) -> R {
    struct Unmark;
    impl Drop for Unmark {
        fn drop(&mut self) {
            BLOCKING_ALLOWED.with(|n| n.set(n.get() - 1));
        }
    }
    BLOCKING_ALLOWED.with(|n| n.set(n.get() + 1));
    let _unmark = Unmark;
    f()
}

/// Whether the running code sits in a section duetto marked with [`allow_blocking`].
///
/// A task polled inside such a section (a `block_on` started by a marked closure) is async code
/// again: [`forbid_blocking`] clears the mark for it.
pub(crate) fn blocking_allowed() -> bool {
    BLOCKING_ALLOWED.with(|n| n.get() > 0)
}

/// Runs `f` with the blocking mark cleared: `f` drives async code on this thread.
pub(crate) fn forbid_blocking<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(u32);
    impl Drop for Restore {
        fn drop(&mut self) {
            BLOCKING_ALLOWED.with(|n| n.set(self.0));
        }
    }
    let _restore = Restore(BLOCKING_ALLOWED.with(|n| n.replace(0)));
    f()
}
