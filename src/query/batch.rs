//! Batches: several independent reads sent together, answered in one round trip on one
//! connection (PostgreSQL, MySQL), instead of one round trip each or one connection each.
//!
//! See [`abatch`]; how the statements travel is the executor's `batch` module.

use std::future::Future;

use sea_orm::sea_query::SelectStatement;
use sea_orm::{EntityTrait, FromQueryResult, QueryResult, QueryTrait};

use super::read::count_of;
use super::QuerySet;
use crate::bridge::blocking_twin;
use crate::executor::{self, Runner, Using};
use crate::{Error, Result};

type Decode<T> = Box<dyn FnOnce(Vec<QueryResult>) -> Result<T> + Send>;

/// The statements of a batch, each with its database, and how to read all their rows.
#[doc(hidden)]
pub type BatchParts<T> = (
    Vec<(Using, SelectStatement)>,
    Box<dyn FnOnce(Vec<Vec<QueryResult>>) -> Result<T> + Send>,
);

/// One read of a batch: its statement and how to read its rows (from `QuerySet::batch_*`).
///
/// ```
/// use duetto::prelude::*;
///
/// let read = entity::user::Entity::objects().batch_count();
/// # let _ = read;
/// ```
pub struct BatchRead<T> {
    using: Using,
    statement: SelectStatement,
    decode: Decode<T>,
}

impl<T> std::fmt::Debug for BatchRead<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchRead")
            .field("using", &self.using)
            .finish_non_exhaustive()
    }
}

impl<E: EntityTrait> QuerySet<E> {
    /// [`alist`](Self::alist) as a read of a batch.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use entity::user;
    ///
    /// let (everyone, first_two) = duetto::abatch((
    ///     user::Entity::objects().batch_list(),
    ///     user::Entity::objects().order_by_asc(user::Column::Id).limit(2).batch_list(),
    /// ))
    /// .await?;
    /// assert_eq!((everyone.len(), first_two.len()), (3, 2));
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn batch_list(&self) -> BatchRead<Vec<E::Model>> {
        self.batch_read(self.build().into_query(), |rows| {
            rows.iter()
                .map(|row| E::Model::from_query_result(row, "").map_err(Error::from))
                .collect()
        })
    }

    /// [`afirst`](Self::afirst) as a read of a batch.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// let (first,) = duetto::abatch((entity::user::Entity::objects().batch_first(),)).await?;
    /// assert_eq!(first.map(|u| u.id), Some(1));
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn batch_first(&self) -> BatchRead<Option<E::Model>> {
        let qs = self.clone().ordered_by_default().limit(1);
        qs.batch_read(qs.build().into_query(), |rows| {
            rows.first()
                .map(|row| E::Model::from_query_result(row, "").map_err(Error::from))
                .transpose()
        })
    }

    /// [`acount`](Self::acount) as a read of a batch.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// let (n,) = duetto::abatch((entity::user::Entity::objects().batch_count(),)).await?;
    /// assert_eq!(n, 3);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn batch_count(&self) -> BatchRead<u64> {
        self.batch_read(self.count_query(), |rows| Ok(count_of(rows.first())?))
    }

    /// [`aexists`](Self::aexists) as a read of a batch.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// let (any,) = duetto::abatch((entity::user::Entity::objects().batch_exists(),)).await?;
    /// assert!(any);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn batch_exists(&self) -> BatchRead<bool> {
        self.batch_read(self.exists_query(), |rows| Ok(!rows.is_empty()))
    }

    fn batch_read<T>(
        &self,
        statement: SelectStatement,
        decode: impl FnOnce(Vec<QueryResult>) -> Result<T> + Send + 'static,
    ) -> BatchRead<T> {
        BatchRead {
            using: self.using.clone(),
            statement,
            decode: Box::new(decode),
        }
    }
}

/// Reads that [`abatch`] can send together: a tuple of up to 8 [`BatchRead`]s, or a `Vec` of
/// them. Implemented by duetto; the `Output` has the same shape with each read's result.
pub trait Batch: Send + 'static {
    /// What the batch returns.
    type Output: Send + 'static;

    #[doc(hidden)]
    fn into_parts(self) -> BatchParts<Self::Output>;
}

impl<T: Send + 'static> Batch for Vec<BatchRead<T>> {
    type Output = Vec<T>;

    fn into_parts(self) -> BatchParts<Vec<T>> {
        let (statements, decoders): (Vec<_>, Vec<_>) = self
            .into_iter()
            .map(|read| ((read.using, read.statement), read.decode))
            .unzip();
        let decode = move |results: Vec<Vec<QueryResult>>| {
            decoders
                .into_iter()
                .zip(results)
                .map(|(decode, rows)| decode(rows))
                .collect()
        };
        (statements, Box::new(decode))
    }
}

