//! Query capture (Django's `CaptureQueriesContext`) and `assert_num_queries`.
//!
//! A capture is a context frame, like a transaction scope: it follows the code it wraps through
//! every `.await`, every bridge hop (`sync_to_async`, `async_to_sync`) and every task started with
//! [`bridge::spawn`](crate::bridge::spawn), and nothing else. Two requests capturing at once each
//! see their own statements.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::{Arc, Mutex};

use super::n_plus_one::{self, Detector, Repeated};
use super::CapturedQuery;
use crate::context::Ambient;

/// Frames are tagged with a pool; captures watch every database.
const ANY_DATABASE: usize = 0;

/// A capture or a request scope's N+1 detector, open around running code.
pub(crate) struct Watch {
    queries: Option<Mutex<Vec<CapturedQuery>>>,
    detector: Option<Detector>,
}

impl Watch {
    fn capture() -> Watch {
        Watch {
            queries: Some(Mutex::new(Vec::new())),
            detector: n_plus_one::live_threshold().map(Detector::new),
        }
    }

    /// A detect-only watch for a request scope, when live N+1 detection is on.
    pub(crate) fn for_request() -> Option<Arc<Watch>> {
        n_plus_one::live_threshold().map(|k| {
            Arc::new(Watch {
                queries: None,
                detector: Some(Detector::new(k)),
            })
        })
    }

    pub(crate) fn record(&self, query: &CapturedQuery) {
        if let Some(queries) = &self.queries {
            queries
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(query.clone());
        }
        if let Some(detector) = &self.detector {
            detector.count(query);
        }
    }

    fn captured(&self) -> Captured {
        Captured {
            queries: self
                .queries
                .as_ref()
                .map(|q| q.lock().unwrap_or_else(|p| p.into_inner()).clone())
                .unwrap_or_default(),
        }
    }

    /// The ambient with this watch open inside it.
    pub(crate) fn open(self: Arc<Self>) -> Ambient {
        Ambient::current().with_scope(ANY_DATABASE, self)
    }
}

/// The statements a capture saw, in the order they completed.
///
/// Derefs to a slice of [`CapturedQuery`]; its `Display` lists them one per line, numbered.
///
/// ```
/// # duetto::doc_db::with_users(|| async {
/// use duetto::prelude::*;
/// let (_, captured) = duetto::observe::acapture_queries(async {
///     entity::user::Entity::objects().acount().await
/// })
/// .await;
/// assert_eq!(captured.len(), 1);
/// assert!(captured[0].sql.starts_with("SELECT COUNT"));
/// println!("{captured}");
/// # Ok(()) });
/// ```
#[derive(Debug, Clone, Default)]
pub struct Captured {
    queries: Vec<CapturedQuery>,
}

impl Captured {
    /// The captured statements.
    ///
    /// ```
    /// let (_, captured) = duetto::observe::capture_queries(|| ());
    /// assert!(captured.queries().is_empty());
    /// ```
    pub fn queries(&self) -> &[CapturedQuery] {
        &self.queries
    }

    /// The captured statements, owned.
    ///
    /// ```
    /// let (_, captured) = duetto::observe::capture_queries(|| ());
    /// assert!(captured.into_vec().is_empty());
    /// ```
    pub fn into_vec(self) -> Vec<CapturedQuery> {
        self.queries
    }

    /// The statement shapes that ran more than `threshold` times from one call site: the
    /// N+1 patterns of this capture, each with its call site and, when the statements came from
    /// [`related`](crate::ModelExt::related), the relation to load in one query instead.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// let (_, captured) = duetto::observe::acapture_queries(async {
    ///     for pk in 1..=3 {
    ///         entity::user::Entity::objects().aget_pk(pk).await?; // one query per row
    ///     }
    ///     Ok::<_, duetto::Error>(())
    /// })
    /// .await;
    /// let repeated = captured.repeated(2);
    /// assert_eq!(repeated.len(), 1);
    /// assert_eq!(repeated[0].count, 3);
    /// println!("{}", repeated[0]); // N+1: `SELECT … WHERE … = ?` ran 3 times from src/main.rs:4:46
    /// # Ok(()) });
    /// ```
    pub fn repeated(&self, threshold: usize) -> Vec<Repeated> {
        n_plus_one::repeated(&self.queries, threshold)
    }
}

impl std::ops::Deref for Captured {
    type Target = [CapturedQuery];
    fn deref(&self) -> &[CapturedQuery] {
        &self.queries
    }
}

impl fmt::Display for Captured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, query) in self.queries.iter().enumerate() {
            writeln!(f, "{:>3}. {query}", i + 1)?;
        }
        Ok(())
    }
}

