//! Iterating over large results with bounded memory: `aiterator` (a `Stream`) and its blocking
//! twin `iterator` (an `Iterator`).

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::{Stream, StreamExt};
use sea_orm::{EntityTrait, FromQueryResult, QueryResult, Select};

use super::{QuerySet, Runner};
use crate::executor::{self, Chunks};
use crate::{Error, Result};

/// Rows of a query, streamed in chunks (from [`QuerySet::aiterator`]).
///
/// Outside a transaction a task on the home runtime reads the rows from one pooled connection
/// and hands them over a chunk at a time; it reads the next chunk only once the previous one has
/// been taken, so at most two chunks exist at once. Dropping the stream stops the query; a
/// connection dropped half-read is closed rather than reused.
///
/// Inside an [`aatomic`](crate::aatomic) scope the stream shares the scope's connection with
/// the body, taking it one chunk at a time, so the body may write between chunks (Django's
/// `iterator()` + `save()`). On PostgreSQL it reads through a server-side cursor (bounded
/// memory); on MySQL and SQLite it reads every row when it starts and hands them out a chunk at
/// a time, as Django does on MySQL.
pub struct ModelStream<M> {
    state: State,
    current: std::vec::IntoIter<M>,
    decode: fn(&QueryResult) -> std::result::Result<M, sea_orm::DbErr>,
}

enum State {
    NotStarted(Box<dyn FnOnce() -> Result<Chunks> + Send>),
    Running(Chunks),
    Done,
}

// No field is structurally pinned: rows are moved out by value, never pinned in place.
impl<M> Unpin for ModelStream<M> {}

impl<M> std::fmt::Debug for ModelStream<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelStream")
            .field("buffered", &self.current.len())
            .finish_non_exhaustive()
    }
}

impl<M: FromQueryResult + Send + 'static> ModelStream<M> {
    fn new<E>(select: Select<E>, runner: Runner, chunk: usize) -> Self
    where
        E: EntityTrait<Model = M>,
    {
        ModelStream::of_query(select, runner, chunk, |row| M::from_query_result(row, ""))
    }
}

impl<M: Send + 'static> ModelStream<M> {
    /// The rows of `query`, each decoded by `decode`.
    pub(crate) fn of_query<Q>(
        query: Q,
        runner: Runner,
        chunk: usize,
        decode: fn(&QueryResult) -> std::result::Result<M, sea_orm::DbErr>,
    ) -> Self
    where
        Q: sea_orm::QueryTrait + Send + 'static,
    {
        Self::of_statement(move |backend| query.build(backend), runner, chunk, decode)
    }

    /// The rows of the statement `build` makes for the backend, each decoded by `decode`.
    pub(crate) fn of_statement(
        build: impl FnOnce(sea_orm::DbBackend) -> sea_orm::Statement + Send + 'static,
        runner: Runner,
        chunk: usize,
        decode: fn(&QueryResult) -> std::result::Result<M, sea_orm::DbErr>,
    ) -> Self {
        let start = move || {
            if chunk == 0 {
                return Err(Error::NotSupported {
                    operation: "iterator",
                    reason: "the chunk size must be at least 1".into(),
                });
            }
            // Resolved here, in the consumer's task or thread, so the stream joins its scope.
            let conn = runner.connection()?;
            let stmt = build(conn_backend(&conn));
            executor::chunks(conn, stmt, chunk)
        };
        ModelStream {
            state: State::NotStarted(Box::new(start)),
            current: Vec::new().into_iter(),
            decode,
        }
    }
}

fn conn_backend(conn: &executor::Conn) -> sea_orm::DbBackend {
    sea_orm::ConnectionTrait::get_database_backend(conn)
}

impl<M> ModelStream<M> {
    /// Polls for the next chunk, starting the query on first use.
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Vec<M>>>> {
        if let State::NotStarted(_) = self.state {
            let State::NotStarted(start) = std::mem::replace(&mut self.state, State::Done) else {
                unreachable!()
            };
            match start() {
                Ok(chunks) => self.state = State::Running(chunks),
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
        }
        let State::Running(chunks) = &mut self.state else {
            return Poll::Ready(None);
        };
        let decode = self.decode;
        match chunks.poll_next_unpin(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(rows))) => Poll::Ready(Some(
                rows.iter()
                    .map(|row| decode(row).map_err(Error::from))
                    .collect(),
            )),
            Poll::Ready(other) => {
                self.state = State::Done;
                Poll::Ready(other.map(|e| e.map(|_| Vec::new())))
            }
        }
    }

    /// Takes a polled chunk: its first row, keeping the rest; an error ends the stream.
    fn take_chunk(&mut self, chunk: Option<Result<Vec<M>>>) -> Option<Result<M>> {
        match chunk {
            Some(Ok(rows)) => {
                self.current = rows.into_iter();
                self.current.next().map(Ok)
            }
            Some(Err(e)) => {
                self.state = State::Done;
                Some(Err(e))
            }
            None => {
                self.state = State::Done;
                None
            }
        }
    }
}

