//! Where a statement comes from: the voice that issued it, the call site in user code, the
//! database alias it was issued on, and the relation it loads (for N+1 hints).
//!
//! These ride along the future that runs the statement in tokio task-locals: set by the blocking
//! twin (voice) and by the executor (alias, call site, relation) around the future, and read by the
//! pool when the statement is sent. Nothing here is copied between tasks except by duetto's own
//! spawns, which carry a [`Provenance`] snapshot across.

use std::future::Future;
use std::panic::Location;
use std::sync::Arc;

/// Which of the two voices issued a statement: an async method (`aget`) or its blocking twin
/// (`get`).
///
/// ```
/// use duetto::observe::Voice;
/// assert_eq!(Voice::Blocking.as_str(), "blocking");
/// assert_eq!(Voice::default(), Voice::Async);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Voice {
    /// An `a`-prefixed async method, awaited.
    #[default]
    Async,
    /// A blocking twin, called from sync code.
    Blocking,
}

impl Voice {
    /// `"async"` or `"blocking"`, the value of the `voice` span field.
    pub fn as_str(self) -> &'static str {
        match self {
            Voice::Async => "async",
            Voice::Blocking => "blocking",
        }
    }
}

/// Builds the hint that names the relation a statement loads, when an N+1 is reported.
pub(crate) type RelationHint = fn() -> String;

/// Who issued the statements of a future: its database alias, the user code that called duetto,
/// and the relation it loads, if it came from `related()`.
#[derive(Clone)]
pub(crate) struct Origin {
    pub(crate) alias: Option<Arc<str>>,
    pub(crate) site: Option<&'static Location<'static>>,
    pub(crate) relation: Option<RelationHint>,
}

tokio::task_local! {
    static VOICE: Voice;
    static ORIGIN: Origin;
}

impl Voice {
    /// The voice of the running future: blocking inside a blocking twin, else async.
    pub(crate) fn current() -> Voice {
        VOICE.try_with(|v| *v).unwrap_or_default()
    }

    /// Runs `fut` as issued in this voice.
    pub(crate) fn scope<F: Future>(self, fut: F) -> impl Future<Output = F::Output> {
        VOICE.scope(self, fut)
    }
}

impl Origin {
    pub(crate) fn current() -> Option<Origin> {
        ORIGIN.try_with(Origin::clone).ok()
    }

    /// Runs `fut` with this origin. A call site inside duetto's own code (an operation that
    /// calls another one internally) gives way to the user's call site already in effect, and a
    /// missing relation to the one in effect: the report should name the user's line.
    pub(crate) fn scope<F: Future>(self, fut: F) -> impl Future<Output = F::Output> {
        ORIGIN.scope(self.within_current(), fut)
    }

    /// This origin completed from the one in effect: a call site inside duetto's own code (an
    /// operation that calls another one internally) gives way to the user's call site, and a
    /// missing alias or relation to the one in effect. The report should name the user's line.
    pub(crate) fn within_current(mut self) -> Origin {
        if self.site.is_some_and(is_own_code) {
            self.site = None;
        }
        let _ = ORIGIN.try_with(|outer| {
            if self.site.is_none() {
                self.site = outer.site;
            }
            self.relation = self.relation.or(outer.relation);
            if self.alias.is_none() {
                self.alias = outer.alias.clone();
            }
        });
        self
    }

    /// Calls `f` with the running future's origin, if any, without copying it.
    pub(crate) fn with<R>(f: impl FnOnce(Option<&Origin>) -> R) -> R {
        let mut f = Some(f);
        match ORIGIN.try_with(|origin| (f.take().expect("called once"))(Some(origin))) {
            Ok(r) => r,
            Err(_) => (f.take().expect("called once"))(None),
        }
    }
}

/// `fut` with its statements reported as issued by the caller of the `#[track_caller]` function
/// that calls this: for operations made of other operations, whose inner calls sit in duetto's
/// own code.
#[track_caller]
pub(crate) fn at_caller<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    let origin = Origin {
        alias: None,
        site: Some(Location::caller()),
        relation: None,
    };
    // Boxed: operations made of operations nest these, and unboxed the nesting makes futures
    // big enough to overflow a worker's stack in debug builds.
    let fut = Box::pin(fut);
    async move { origin.scope(fut).await }
}

/// Whether `site` lies in duetto's own source (compared with this file's path as the compiler
/// saw it, so it works for a path dependency and for a crate from a registry alike).
pub(crate) fn is_own_code(site: &'static Location<'static>) -> bool {
    const HERE: &str = file!();
    // `…/src/observe/origin.rs` minus `observe/origin.rs` is duetto's `src/` directory.
    let src = &HERE[..HERE.len() - "observe/origin.rs".len()];
    site.file().starts_with(src)
}

/// Everything a statement's context consists of, captured where a statement is issued so a task
/// duetto spawns to run it (a stream's producer) can run it in the same context.
#[derive(Clone)]
pub(crate) struct Provenance {
    voice: Voice,
    origin: Option<Origin>,
    span: tracing::Span,
}

impl Provenance {
    pub(crate) fn current() -> Provenance {
        Provenance {
            voice: Voice::current(),
            origin: Origin::current(),
            span: tracing::Span::current(),
        }
    }

    /// This context, with `origin` (when known) as who issued the statements.
    pub(crate) fn issued_by(mut self, origin: Option<&Origin>) -> Provenance {
        if let Some(origin) = origin {
            self.origin = Some(origin.clone());
        }
        self
    }

    /// `fut` run in this context.
    pub(crate) fn scope<F: Future>(self, fut: F) -> impl Future<Output = F::Output> {
        use tracing::Instrument;
        let fut = VOICE.scope(self.voice, fut.instrument(self.span));
        async move {
            match self.origin {
                Some(origin) => ORIGIN.scope(origin, fut).await,
                None => fut.await,
            }
        }
    }
}
