//! Where `sync_to_async_thread_sensitive` closures run: the thread of a sync caller currently waiting
//! in `async_to_sync` (asgiref's `CurrentThreadExecutor`), or else one dedicated process-wide thread.

use std::sync::mpsc;
use std::sync::{Arc, OnceLock};

/// A closure queued for a thread-sensitive executor.
///
/// A job is never lost: if it is dropped before running (its executor's caller has already returned
/// and the queue is gone), it forwards itself to the dedicated thread instead.
pub(crate) struct Job(Option<Box<dyn FnOnce() + Send>>);

impl Job {
    pub(crate) fn new(f: impl FnOnce() + Send + 'static) -> Self {
        Job(Some(Box::new(f)))
    }

    pub(crate) fn run(mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            dedicated_thread().submit(Job(Some(f)));
        }
    }
}

/// The executor a thread-sensitive call is routed to.
#[derive(Clone)]
pub(crate) struct Executor(Arc<dyn Fn(Job) + Send + Sync>);

impl Executor {
    /// An executor that hands jobs to `send`; a job `send` cannot deliver is simply dropped, which
    /// forwards it to the dedicated thread.
    pub(crate) fn new(send: impl Fn(Job) + Send + Sync + 'static) -> Self {
        Executor(Arc::new(send))
    }

    pub(crate) fn submit(&self, job: Job) {
        (self.0)(job)
    }
}

tokio::task_local! {
    /// Set on every future `async_to_sync` runs: the waiting caller's thread.
    pub(crate) static CALLER_THREAD: Executor;
}

/// The executor for a call made now: the waiting sync caller if this task descends from one,
/// otherwise the dedicated thread.
pub(crate) fn current() -> Executor {
    CALLER_THREAD
        .try_with(Executor::clone)
        .unwrap_or_else(|_| dedicated_thread().clone())
}

/// The single process-wide thread that serves thread-sensitive calls with no waiting caller, so
/// that code which must stay on one thread (thread-local state, non-`Send` handles kept in TLS) does.
fn dedicated_thread() -> &'static Executor {
    static DEDICATED: OnceLock<Executor> = OnceLock::new();
    DEDICATED.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("duetto-sync".into())
            .spawn(move || {
                for job in rx {
                    job.run();
                }
            })
            .expect("cannot spawn duetto's thread-sensitive executor thread");
        // The thread never exits, so the receiver outlives every send and a failed send is
        // impossible; forgetting the job there avoids re-entering this initialiser from `Drop`.
        Executor::new(move |job| {
            if let Err(mpsc::SendError(job)) = tx.send(job) {
                std::mem::forget(job);
            }
        })
    })
}
