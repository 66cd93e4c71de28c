//! Joined loading (Django's `select_related`): a many-to-one or one-to-one relation read in the
//! same `SELECT` as its rows.

use std::future::Future;
use std::marker::PhantomData;

use sea_orm::sea_query::{IntoCondition, SelectStatement};
use sea_orm::{EntityTrait, FromQueryResult, QueryResult, QueryTrait, Related, Select};

use crate::bridge::blocking_twin;
use crate::query::{ModelIter, ModelStream, QuerySet};
use crate::{Error, Result};

/// A queryset whose rows come with their related rows, joined in the same `SELECT` (Django's
/// `select_related`, SeaORM's `find_also_related`): one statement, rows typed `(E::Model,
/// Option<R::Model>)` — `None` where the relation points nowhere (a nullable foreign key) — or,
/// with a second relation joined by [`select_related`](SelectRelated::select_related) again,
/// `(E::Model, Option<R1::Model>, Option<R2::Model>)`.
///
/// Get one with [`QuerySet::select_related`]. Filters and orderings may use either entity's
/// columns (`user::Column::Name.eq("ada")` is Django's `author__name="ada"`); `limit` / `offset`
/// slice the joined rows, which for a many-to-one relation are the rows of `E`.
///
/// ```
/// # duetto::doc_db::with_users(|| async {
/// use duetto::prelude::*;
/// use duetto::sea_orm::ColumnTrait;
/// use entity::{post, user};
///
/// let rows = post::Entity::objects()
///     .select_related::<user::Entity>()
///     .filter(user::Column::Name.eq("Ada Lovelace"))
///     .order_by_asc(post::Column::Id)
///     .alist()
///     .await?;
/// for (post, author) in &rows {
///     assert_eq!(author.as_ref().unwrap().id, post.user_id);
/// }
/// # Ok(()) });
/// ```
#[derive(Debug)]
pub struct SelectRelated<E: EntityTrait, J> {
    qs: QuerySet<E>,
    joins: PhantomData<fn() -> J>,
}

impl<E: EntityTrait, J> Clone for SelectRelated<E, J> {
    fn clone(&self) -> Self {
        SelectRelated {
            qs: self.qs.clone(),
            joins: PhantomData,
        }
    }
}

/// A row with its joined related row.
pub type WithRelated<E, R> = (<E as EntityTrait>::Model, Option<<R as EntityTrait>::Model>);

/// The relations a [`SelectRelated`] joins, and the rows it reads: [`Also<R>`] for one,
/// `(Also<R1>, Also<R2>)` for two. Named in types, rarely written:
///
/// ```
/// use duetto::prelude::*;
/// use duetto::{Also, SelectRelated};
/// use entity::{post, user};
/// let joined: SelectRelated<post::Entity, Also<user::Entity>> =
///     post::Entity::objects().select_related::<user::Entity>();
/// # let _ = joined;
/// ```
pub trait Joins<E: EntityTrait>: 'static {
    /// One row: `E`'s model and each joined model (`None` where the relation points nowhere).
    type Row: Send + 'static;

    /// `select` with the relations joined and their columns selected.
    fn join(select: Select<E>) -> SelectStatement;

    /// One row of the joined query.
    fn decode(row: &QueryResult) -> std::result::Result<Self::Row, sea_orm::DbErr>;
}

/// One related entity `R` joined by [`QuerySet::select_related`] (see [`Joins`] for an example).
#[derive(Debug)]
pub struct Also<R>(PhantomData<fn() -> R>);

impl<E, R> Joins<E> for Also<R>
where
    E: EntityTrait + Related<R>,
    R: EntityTrait,
    E::Model: Send,
    R::Model: Send,
{
    type Row = WithRelated<E, R>;

    fn join(select: Select<E>) -> SelectStatement {
        select.find_also_related(R::default()).into_query()
    }

    fn decode(row: &QueryResult) -> std::result::Result<Self::Row, sea_orm::DbErr> {
        use sea_orm::{IdenStatic, SelectA, SelectB};
        Ok((
            E::Model::from_query_result(row, SelectA.as_str())?,
            R::Model::from_query_result_optional(row, SelectB.as_str())?,
        ))
    }
}

impl<E, R1, R2> Joins<E> for (Also<R1>, Also<R2>)
where
    E: EntityTrait + Related<R1> + Related<R2>,
    R1: EntityTrait,
    R2: EntityTrait,
    E::Model: Send,
    R1::Model: Send,
    R2::Model: Send,
{
    type Row = (E::Model, Option<R1::Model>, Option<R2::Model>);

    fn join(select: Select<E>) -> SelectStatement {
        select
            .find_also_related(R1::default())
            .find_also_related(R2::default())
            .into_query()
    }

    fn decode(row: &QueryResult) -> std::result::Result<Self::Row, sea_orm::DbErr> {
        use sea_orm::{IdenStatic, SelectA, SelectB, SelectC};
        Ok((
            E::Model::from_query_result(row, SelectA.as_str())?,
            R1::Model::from_query_result_optional(row, SelectB.as_str())?,
            R2::Model::from_query_result_optional(row, SelectC.as_str())?,
        ))
    }
}

