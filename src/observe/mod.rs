//! Seeing every statement: `tracing` spans, query capture, `assert_num_queries!`, and an N+1
//! detector that names the line of code responsible.
//!
//! # Spans
//!
//! Every statement duetto sends — queries, writes, a scope's `BEGIN`/`SAVEPOINT`/`COMMIT`,
//! batches, each `FETCH` of a stream — runs in its own `tracing` span: target `duetto::query`,
//! level DEBUG, name `query`, with these fields:
//!
//! | field | value |
//! |---|---|
//! | `alias` | the database's alias (`"default"`, or the one it was registered under) |
//! | `backend` | `postgres`, `mysql` or `sqlite` |
//! | `sql` | the statement's SQL, with placeholders |
//! | `values` | its bound values, only with [`ConnectOptions::log_values`](crate::ConnectOptions::log_values) |
//! | `rows` | rows returned (a query) or affected (a write) |
//! | `elapsed_us` | time from sending it to reading its last reply |
//! | `voice` | `async` or `blocking` (see [`Voice`]) |
//! | `in_transaction` | whether it ran inside a transaction scope |
//! | `site` | the line of user code that called duetto, when known |
//! | `error` | the error, if it failed (or `interrupted…` if its future was dropped) |
//!
//! The span is a child of the caller's current span, in both voices and across the bridge:
//! `sync_to_async` and `bridge::spawn` carry the caller's span to where the code runs. With no
//! subscriber, or one that filters `duetto::query` out, a span costs a few nanoseconds (measured
//! in BENCHMARKS.md). A statement slower than
//! [`ConnectOptions::slow_query_threshold`](crate::ConnectOptions::slow_query_threshold) also logs
//! a WARN event `slow query` in its span.
//!
//! ```
//! # duetto::doc_db::with_users(|| async {
//! use duetto::prelude::*;
//! use tracing::Instrument;
//!
//! // With a subscriber installed (e.g. tracing-subscriber's `fmt()` with
//! // `RUST_LOG=duetto::query=debug`), this statement's span nests under `request`.
//! let n = entity::user::Entity::objects()
//!     .acount()
//!     .instrument(tracing::info_span!("request", path = "/users"))
//!     .await?;
//! assert_eq!(n, 3);
//! # Ok(()) });
//! ```
//!
//! # Capture and `assert_num_queries!`
//!
//! [`acapture_queries`] / [`capture_queries`] return the statements a future or closure ran (and
//! only those: a capture follows its code through awaits, bridge hops and
//! [`bridge::spawn`](crate::bridge::spawn), never into concurrent requests);
//! [`assert_num_queries!`](crate::assert_num_queries) fails a test with the list when the count is
//! wrong.
//!
//! # N+1
//!
//! [`Captured::repeated`] finds, after the fact, the statement shapes one line of code ran more
//! than `k` times; [`detect_n_plus_one`] turns on live detection in every capture and request
//! scope, which logs a WARN (target `duetto::n_plus_one`) the moment it happens. Both name the
//! call site: every public duetto operation is `#[track_caller]`, and the line recorded is the
//! innermost one outside duetto's own source.

mod capture;
mod n_plus_one;
mod origin;
mod statement;

use std::fmt;
use std::panic::Location;
use std::time::Duration;

use sea_orm::sea_query::Values;

pub use capture::Captured;
pub(crate) use capture::Watch;
pub use capture::{aassert_num_queries, acapture_queries, assert_num_queries, capture_queries};
pub use n_plus_one::{detect_n_plus_one, Repeated};
pub use origin::Voice;
pub(crate) use origin::{at_caller, Origin, Provenance, RelationHint};
#[cfg(feature = "testing")]
pub(crate) use statement::backend_name;
pub(crate) use statement::{Observation, Settings};

use crate::Backend;

/// One statement as a capture saw it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CapturedQuery {
    /// The SQL sent, with placeholders (values inline for batches).
    pub sql: String,
    /// The values bound to the placeholders.
    pub values: Option<Values>,
    /// The alias of the database it ran on.
    pub alias: String,
    /// That database's backend.
    pub backend: Backend,
    /// From sending it to reading its last reply.
    pub elapsed: Duration,
    /// Rows returned (a query) or affected (a write); `None` if it failed.
    pub rows: Option<u64>,
    /// The error, if it failed.
    pub error: Option<String>,
    /// The voice of the duetto call that issued it.
    pub voice: Voice,
    /// Whether it ran inside a transaction scope.
    pub in_transaction: bool,
    /// The line of user code that called duetto, when known.
    pub site: Option<&'static Location<'static>>,
    pub(crate) relation: Option<RelationHint>,
}

impl fmt::Display for CapturedQuery {
    /// `SQL  [alias, N rows, 0.42 ms, file:line]`, values after the SQL when present.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sql)?;
        if let Some(values) = self.values.as_ref().filter(|v| !v.0.is_empty()) {
            write!(f, "  -- values {:?}", values.0)?;
        }
        write!(f, "  [{}", self.alias)?;
        match (&self.rows, &self.error) {
            (Some(rows), _) => write!(f, ", {rows} rows")?,
            (None, Some(error)) => write!(f, ", failed: {error}")?,
            (None, None) => {}
        }
        write!(f, ", {:.2} ms", self.elapsed.as_secs_f64() * 1e3)?;
        if let Some(site) = self.site {
            write!(f, ", {site}")?;
        }
        f.write_str("]")
    }
}