impl<M> Stream for ModelStream<M> {
    type Item = Result<M>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(row) = this.current.next() {
                return Poll::Ready(Some(Ok(row)));
            }
            let chunk = match this.poll_chunk(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(chunk) => chunk,
            };
            // An empty chunk (a scoped stream's last one) is no reason to stop here.
            if matches!(&chunk, Some(Ok(rows)) if rows.is_empty()) {
                continue;
            }
            return Poll::Ready(this.take_chunk(chunk));
        }
    }
}

/// Blocking twin of [`ModelStream`] (from [`QuerySet::iterator`]): a real `Iterator` that waits
/// for each chunk.
///
/// Each `next()` runs the blocking guard, so iterating from async code yields one
/// [`Error::SynchronousOnlyOperation`] and stops.
pub struct ModelIter<M> {
    stream: ModelStream<M>,
    failed: bool,
}

impl<M> std::fmt::Debug for ModelIter<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelIter")
            .field("stream", &self.stream)
            .finish()
    }
}

impl<M> ModelIter<M> {
    /// The blocking iterator over `stream`'s rows.
    pub(crate) fn over(stream: ModelStream<M>) -> Self {
        ModelIter {
            stream,
            failed: false,
        }
    }
}

impl<M: Send + 'static> Iterator for ModelIter<M> {
    type Item = Result<M>;

    fn next(&mut self) -> Option<Result<M>> {
        if self.failed {
            return None;
        }
        if let Some(row) = self.stream.current.next() {
            return Some(Ok(row));
        }
        // The next chunk is read by the async stream, through the bridge (which runs the
        // blocking guard); the stream moves into that future and back.
        let placeholder = ModelStream {
            state: State::Done,
            current: Vec::new().into_iter(),
            decode: self.stream.decode,
        };
        let mut stream = std::mem::replace(&mut self.stream, placeholder);
        let polled = crate::bridge::blocking_twin("iterator", async move {
            let chunk = std::future::poll_fn(|cx| stream.poll_chunk(cx)).await;
            Ok((stream, chunk))
        });
        let item = match polled {
            Ok((stream, chunk)) => {
                self.stream = stream;
                let empty = matches!(&chunk, Some(Ok(rows)) if rows.is_empty());
                if empty {
                    return self.next();
                }
                self.stream.take_chunk(chunk)
            }
            Err(e) => Some(Err(e)),
        };
        if matches!(item, Some(Err(_))) {
            self.failed = true;
        }
        item
    }
}

impl<E: EntityTrait> QuerySet<E> {
    /// Streams the matching rows (ordered by primary key unless ordered otherwise) in chunks of
    /// `chunk` rows, holding at most two chunks in memory (Django's `aiterator(chunk_size)`).
    /// Nothing runs until the stream is first polled.
    ///
    /// Items are `Result`s: a database error ends the stream with one `Err`; a `chunk` of 0 is
    /// an [`Error::NotSupported`].
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use futures_util::TryStreamExt;
    ///
    /// let mut names = Vec::new();
    /// let mut users = entity::user::Entity::objects().aiterator(2);
    /// while let Some(user) = users.try_next().await? {
    ///     names.push(user.name);
    /// }
    /// assert_eq!(names.len(), 3);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn aiterator(&self, chunk: usize) -> ModelStream<E::Model> {
        let qs = self.clone().ordered_by_default();
        ModelStream::new(qs.build(), qs.runner(), chunk)
    }

    /// Blocking twin of [`aiterator`](Self::aiterator): an `Iterator` over the same chunks.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// let ids: Vec<i64> = entity::user::Entity::objects()
    ///     .iterator(100)
    ///     .map(|user| user.map(|u| u.id))
    ///     .collect::<duetto::Result<_>>()?;
    /// assert_eq!(ids, [1, 2, 3]);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn iterator(&self, chunk: usize) -> ModelIter<E::Model> {
        ModelIter {
            stream: self.aiterator(chunk),
            failed: false,
        }
    }
}