impl<E: EntityTrait> QuerySet<E> {
    /// This queryset with its related `R` row joined into every row (Django's
    /// `select_related`): see [`SelectRelated`]. `E` must be related to `R` (SeaORM's
    /// `Related<R>`), typically many-to-one (`post` → its `user`).
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// use entity::{post, user};
    /// let (post, author) = post::Entity::objects()
    ///     .select_related::<user::Entity>()
    ///     .order_by_asc(post::Column::Id)
    ///     .first()?
    ///     .expect("a post");
    /// assert_eq!(author.unwrap().id, post.user_id);
    /// # Ok(()) });
    /// ```
    pub fn select_related<R>(&self) -> SelectRelated<E, Also<R>>
    where
        R: EntityTrait,
        E: Related<R>,
    {
        SelectRelated {
            qs: self.clone(),
            joins: PhantomData,
        }
    }
}

impl<E: EntityTrait, R1: EntityTrait> SelectRelated<E, Also<R1>> {
    /// Joins a second related entity (another many-to-one or one-to-one relation of `E`): rows
    /// become `(E::Model, Option<R1::Model>, Option<R2::Model>)`, still one statement.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use entity::{comment, post, user};
    /// let rows = comment::Entity::objects()
    ///     .select_related::<post::Entity>()
    ///     .select_related::<user::Entity>()
    ///     .alist()
    ///     .await?;
    /// for (comment, post, commenter) in &rows {
    ///     assert_eq!(post.as_ref().unwrap().id, comment.post_id);
    ///     assert_eq!(commenter.as_ref().unwrap().id, comment.user_id);
    /// }
    /// # Ok(()) });
    /// ```
    pub fn select_related<R2>(&self) -> SelectRelated<E, (Also<R1>, Also<R2>)>
    where
        R2: EntityTrait,
        E: Related<R2>,
    {
        SelectRelated {
            qs: self.qs.clone(),
            joins: PhantomData,
        }
    }
}

/// The rows of `select` on `conn`, decoded by `J`.
async fn rows<E: EntityTrait, J: Joins<E>>(
    select: SelectStatement,
    conn: crate::executor::Conn,
) -> Result<Vec<J::Row>> {
    crate::query::annotate::decoded_rows(select, conn, J::decode).await
}