macro_rules! batch_tuple {
    ($($read:ident $t:ident),+) => {
        impl<$($t: Send + 'static),+> Batch for ($(BatchRead<$t>,)+) {
            type Output = ($($t,)+);

            #[allow(non_snake_case)]
            fn into_parts(self) -> BatchParts<Self::Output> {
                let ($($read,)+) = self;
                let statements = vec![$(($read.using, $read.statement)),+];
                $(let $t = $read.decode;)+
                let decode = move |results: Vec<Vec<QueryResult>>| {
                    let mut results = results.into_iter();
                    Ok(($($t(results.next().expect("one result per read"))?,)+))
                };
                (statements, Box::new(decode))
            }
        }
    };
}

batch_tuple!(a A);
batch_tuple!(a A, b B);
batch_tuple!(a A, b B, c C);
batch_tuple!(a A, b B, c C, d D);
batch_tuple!(a A, b B, c C, d D, e E);
batch_tuple!(a A, b B, c C, d D, e E, f F);
batch_tuple!(a A, b B, c C, d D, e E, f F, g G);
batch_tuple!(a A, b B, c C, d D, e E, f F, g G, h H);

/// Sends the reads of `reads` together and returns their results in the same shape: one round
/// trip on one connection on PostgreSQL and MySQL, instead of one round trip per read (serial
/// awaits) or one connection per read (`try_join!`).
///
/// Build each read with a `batch_*` method of [`QuerySet`] ([`batch_list`](QuerySet::batch_list),
/// [`batch_first`](QuerySet::batch_first), [`batch_count`](QuerySet::batch_count),
/// [`batch_exists`](QuerySet::batch_exists)) — nothing runs until the batch is awaited — and pass
/// them as a tuple (up to 8 reads of different types) or a `Vec` (reads of one type). A batch
/// runs where any call would: inside the caller's transaction scope, on the connection its
/// request scope keeps, else on one pooled connection. Every read of a batch must use the same
/// database.
///
/// The reads travel as one message of `;`-separated statements with their values written inline
/// as literals that no value can escape, whatever the server's settings (sqlx cannot pipeline
/// prepared statements; its simple-query path carries several statements per message on every
/// backend). SQLite, in process, runs them one after another on one connection.
///
/// # Errors
///
/// [`Error::NotSupported`] when the reads use different databases; database errors (the first
/// failing read fails the whole batch).
///
/// # Example
///
/// ```
/// # duetto::doc_db::with_users(|| async {
/// use duetto::prelude::*;
/// use entity::user;
/// use sea_orm::ColumnTrait;
///
/// let users = user::Entity::objects();
/// let (ada, total, any_spam) = duetto::abatch((
///     users.clone().filter(user::Column::Id.eq(1)).batch_first(),
///     users.batch_count(),
///     users.filter(user::Column::Email.ends_with("@spam.example")).batch_exists(),
/// ))
/// .await?;
/// assert_eq!((ada.map(|u| u.id), total, any_spam), (Some(1), 3, false));
/// # Ok(()) });
/// ```
#[track_caller]
pub fn abatch<B: Batch>(reads: B) -> impl Future<Output = Result<B::Output>> + Send + 'static {
    let (reads, decode) = reads.into_parts();
    async move {
        let Some((using, _)) = reads.first() else {
            return decode(Vec::new());
        };
        let db = using.resolve()?;
        let mut statements = Vec::with_capacity(reads.len());
        for (using, statement) in reads {
            if using.resolve()?.pool_id() != db.pool_id() {
                return Err(Error::NotSupported {
                    operation: "batch",
                    reason: "every read of a batch must use the same database".into(),
                });
            }
            statements.push(statement);
        }
        let results = Runner::new(Using::Db(db), false)
            .reading()
            .run(move |conn| async move { Ok(executor::batch::run(&conn, &statements).await?) })
            .await?;
        decode(results)
    }
}

/// Blocking twin of [`abatch`].
///
/// # Errors
///
/// As [`abatch`], plus [`Error::SynchronousOnlyOperation`] in async code.
///
/// ```
/// # duetto::doc_db::with_users_blocking(|| {
/// use duetto::prelude::*;
/// use entity::user;
/// use sea_orm::ColumnTrait;
///
/// let counts = duetto::batch(vec![
///     user::Entity::objects().batch_count(),
///     user::Entity::objects().filter(user::Column::Id.gt(1)).batch_count(),
/// ])?;
/// assert_eq!(counts, [3, 2]);
/// # Ok(()) });
/// ```
#[track_caller]
pub fn batch<B: Batch>(reads: B) -> Result<B::Output> {
    blocking_twin("batch", abatch(reads))
}
