//! Iterating over large results with bounded memory: `aiterator` (a `Stream`) and its blocking
//! twin `iterator` (an `Iterator`).

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::{Stream, StreamExt};
use sea_orm::{EntityTrait, Select};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{QuerySet, Runner};
use crate::bridge::check_sync_allowed;
use crate::transaction::Conn;
use crate::{runtime, Error, Result};

type Chunk<M> = Result<Vec<M>>;

/// Rows of a query, streamed in chunks (from [`QuerySet::aiterator`]).
///
/// A task on the home runtime reads the rows from one pooled connection and hands them over a
/// chunk at a time; it reads the next chunk only once the previous one has been taken, so at most
/// two chunks exist at once (the one being consumed and the next). Dropping the stream stops the
/// query and returns its connection to the pool.
pub struct ModelStream<M> {
    state: State<M>,
    current: std::vec::IntoIter<M>,
}

enum State<M> {
    NotStarted(Box<dyn FnOnce() -> Result<Running<M>> + Send>),
    Running(Running<M>),
    Done,
}

struct Running<M> {
    chunks: mpsc::Receiver<Chunk<M>>,
    producer: JoinHandle<()>,
}

impl<M> Drop for Running<M> {
    fn drop(&mut self) {
        self.producer.abort();
    }
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

impl<M: Send + 'static> ModelStream<M> {
    fn new<E>(select: Select<E>, runner: Runner, chunk: usize) -> Self
    where
        E: EntityTrait<Model = M>,
        M: sea_orm::FromQueryResult,
    {
        let start = move || {
            if chunk == 0 {
                return Err(Error::NotSupported {
                    operation: "iterator",
                    reason: "the chunk size must be at least 1".into(),
                });
            }
            // Resolved here, in the consumer's task or thread, so the stream joins its transaction.
            let conn = runner.connection()?;
            let (tx, rx) = mpsc::channel(1);
            let producer = runtime::handle()?.spawn(produce(select, conn, chunk, tx));
            Ok(Running {
                chunks: rx,
                producer,
            })
        };
        ModelStream {
            state: State::NotStarted(Box::new(start)),
            current: Vec::new().into_iter(),
        }
    }

    /// Starts the producer on first use, so building a stream does no I/O.
    fn running(&mut self) -> Option<std::result::Result<&mut Running<M>, Error>> {
        if let State::NotStarted(_) = self.state {
            let State::NotStarted(start) = std::mem::replace(&mut self.state, State::Done) else {
                unreachable!()
            };
            match start() {
                Ok(running) => self.state = State::Running(running),
                Err(e) => return Some(Err(e)),
            }
        }
        match &mut self.state {
            State::Running(running) => Some(Ok(running)),
            _ => None,
        }
    }

    fn take_chunk(&mut self, chunk: Option<Chunk<M>>) -> Option<Result<M>> {
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

impl<M: Send + 'static> Stream for ModelStream<M> {
    type Item = Result<M>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(row) = this.current.next() {
            return Poll::Ready(Some(Ok(row)));
        }
        let chunk = match this.running() {
            None => return Poll::Ready(None),
            Some(Err(e)) => return Poll::Ready(Some(Err(e))),
            Some(Ok(running)) => match running.chunks.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(chunk) => chunk,
            },
        };
        Poll::Ready(this.take_chunk(chunk))
    }
}

/// Reads `select` on the home runtime and sends its rows in chunks of `chunk`.
async fn produce<E: EntityTrait>(
    select: Select<E>,
    conn: Conn,
    chunk: usize,
    tx: mpsc::Sender<Chunk<E::Model>>,
) {
    match &conn {
        Conn::Pool(pool) => send_chunks(select.stream(pool).await, chunk, tx).await,
        Conn::Txn(txn, _) => send_chunks(select.stream(&**txn).await, chunk, tx).await,
    }
}

async fn send_chunks<M, S>(
    rows: std::result::Result<S, sea_orm::DbErr>,
    chunk: usize,
    tx: mpsc::Sender<Chunk<M>>,
) where
    S: Stream<Item = std::result::Result<M, sea_orm::DbErr>>,
{
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => {
            let _ = tx.send(Err(e.into())).await;
            return;
        }
    };
    let mut rows = std::pin::pin!(rows);
    loop {
        // Wait for room before reading: the consumer has taken the previous chunk.
        let Ok(permit) = tx.reserve().await else {
            return; // the stream was dropped
        };
        let mut buffer = Vec::with_capacity(chunk);
        let mut failure = None;
        while buffer.len() < chunk {
            match rows.next().await {
                Some(Ok(row)) => buffer.push(row),
                Some(Err(e)) => {
                    failure = Some(Error::from(e));
                    break;
                }
                None => break,
            }
        }
        let finished = failure.is_some() || buffer.len() < chunk;
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
        if finished {
            return;
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

impl<M: Send + 'static> Iterator for ModelIter<M> {
    type Item = Result<M>;

    fn next(&mut self) -> Option<Result<M>> {
        if self.failed {
            return None;
        }
        if let Some(row) = self.stream.current.next() {
            return Some(Ok(row));
        }
        if let Err(e) = check_sync_allowed("iterator") {
            self.failed = true;
            return Some(Err(e));
        }
        let chunk = match self.stream.running()? {
            Err(e) => {
                self.failed = true;
                return Some(Err(e));
            }
            // A plain thread (the guard passed): tokio's blocking receive is the whole wait.
            Ok(running) => running.chunks.blocking_recv(),
        };
        let item = self.stream.take_chunk(chunk);
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
    pub fn iterator(&self, chunk: usize) -> ModelIter<E::Model> {
        ModelIter {
            stream: self.aiterator(chunk),
            failed: false,
        }
    }
}
