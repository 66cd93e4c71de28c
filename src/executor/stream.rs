//! Reading a query's rows a chunk at a time, on the pool or inside a scope.
//!
//! - **On the pool** a producer task on the home runtime checks out its own connection, reads
//!   the rows as they arrive and hands them over a chunk at a time; it reads the next chunk only
//!   once the previous one has been taken, so at most two chunks exist at once. Dropping the
//!   stream aborts the task; a connection dropped half-read is interrupted and closed.
//! - **Inside a scope** the connection is shared with the body's own statements (Django's
//!   `iterator()` + `save()` loop), so the stream may hold it only one exchange at a time, never
//!   between chunks. PostgreSQL reads through a server-side cursor (`DECLARE … CURSOR`, one
//!   `FETCH` per chunk: memory stays bounded). MySQL and SQLite have no cursor a later statement
//!   on the same connection can interleave with, so the rows are read in one exchange when the
//!   stream starts and handed out a chunk at a time (Django's MySQL `iterator()` does the same).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::stream::{self, BoxStream, StreamExt};
use sea_orm::{DbBackend, QueryResult, Statement};
use tokio::sync::mpsc;

use super::{At, Conn, Scope, Source};
use crate::context::Ambient;
use crate::observe::{Origin, Provenance};
use crate::{runtime, Error, Result};

/// A query's rows, a chunk at a time.
pub(crate) type Chunks = BoxStream<'static, Result<Vec<QueryResult>>>;

/// Streams the rows of `stmt` on `conn` in chunks of `chunk` rows (`chunk` ≥ 1).
pub(crate) fn chunks(conn: Conn, stmt: Statement, chunk: usize) -> Result<Chunks> {
    let origin = conn.origin().cloned();
    match conn.at() {
        At::Own(source) => pooled(source.clone(), stmt, chunk, origin),
        At::Scoped(scope, _) => Ok(scoped(scope.clone(), stmt, chunk, origin)),
        At::Nothing(_) => Ok(stream::empty().boxed()),
    }
}

/// Aborts the producer task when the stream is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn pooled(source: Source, stmt: Statement, chunk: usize, origin: Option<Origin>) -> Result<Chunks> {
    let (tx, mut rx) = mpsc::channel(1);
    // The producer's statement belongs to the caller: same captures, span, voice and call site.
    let provenance = Provenance::current().issued_by(origin.as_ref());
    let producer =
        Ambient::current().scope_future(provenance.scope(produce(source, stmt, chunk, tx)));
    let producer = runtime::handle()?.spawn(producer);
    let abort = AbortOnDrop(producer);
    Ok(stream::poll_fn(move |cx| {
        let _producer = &abort;
        rx.poll_recv(cx)
    })
    .boxed())
}

async fn produce(
    source: Source,
    stmt: Statement,
    chunk: usize,
    tx: mpsc::Sender<Result<Vec<QueryResult>>>,
) {
    let mut conn = match source.acquire().await {
        Ok(conn) => conn,
        Err(e) => {
            let _ = tx.send(Err(e.into())).await;
            return;
        }
    };
    let mut rows = conn.fetch(stmt);
    loop {
        // Wait for room before reading: the consumer has taken the previous chunk.
        let Ok(permit) = tx.reserve().await else {
            return; // the stream was dropped
        };
        let mut buffer = Vec::with_capacity(chunk);
        let mut failure = None;
        let mut ended = false;
        while buffer.len() < chunk {
            match rows.next().await {
                Some(Ok(row)) => buffer.push(row),
                Some(Err(e)) => {
                    failure = Some(Error::from(e));
                    break;
                }
                None => {
                    ended = true;
                    break;
                }
            }
        }
        if !ended && failure.is_none() && buffer.len() == chunk {
            permit.send(Ok(buffer));
            continue;
        }
        // The last chunk: read the rows to their end first, so the exchange is complete and the
        // connection goes back to the pool clean.
        if failure.is_none() && !ended {
            while let Some(row) = rows.next().await {
                if let Err(e) = row {
                    failure = Some(e.into());
                    break;
                }
            }
        }
        drop(rows);
        drop(conn);
        match (buffer.is_empty(), failure) {
            (true, Some(e)) => permit.send(Err(e)),
            (true, None) => {}
            (false, failure) => {
                permit.send(Ok(buffer));
                if let Some(e) = failure {
                    let _ = tx.send(Err(e)).await;
                }
            }
        }
        return;
    }
}

/// Where a scoped stream is.
enum Cursor {
    NotStarted(Statement),
    /// PostgreSQL: a server-side cursor of that name.
    Declared(String),
    /// MySQL, SQLite: every row, read when the stream started.
    Buffered(VecDeque<QueryResult>),
    Done,
}

fn scoped(scope: Arc<Scope>, stmt: Statement, chunk: usize, origin: Option<Origin>) -> Chunks {
    stream::unfold((scope, Cursor::NotStarted(stmt)), move |(scope, cursor)| {
        let origin = origin.clone();
        async move {
            let next = next_chunk(&scope, cursor, chunk);
            let next = match origin {
                Some(origin) => futures_util::future::Either::Left(origin.scope(next)),
                None => futures_util::future::Either::Right(next),
            };
            match next.await {
                Ok((rows, _)) if rows.is_empty() => None,
                Ok((rows, cursor)) => Some((Ok(rows), (scope, cursor))),
                Err(e) => {
                    if e.is_from_database() {
                        scope.mark_broken(&e);
                    }
                    Some((Err(e), (scope, Cursor::Done)))
                }
            }
        }
    })
    .boxed()
}

/// One chunk of a scoped stream and where the stream is afterwards.
async fn next_chunk(
    scope: &Scope,
    cursor: Cursor,
    chunk: usize,
) -> Result<(Vec<QueryResult>, Cursor)> {
    static CURSORS: AtomicU64 = AtomicU64::new(0);
    match cursor {
        Cursor::Done => Ok((Vec::new(), Cursor::Done)),
        Cursor::NotStarted(stmt) if scope.backend() == DbBackend::Postgres => {
            let name = format!("duetto_cursor_{}", CURSORS.fetch_add(1, Ordering::Relaxed));
            let mut conn = scope.lock().await?;
            let declare = Statement {
                sql: format!("DECLARE {name} NO SCROLL CURSOR FOR {}", stmt.sql),
                ..stmt
            };
            conn.execute(declare).await?;
            drop(conn);
            fetch(scope, name, chunk).await
        }
        Cursor::NotStarted(stmt) => {
            let rows: VecDeque<QueryResult> = scope.lock().await?.query_all(stmt).await?.into();
            Ok(take(rows, chunk))
        }
        Cursor::Declared(name) => fetch(scope, name, chunk).await,
        Cursor::Buffered(rows) => Ok(take(rows, chunk)),
    }
}

async fn fetch(scope: &Scope, name: String, chunk: usize) -> Result<(Vec<QueryResult>, Cursor)> {
    let mut conn = scope.lock().await?;
    let rows = conn
        .query_all(Statement::from_string(
            DbBackend::Postgres,
            format!("FETCH FORWARD {chunk} FROM {name}"),
        ))
        .await?;
    if rows.len() < chunk {
        conn.execute_unprepared(&format!("CLOSE {name}")).await?;
        return Ok((rows, Cursor::Done));
    }
    Ok((rows, Cursor::Declared(name)))
}

fn take(mut rows: VecDeque<QueryResult>, chunk: usize) -> (Vec<QueryResult>, Cursor) {
    let n = chunk.min(rows.len());
    let head: Vec<QueryResult> = rows.drain(..n).collect();
    (head, Cursor::Buffered(rows))
}