/// Runs `fut` and returns its output with the statements it ran — it and everything it awaits,
/// bridges to, or starts with [`bridge::spawn`](crate::bridge::spawn), on any database — and
/// only those: statements of concurrent tasks are not captured. Captures nest; each sees the
/// statements of its own future.
///
/// Every statement sent counts, including a scope's `BEGIN`, `SAVEPOINT`, `RELEASE SAVEPOINT` and
/// `COMMIT`.
///
/// ```
/// # duetto::doc_db::with_users(|| async {
/// use duetto::prelude::*;
/// let (count, captured) = duetto::observe::acapture_queries(async {
///     entity::user::Entity::objects().acount().await
/// })
/// .await;
/// assert_eq!(count?, 3);
/// assert_eq!(captured.len(), 1);
/// assert_eq!(captured[0].rows, Some(1));
/// # Ok(()) });
/// ```
pub async fn acapture_queries<F: Future>(fut: F) -> (F::Output, Captured) {
    let watch = Arc::new(Watch::capture());
    let out = watch.clone().open().scope_future(fut).await;
    (out, watch.captured())
}

/// Blocking twin of [`acapture_queries`]: runs `f` and returns its result with the statements
/// it ran (through blocking twins, and what they bridge to).
///
/// ```
/// # duetto::doc_db::with_users_blocking(|| {
/// use duetto::prelude::*;
/// let (ada, captured) = duetto::observe::capture_queries(|| {
///     entity::user::Entity::objects().get_pk(1)
/// });
/// assert_eq!(ada?.id, 1);
/// assert_eq!(captured.len(), 1);
/// assert_eq!(captured[0].voice, duetto::observe::Voice::Blocking);
/// # Ok(()) });
/// ```
pub fn capture_queries<R>(f: impl FnOnce() -> R) -> (R, Captured) {
    let watch = Arc::new(Watch::capture());
    let out = watch.clone().open().enter_thread(f);
    (out, watch.captured())
}

#[track_caller]
fn check_count(expected: usize, captured: &Captured, at: &'static Location<'static>) {
    if captured.len() != expected {
        panic!(
            "assert_num_queries! at {at}: expected {expected} statement{}, {} ran:\n{captured}",
            if expected == 1 { "" } else { "s" },
            captured.len(),
        );
    }
}

/// Runs `fut` and panics, listing the statements, unless it ran exactly `expected` of them (as
/// counted by [`acapture_queries`]). The async form of [`assert_num_queries!`](crate::assert_num_queries).
///
/// ```
/// # duetto::doc_db::with_users(|| async {
/// use duetto::prelude::*;
/// let n = duetto::observe::aassert_num_queries(1, async {
///     entity::user::Entity::objects().acount().await
/// })
/// .await?;
/// assert_eq!(n, 3);
/// # Ok(()) });
/// ```
#[track_caller]
pub fn aassert_num_queries<F: Future>(expected: usize, fut: F) -> impl Future<Output = F::Output> {
    let at = Location::caller();
    async move {
        let (out, captured) = acapture_queries(fut).await;
        check_count(expected, &captured, at);
        out
    }
}

/// Runs `f` and panics, listing the statements, unless it ran exactly `expected` of them. The
/// blocking form of [`assert_num_queries!`](crate::assert_num_queries).
///
/// ```
/// # duetto::doc_db::with_users_blocking(|| {
/// use duetto::prelude::*;
/// let n = duetto::observe::assert_num_queries(1, || entity::user::Entity::objects().count())?;
/// assert_eq!(n, 3);
/// # Ok(()) });
/// ```
#[track_caller]
pub fn assert_num_queries<R>(expected: usize, f: impl FnOnce() -> R) -> R {
    let at = Location::caller();
    let (out, captured) = capture_queries(f);
    check_count(expected, &captured, at);
    out
}

/// Asserts that some code runs exactly `n` statements (Django's `assertNumQueries`), panicking
/// with the list of statements it did run. In both voices:
///
/// - `assert_num_queries!(n, async { … })` is a future (await it) that yields the block's value;
/// - `assert_num_queries!(n, || …)` runs the closure and returns its value.
///
/// ```
/// # duetto::doc_db::with_users(|| async {
/// use duetto::prelude::*;
/// let users = entity::user::Entity::objects();
/// let n = duetto::assert_num_queries!(1, async { users.acount().await }).await?;
/// assert_eq!(n, 3);
/// # Ok(()) });
/// ```
///
/// ```should_panic
/// # duetto::doc_db::with_users_blocking(|| {
/// use duetto::prelude::*;
/// // Panics: "expected 1 statement, 2 ran:" followed by both statements.
/// duetto::assert_num_queries!(1, || {
///     entity::user::Entity::objects().count()?;
///     entity::user::Entity::objects().count()
/// })?;
/// # Ok(()) });
/// ```
#[macro_export]
macro_rules! assert_num_queries {
    ($n:expr, async $($body:tt)+) => {
        $crate::observe::aassert_num_queries($n, async $($body)+)
    };
    ($n:expr, $f:expr $(,)?) => {
        $crate::observe::assert_num_queries($n, $f)
    };
}