impl<E, J> SelectRelated<E, J>
where
    E: EntityTrait,
    J: Joins<E>,
{
    /// Keeps rows matching `cond`, which may use the columns of `E` and of `R`.
    ///
    /// ```
    /// use duetto::prelude::*;
    /// use duetto::sea_orm::ColumnTrait;
    /// use entity::{post, user};
    /// let by_ada = post::Entity::objects()
    ///     .select_related::<user::Entity>()
    ///     .filter(user::Column::Email.eq("ada@example.com"));
    /// # let _ = by_ada;
    /// ```
    pub fn filter(mut self, cond: impl IntoCondition) -> Self {
        self.qs = self.qs.filter(cond);
        self
    }

    /// Orders by `expr` ascending (a column of `E` or of `R`), after any earlier ordering.
    ///
    /// ```
    /// use duetto::prelude::*;
    /// use entity::{post, user};
    /// let by_author = post::Entity::objects()
    ///     .select_related::<user::Entity>()
    ///     .order_by_asc(user::Column::Name);
    /// # let _ = by_author;
    /// ```
    pub fn order_by_asc(mut self, expr: impl sea_orm::IntoSimpleExpr) -> Self {
        self.qs = self.qs.order_by_asc(expr);
        self
    }

    /// Orders by `expr` descending, after any earlier ordering.
    ///
    /// ```
    /// use duetto::prelude::*;
    /// use entity::{post, user};
    /// let newest = post::Entity::objects()
    ///     .select_related::<user::Entity>()
    ///     .order_by_desc(post::Column::CreatedAt);
    /// # let _ = newest;
    /// ```
    pub fn order_by_desc(mut self, expr: impl sea_orm::IntoSimpleExpr) -> Self {
        self.qs = self.qs.order_by_desc(expr);
        self
    }

    /// At most `n` rows.
    ///
    /// ```
    /// use duetto::prelude::*;
    /// let page = entity::post::Entity::objects()
    ///     .select_related::<entity::user::Entity>()
    ///     .limit(20);
    /// # let _ = page;
    /// ```
    pub fn limit(mut self, n: u64) -> Self {
        self.qs = self.qs.limit(n);
        self
    }

    /// Skips the first `n` rows.
    ///
    /// ```
    /// use duetto::prelude::*;
    /// let second_page = entity::post::Entity::objects()
    ///     .select_related::<entity::user::Entity>()
    ///     .limit(20)
    ///     .offset(20);
    /// # let _ = second_page;
    /// ```
    pub fn offset(mut self, n: u64) -> Self {
        self.qs = self.qs.offset(n);
        self
    }

    fn build(qs: &QuerySet<E>) -> SelectStatement {
        J::join(qs.build())
    }

    /// Every matching row with its related row, in one statement.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use entity::{post, user};
    /// let rows = post::Entity::objects().select_related::<user::Entity>().alist().await?;
    /// assert!(rows.iter().all(|(_, author)| author.is_some()));
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn alist(&self) -> impl Future<Output = Result<Vec<J::Row>>> + Send + 'static {
        let select = Self::build(&self.qs);
        self.qs.reader().run(move |conn| rows::<E, J>(select, conn))
    }

    /// Blocking twin of [`alist`](Self::alist).
    ///
    /// # Errors
    ///
    /// As [`alist`](Self::alist), plus [`Error::SynchronousOnlyOperation`] in async code.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// let rows = entity::post::Entity::objects()
    ///     .select_related::<entity::user::Entity>()
    ///     .list()?;
    /// assert!(!rows.is_empty());
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn list(&self) -> Result<Vec<J::Row>> {
        blocking_twin("list", self.alist())
    }

    /// The first row (in this order, or by `E`'s primary key) with its related row.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// let first = entity::post::Entity::objects()
    ///     .select_related::<entity::user::Entity>()
    ///     .afirst()
    ///     .await?;
    /// assert!(first.is_some());
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn afirst(&self) -> impl Future<Output = Result<Option<J::Row>>> + Send + 'static {
        let mut qs = self.qs.clone().ordered_by_default();
        qs.limit = Some(1);
        let select = Self::build(&qs);
        qs.reader().run(move |conn| async move {
            Ok(rows::<E, J>(select, conn).await?.into_iter().next())
        })
    }

    /// Blocking twin of [`afirst`](Self::afirst).
    ///
    /// # Errors
    ///
    /// As [`afirst`](Self::afirst), plus [`Error::SynchronousOnlyOperation`] in async code.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// let first = entity::post::Entity::objects()
    ///     .select_related::<entity::user::Entity>()
    ///     .first()?;
    /// assert!(first.is_some());
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn first(&self) -> Result<Option<J::Row>> {
        blocking_twin("first", self.afirst())
    }

    /// The one row matching `cond` (besides the filters so far), with its related row.
    ///
    /// # Errors
    ///
    /// [`Error::DoesNotExist`] when none matches, [`Error::MultipleObjectsReturned`] when
    /// several do.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use duetto::sea_orm::ColumnTrait;
    /// use entity::{post, user};
    /// let (post, author) = post::Entity::objects()
    ///     .select_related::<user::Entity>()
    ///     .aget(post::Column::Id.eq(1))
    ///     .await?;
    /// assert_eq!(author.unwrap().id, post.user_id);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn aget(
        &self,
        cond: impl IntoCondition,
    ) -> impl Future<Output = Result<J::Row>> + Send + 'static {
        let mut qs = self.qs.clone().filter(cond);
        qs.limit = Some(qs.limit.map_or(21, |n| n.min(21)));
        let select = Self::build(&qs);
        qs.reader().run(move |conn| async move {
            let mut rows = rows::<E, J>(select, conn).await?;
            match rows.len() {
                1 => Ok(rows.pop().expect("one row")),
                0 => Err(Error::DoesNotExist {
                    model: QuerySet::<E>::model_name(),
                }),
                n => Err(Error::MultipleObjectsReturned {
                    model: QuerySet::<E>::model_name(),
                    count: n as u64,
                }),
            }
        })
    }

    /// Blocking twin of [`aget`](Self::aget).
    ///
    /// # Errors
    ///
    /// As [`aget`](Self::aget), plus [`Error::SynchronousOnlyOperation`] in async code.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// use duetto::sea_orm::ColumnTrait;
    /// let (post, _) = entity::post::Entity::objects()
    ///     .select_related::<entity::user::Entity>()
    ///     .get(entity::post::Column::Id.eq(1))?;
    /// assert_eq!(post.id, 1);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn get(&self, cond: impl IntoCondition) -> Result<J::Row> {
        blocking_twin("get", self.aget(cond))
    }

    /// Streams the rows with their related rows in chunks of `chunk` (see
    /// [`QuerySet::aiterator`]).
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use futures_util::TryStreamExt;
    /// let rows: Vec<_> = entity::post::Entity::objects()
    ///     .select_related::<entity::user::Entity>()
    ///     .aiterator(2)
    ///     .try_collect()
    ///     .await?;
    /// assert!(!rows.is_empty());
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn aiterator(&self, chunk: usize) -> ModelStream<J::Row> {
        let qs = self.qs.clone().ordered_by_default();
        let select = Self::build(&qs);
        ModelStream::of_statement(
            move |backend| backend.build(&select),
            qs.reader(),
            chunk,
            J::decode,
        )
    }

    /// Blocking twin of [`aiterator`](Self::aiterator).
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// let n = entity::post::Entity::objects()
    ///     .select_related::<entity::user::Entity>()
    ///     .iterator(100)
    ///     .count();
    /// assert!(n > 0);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn iterator(&self, chunk: usize) -> ModelIter<J::Row> {
        ModelIter::over(self.aiterator(chunk))
    }
}
