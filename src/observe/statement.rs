//! One statement, observed: its span, its timing, and the captures and N+1 detectors open around
//! it. The pool starts an [`Observation`] as it sends a statement and finishes it with the
//! outcome; everything else in this module's parent builds on what it records.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::sea_query::Values;
use sea_orm::{DbBackend, DbErr};
use tracing::field::{debug, display, Empty};
use tracing::Span;

use super::capture::Watch;
use super::origin::{Origin, Voice};
use super::CapturedQuery;
use crate::context::Ambient;

/// What a database records about its statements beyond the span (from `ConnectOptions`).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The alias the database was opened with, for statements issued outside any duetto call
    /// that names one (a scope's `BEGIN` runs inside one; SeaORM used directly does not).
    pub(crate) alias: Arc<str>,
    /// Statements slower than this log a warning.
    pub(crate) slow: Option<Duration>,
    /// Whether the span records the statement's values (they may be personal data).
    pub(crate) log_values: bool,
}

/// The backend's name as the `backend` span field shows it.
pub(crate) fn backend_name(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "postgres",
        DbBackend::MySql => "mysql",
        DbBackend::Sqlite => "sqlite",
        #[allow(unreachable_patterns)]
        _ => "other",
    }
}

/// A statement on its way: started when sent, finished with its outcome. Dropped unfinished
/// (its future was cancelled mid-exchange), it is recorded as interrupted.
pub(crate) struct Observation {
    span: Span,
    started: Instant,
    /// What the captures and the slow-query warning need; only kept when one of them is on.
    detail: Option<Box<Detail>>,
    watchers: Vec<Arc<Watch>>,
    slow: Option<Duration>,
    finished: bool,
}

struct Detail {
    sql: String,
    values: Option<Values>,
    alias: Arc<str>,
    backend: DbBackend,
    in_transaction: bool,
    voice: Voice,
    origin: Option<Origin>,
}

impl Observation {
    /// Starts observing `sql` as it is sent on a connection of `backend`.
    pub(crate) fn start(
        settings: &Settings,
        backend: DbBackend,
        in_transaction: bool,
        sql: &str,
        values: Option<&Values>,
        origin: Option<Origin>,
    ) -> Observation {
        let voice = Voice::current();
        let span = |origin: Option<&Origin>| {
            let alias = origin
                .and_then(|o| o.alias.as_deref())
                .unwrap_or(&settings.alias);
            let span = tracing::debug_span!(
                target: "duetto::query",
                "query",
                alias,
                backend = backend_name(backend),
                sql,
                values = Empty,
                rows = Empty,
                elapsed_us = Empty,
                voice = voice.as_str(),
                in_transaction,
                site = Empty,
                error = Empty,
            );
            if !span.is_disabled() {
                if let (true, Some(values)) = (settings.log_values, values) {
                    span.record("values", debug(values));
                }
                if let Some(site) = origin.and_then(|o| o.site) {
                    span.record("site", display(site));
                }
            }
            span
        };
        let span = match &origin {
            Some(origin) => span(Some(origin)),
            None => Origin::with(span),
        };
        let mut watchers = Vec::new();
        if !Ambient::is_empty() {
            Ambient::each::<Watch>(|watch| watchers.push(watch));
        }
        let detail = (!watchers.is_empty() || settings.slow.is_some()).then(|| {
            let origin = origin.or_else(Origin::current);
            let alias = origin
                .as_ref()
                .and_then(|o| o.alias.clone())
                .unwrap_or_else(|| settings.alias.clone());
            Box::new(Detail {
                sql: sql.to_owned(),
                values: values.cloned(),
                alias,
                backend,
                in_transaction,
                voice,
                origin,
            })
        });
        Observation {
            span,
            started: Instant::now(),
            detail,
            watchers,
            slow: settings.slow,
            finished: false,
        }
    }

    /// Records a statement SeaORM ran on its own pool handle (`Db::arun`, SeaORM used directly),
    /// reported after the fact through SeaORM's metric callback: no rows count, and outside any
    /// transaction scope as far as duetto knows.
    pub(crate) fn replay(
        settings: &Settings,
        backend: DbBackend,
        info: &sea_orm::metric::Info<'_>,
    ) {
        let statement = info.statement;
        let mut observation = Observation::start(
            settings,
            backend,
            false,
            &statement.sql,
            statement.values.as_ref(),
            None,
        );
        observation.started = Instant::now()
            .checked_sub(info.elapsed)
            .unwrap_or(observation.started);
        observation.finished = true;
        if info.failed {
            observation.complete(None, Some("failed (reported by SeaORM)".into()));
        } else {
            observation.complete(None, None);
        }
    }

    /// Forgets a statement that was never sent.
    pub(crate) fn discard(mut self) {
        self.finished = true;
    }

    /// The statement's span, to run its exchange in.
    pub(crate) fn span(&self) -> &Span {
        &self.span
    }

    /// Records the outcome: rows returned or affected, or the error.
    pub(crate) fn finish(mut self, outcome: Result<u64, &DbErr>) {
        self.finished = true;
        match outcome {
            Ok(rows) => self.complete(Some(rows), None),
            Err(e) => self.complete(None, Some(e.to_string())),
        }
    }

    fn complete(&mut self, rows: Option<u64>, error: Option<String>) {
        let elapsed = self.started.elapsed();
        if !self.span.is_disabled() {
            // `elapsed_us` last: a layer may take it as "the statement is over".
            if let Some(error) = &error {
                self.span.record("error", error.as_str());
            }
            self.span
                .record("rows", rows)
                .record("elapsed_us", elapsed.as_micros() as u64);
        }
        let Some(detail) = self.detail.take() else {
            return;
        };
        if self.slow.is_some_and(|slow| elapsed >= slow) {
            tracing::warn!(
                target: "duetto::query",
                parent: &self.span,
                alias = &*detail.alias,
                elapsed_ms = elapsed.as_secs_f64() * 1e3,
                sql = detail.sql.as_str(),
                site = detail.origin.as_ref().and_then(|o| o.site).map(display),
                "slow query: {:.1} ms",
                elapsed.as_secs_f64() * 1e3,
            );
        }
        if self.watchers.is_empty() {
            return;
        }
        let (site, relation) = detail
            .origin
            .as_ref()
            .map_or((None, None), |o| (o.site, o.relation));
        let query = CapturedQuery {
            sql: detail.sql,
            values: detail.values,
            alias: detail.alias.to_string(),
            backend: detail.backend,
            elapsed,
            rows,
            error,
            voice: detail.voice,
            in_transaction: detail.in_transaction,
            site,
            relation,
        };
        for watch in self.watchers.drain(..) {
            watch.record(&query);
        }
    }
}

impl Drop for Observation {
    fn drop(&mut self) {
        if !self.finished {
            self.complete(
                None,
                Some("interrupted: the statement's future was dropped mid-exchange".into()),
            );
        }
    }
}
