//! Where `sync_to_async_thread_sensitive` closures run: the thread of a sync caller currently waiting
//! in `async_to_sync` (asgiref's `CurrentThreadExecutor`), or else one dedicated process-wide thread.
//!
//! A sync thread has ONE job queue however deeply its `async_to_sync` calls nest: every waiting
//! level on that thread serves it. A task started at an outer level may therefore make a
//! thread-sensitive call while the thread waits one level deeper (for that very task) without
//! deadlocking: the inner level runs the job.

use std::cell::RefCell;
use std::future::poll_fn;
use std::sync::mpsc;
use std::sync::OnceLock;

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

use crate::context::{CallerThread, Job, CALLER_THREAD};

/// The executor for a thread-sensitive call made now: the waiting sync caller if this task
/// descends from one that still waits, otherwise the dedicated thread.
pub(crate) fn submit(job: Job) {
    let job = match CALLER_THREAD.try_with(CallerThread::clone) {
        Ok(caller) => match caller.submit(job) {
            Ok(()) => return,
            Err(job) => job,
        },
        Err(_) => job,
    };
    dedicated_thread(job);
}

/// The job queue of one sync thread while at least one `async_to_sync` waits on it.
struct ThreadQueue {
    jobs: UnboundedReceiver<Job>,
    caller: CallerThread,
    depth: usize,
}

thread_local! {
    static QUEUE: RefCell<Option<ThreadQueue>> = const { RefCell::new(None) };
}

/// One waiting level of `async_to_sync` on this thread; the outermost one owns the queue's life.
pub(crate) struct Waiting(());

impl Waiting {
    /// Starts waiting on this thread and returns the caller handle tasks send jobs through.
    pub(crate) fn enter() -> (Waiting, CallerThread) {
        let caller = QUEUE.with(|queue| {
            let mut queue = queue.borrow_mut();
            let queue = queue.get_or_insert_with(|| {
                let (tx, jobs) = unbounded_channel::<Job>();
                let caller = CallerThread::new(move |job| tx.send(job).map_err(|e| e.0));
                ThreadQueue {
                    jobs,
                    caller,
                    depth: 0,
                }
            });
            queue.depth += 1;
            queue.caller.clone()
        });
        (Waiting(()), caller)
    }

    /// The next job queued for this thread, from whichever level queued it.
    pub(crate) async fn next_job(&self) -> Job {
        poll_fn(|cx| {
            QUEUE.with(|queue| {
                let mut queue = queue.borrow_mut();
                let queue = queue.as_mut().expect("a waiting level keeps the queue");
                queue
                    .jobs
                    .poll_recv(cx)
                    .map(|job| job.expect("the queue holds a sender of its own while it exists"))
            })
        })
        .await
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let leftover = QUEUE.with(|queue| {
            let mut slot = queue.borrow_mut();
            let queue = slot.as_mut().expect("a waiting level keeps the queue");
            queue.depth -= 1;
            if queue.depth > 0 {
                return None;
            }
            // The outermost level returns: nobody serves this thread's queue any more, so what
            // is queued, and whatever is sent from now on, goes to the dedicated thread.
            let mut queue = slot.take().expect("checked above");
            queue.jobs.close();
            let mut leftover = Vec::new();
            while let Ok(job) = queue.jobs.try_recv() {
                leftover.push(job);
            }
            Some(leftover)
        });
        for job in leftover.into_iter().flatten() {
            dedicated_thread(job);
        }
    }
}

/// Runs `job` on the single process-wide thread that serves thread-sensitive calls with no
/// waiting caller, so that code which must stay on one thread (thread-local state, non-`Send`
/// handles kept in TLS) does.
fn dedicated_thread(job: Job) {
    static DEDICATED: OnceLock<mpsc::Sender<Job>> = OnceLock::new();
    let sender = DEDICATED.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("duetto-sync".into())
            .spawn(move || {
                for job in rx {
                    crate::context::allow_blocking(job);
                }
            })
            .expect("cannot spawn duetto's thread-sensitive executor thread");
        tx
    });
    // The thread never exits, so the receiver outlives every send.
    let _ = sender.send(job);
}
