//! Query shapes beyond whole models: per-row annotations ([`Annotated`], Django's `annotate`),
//! grouped aggregation ([`Grouped`], Django's `values(…).annotate(…)`), and results read into
//! any struct deriving SeaORM's `FromQueryResult` or `DerivePartialModel`.

use std::future::Future;

use sea_orm::sea_query::{Alias, Asterisk, IntoCondition, Query, SelectStatement, SimpleExpr};
use sea_orm::{
    Condition, ConnectionTrait, EntityTrait, FromQueryResult, IntoSimpleExpr, Order,
    PartialModelTrait, QueryResult, QuerySelect, QueryTrait,
};

use crate::agg::Annotation;
use crate::bridge::blocking_twin;
use crate::executor::Conn;
use crate::query::QuerySet;
use crate::{Error, Result};

/// Runs `select` on `conn` and decodes every row with `decode`.
pub(crate) async fn decoded_rows<T>(
    select: SelectStatement,
    conn: Conn,
    decode: impl Fn(&QueryResult) -> std::result::Result<T, sea_orm::DbErr>,
) -> Result<Vec<T>> {
    let stmt = conn.get_database_backend().build(&select);
    conn.query_all_raw(stmt)
        .await?
        .iter()
        .map(|row| decode(row).map_err(Error::from))
        .collect()
}

/// Runs `select` on `conn` and reads every row into `T`.
async fn rows_as<T: FromQueryResult>(select: SelectStatement, conn: Conn) -> Result<Vec<T>> {
    decoded_rows(select, conn, |row| T::from_query_result(row, "")).await
}

impl<E: EntityTrait> QuerySet<E> {
    /// The rows read into `T`, any struct deriving SeaORM's `FromQueryResult` whose fields are
    /// among `E`'s columns (Django's `values()` into a type): with [`only`](Self::only), only
    /// those columns are read.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// #[derive(duetto::sea_orm::FromQueryResult)]
    /// struct Contact {
    ///     name: String,
    ///     email: String,
    /// }
    /// let contacts: Vec<Contact> = entity::user::Entity::objects().alist_as().await?;
    /// assert_eq!(contacts[0].email, "ada@example.com");
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn alist_as<T>(&self) -> impl Future<Output = Result<Vec<T>>> + Send + 'static
    where
        T: FromQueryResult + Send + 'static,
    {
        let select = self.build().into_query();
        self.reader().run(move |conn| rows_as::<T>(select, conn))
    }

    /// Blocking twin of [`alist_as`](Self::alist_as).
    ///
    /// # Errors
    ///
    /// As [`alist_as`](Self::alist_as), plus [`Error::SynchronousOnlyOperation`] in async code.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// #[derive(duetto::sea_orm::FromQueryResult)]
    /// struct Name {
    ///     name: String,
    /// }
    /// let names: Vec<Name> = entity::user::Entity::objects().list_as()?;
    /// assert_eq!(names.len(), 3);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn list_as<T>(&self) -> Result<Vec<T>>
    where
        T: FromQueryResult + Send + 'static,
    {
        blocking_twin("list_as", self.alist_as())
    }

    /// Reads only `cols` (Django's `only()`): for [`alist_as`](Self::alist_as) and
    /// [`avalues_list`](Self::avalues_list)-style reads into a struct with just those fields.
    /// Whole-model terminals (`alist`, `aget`) need every column and fail on such a queryset.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use entity::user;
    /// #[derive(duetto::sea_orm::FromQueryResult)]
    /// struct Email {
    ///     email: String,
    /// }
    /// let emails: Vec<Email> = user::Entity::objects().only([user::Column::Email]).alist_as().await?;
    /// assert_eq!(emails.len(), 3);
    /// # Ok(()) });
    /// ```
    pub fn only(mut self, cols: impl IntoIterator<Item = E::Column>) -> Self {
        self.base = self.base.select_only().columns(cols);
        self
    }

    /// Reads every column but `cols` (Django's `defer()`): the complement of
    /// [`only`](Self::only), for [`alist_as`](Self::alist_as) into a struct without them.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use entity::post;
    /// #[derive(duetto::sea_orm::FromQueryResult)]
    /// struct Headline {
    ///     id: i64,
    ///     title: String,
    /// }
    /// let headlines: Vec<Headline> = post::Entity::objects().defer([post::Column::Body]).alist_as().await?;
    /// assert_eq!(headlines.len(), 4);
    /// # Ok(()) });
    /// ```
    pub fn defer(self, cols: impl IntoIterator<Item = E::Column>) -> Self {
        use sea_orm::{IdenStatic, Iterable};
        let deferred: Vec<E::Column> = cols.into_iter().collect();
        let kept: Vec<E::Column> = E::Column::iter()
            .filter(|c| !deferred.iter().any(|d| d.as_str() == c.as_str()))
            .collect();
        self.only(kept)
    }

    /// The rows read into `P`, a struct deriving SeaORM's `DerivePartialModel` (which selects
    /// exactly its own columns).
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use duetto::sea_orm::DerivePartialModel;
    ///
    /// #[derive(DerivePartialModel)]
    /// #[sea_orm(entity = "entity::user::Entity")]
    /// struct Person {
    ///     id: i64,
    ///     name: String,
    /// }
    /// let people: Vec<Person> = entity::user::Entity::objects().alist_partial().await?;
    /// assert_eq!(people[2].name, "Grace Hopper");
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn alist_partial<P>(&self) -> impl Future<Output = Result<Vec<P>>> + Send + 'static
    where
        P: PartialModelTrait + Send + 'static,
    {
        let select = P::select_cols(self.build().select_only()).into_query();
        self.reader().run(move |conn| rows_as::<P>(select, conn))
    }

    /// Blocking twin of [`alist_partial`](Self::alist_partial).
    ///
    /// # Errors
    ///
    /// As [`alist_partial`](Self::alist_partial), plus [`Error::SynchronousOnlyOperation`] in
    /// async code.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// #[derive(duetto::sea_orm::DerivePartialModel)]
    /// #[sea_orm(entity = "entity::user::Entity")]
    /// struct Id {
    ///     id: i64,
    /// }
    /// let ids: Vec<Id> = entity::user::Entity::objects().list_partial()?;
    /// assert_eq!(ids.len(), 3);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn list_partial<P>(&self) -> Result<Vec<P>>
    where
        P: PartialModelTrait + Send + 'static,
    {
        blocking_twin("list_partial", self.alist_partial())
    }

    /// Adds a per-row annotation `alias` (Django's `annotate(alias=…)`): an aggregate over a
    /// relation ([`agg::count_related`](crate::agg::count_related)), a test
    /// ([`agg::related_exists`](crate::agg::related_exists)), a `CASE`, any expression. Read the
    /// rows with [`Annotated::alist_as`] into a struct that has a field named `alias`.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use duetto::sea_orm::FromQueryResult;
    /// use entity::{comment, post};
    /// #[derive(FromQueryResult)]
    /// struct Row {
    ///     title: String,
    ///     comments: i64,
    /// }
    /// let rows: Vec<Row> = post::Entity::objects()
    ///     .annotate("comments", duetto::agg::count_related::<post::Entity, comment::Entity>())
    ///     .order_by_desc(duetto::agg::col("comments"))
    ///     .alist_as()
    ///     .await?;
    /// assert_eq!((rows[0].title.as_str(), rows[0].comments), ("Notes on the Engine", 2));
    /// # Ok(()) });
    /// ```
    pub fn annotate(&self, alias: &str, annotation: impl Into<Annotation>) -> Annotated<E> {
        Annotated {
            qs: self.clone(),
            annotations: vec![(alias.to_owned(), annotation.into())],
        }
    }

    /// Groups the rows by `cols` (Django's `values("status")`), to aggregate per group with
    /// [`Grouped::annotate`]. See [`Grouped`].
    ///
    /// ```
    /// use duetto::prelude::*;
    /// let per_status = entity::order::Entity::objects().values([entity::order::Column::Status]);
    /// # let _ = per_status;
    /// ```
    pub fn values(&self, cols: impl IntoIterator<Item = E::Column>) -> Grouped<E> {
        Grouped {
            qs: self.clone(),
            group: cols.into_iter().collect(),
            annotations: Vec::new(),
            having: Condition::all(),
            orders: Vec::new(),
            limit: None,
            offset: None,
        }
    }
}

/// A queryset with per-row annotations (made by [`QuerySet::annotate`]): its rows, each with the
/// annotations' values, read into a struct.
#[derive(Debug, Clone)]
pub struct Annotated<E: EntityTrait> {
    qs: QuerySet<E>,
    annotations: Vec<(String, Annotation)>,
}

impl<E: EntityTrait> Annotated<E> {
    /// Adds another annotation.
    ///
    /// ```
    /// use duetto::prelude::*;
    /// use entity::{comment, post, tag};
    /// let annotated = post::Entity::objects()
    ///     .annotate("comments", duetto::agg::count_related::<post::Entity, comment::Entity>())
    ///     .annotate("tags", duetto::agg::count_related::<post::Entity, tag::Entity>());
    /// # let _ = annotated;
    /// ```
    pub fn annotate(mut self, alias: &str, annotation: impl Into<Annotation>) -> Self {
        self.annotations.push((alias.to_owned(), annotation.into()));
        self
    }

    /// Keeps rows matching `cond` on the entity's columns (as [`QuerySet::filter`]).
    ///
    /// ```
    /// use duetto::prelude::*;
    /// use duetto::sea_orm::ColumnTrait;
    /// use entity::{comment, post};
    /// let published = post::Entity::objects()
    ///     .annotate("comments", duetto::agg::count_related::<post::Entity, comment::Entity>())
    ///     .filter(post::Column::Published.eq(true));
    /// # let _ = published;
    /// ```
    pub fn filter(mut self, cond: impl IntoCondition) -> Self {
        self.qs = self.qs.filter(cond);
        self
    }

    /// Orders by `expr` ascending: a column, or an annotation by name ([`agg::col`](crate::agg::col)).
    ///
    /// ```
    /// use duetto::prelude::*;
    /// use entity::{comment, post};
    /// let least_discussed = post::Entity::objects()
    ///     .annotate("comments", duetto::agg::count_related::<post::Entity, comment::Entity>())
    ///     .order_by_asc(duetto::agg::col("comments"));
    /// # let _ = least_discussed;
    /// ```
    pub fn order_by_asc(mut self, expr: impl IntoSimpleExpr) -> Self {
        self.qs = self.qs.order_by_asc(expr);
        self
    }

    /// Orders by `expr` descending.
    ///
    /// ```
    /// use duetto::prelude::*;
    /// use entity::{comment, post};
    /// let most_discussed = post::Entity::objects()
    ///     .annotate("comments", duetto::agg::count_related::<post::Entity, comment::Entity>())
    ///     .order_by_desc(duetto::agg::col("comments"));
    /// # let _ = most_discussed;
    /// ```
    pub fn order_by_desc(mut self, expr: impl IntoSimpleExpr) -> Self {
        self.qs = self.qs.order_by_desc(expr);
        self
    }

    /// At most `n` rows.
    ///
    /// ```
    /// use duetto::prelude::*;
    /// use entity::{comment, post};
    /// let top = post::Entity::objects()
    ///     .annotate("comments", duetto::agg::count_related::<post::Entity, comment::Entity>())
    ///     .limit(10);
    /// # let _ = top;
    /// ```
    pub fn limit(mut self, n: u64) -> Self {
        self.qs = self.qs.limit(n);
        self
    }

    /// Skips the first `n` rows.
    ///
    /// ```
    /// use duetto::prelude::*;
    /// use entity::{comment, post};
    /// let next = post::Entity::objects()
    ///     .annotate("comments", duetto::agg::count_related::<post::Entity, comment::Entity>())
    ///     .limit(10)
    ///     .offset(10);
    /// # let _ = next;
    /// ```
    pub fn offset(mut self, n: u64) -> Self {
        self.qs = self.qs.offset(n);
        self
    }

    fn statement(
        qs: &QuerySet<E>,
        annotations: &[(String, Annotation)],
        backend: sea_orm::DbBackend,
    ) -> SelectStatement {
        let mut select = qs.build();
        for (alias, annotation) in annotations {
            select = select.expr_as(annotation.expr(backend), alias.as_str());
        }
        select.into_query()
    }

    /// The rows with their annotations, read into `T` (a `FromQueryResult` struct whose fields
    /// are columns of `E` and annotation names).
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use duetto::sea_orm::FromQueryResult;
    /// use entity::{post, user};
    /// #[derive(FromQueryResult)]
    /// struct Row {
    ///     id: i64,
    ///     posts: i64,
    /// }
    /// let rows: Vec<Row> = user::Entity::objects()
    ///     .annotate("posts", duetto::agg::count_related::<user::Entity, post::Entity>())
    ///     .alist_as()
    ///     .await?;
    /// assert_eq!(rows.iter().map(|r| r.posts).sum::<i64>(), 4);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn alist_as<T>(&self) -> impl Future<Output = Result<Vec<T>>> + Send + 'static
    where
        T: FromQueryResult + Send + 'static,
    {
        let (qs, annotations) = (self.qs.clone(), self.annotations.clone());
        self.qs.reader().run(move |conn| {
            let select = Self::statement(&qs, &annotations, conn.get_database_backend());
            rows_as::<T>(select, conn)
        })
    }

    /// Blocking twin of [`alist_as`](Self::alist_as).
    ///
    /// # Errors
    ///
    /// As [`alist_as`](Self::alist_as), plus [`Error::SynchronousOnlyOperation`] in async code.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// use entity::{comment, post};
    /// #[derive(duetto::sea_orm::FromQueryResult)]
    /// struct Row {
    ///     comments: i64,
    /// }
    /// let rows: Vec<Row> = post::Entity::objects()
    ///     .annotate("comments", duetto::agg::count_related::<post::Entity, comment::Entity>())
    ///     .list_as()?;
    /// assert_eq!(rows.iter().map(|r| r.comments).sum::<i64>(), 3);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn list_as<T>(&self) -> Result<Vec<T>>
    where
        T: FromQueryResult + Send + 'static,
    {
        blocking_twin("list_as", self.alist_as())
    }
}

/// Rows grouped by some columns, with aggregates per group (Django's
/// `values("status").annotate(n=Count("id"))`). Made by [`QuerySet::values`]; the queryset's
/// filters apply before grouping (SQL `WHERE`), [`having`](Self::having) after (on the
/// aggregates, by name). Read the groups into a `FromQueryResult` struct whose fields are the
/// grouped columns and the aggregate names.
///
/// ```
/// # duetto::doc_db::with_users(|| async {
/// use duetto::prelude::*;
/// use duetto::agg;
/// use duetto::sea_orm::sea_query::ExprTrait;
/// use duetto::sea_orm::{ColumnTrait, FromQueryResult};
/// use entity::post;
///
/// #[derive(Debug, FromQueryResult)]
/// struct PerAuthor {
///     user_id: i64,
///     posts: i64,
///     published: i64,
/// }
/// let rows: Vec<PerAuthor> = post::Entity::objects()
///     .values([post::Column::UserId])
///     .annotate("posts", agg::count(post::Column::Id))
///     .annotate("published", agg::count(post::Column::Id).filter(post::Column::Published.eq(true)))
///     .having(agg::col("posts").gt(1))
///     .order_by_desc(agg::col("posts"))
///     .alist_as()
///     .await?;
/// assert_eq!(rows.len(), 1);
/// assert_eq!((rows[0].user_id, rows[0].posts, rows[0].published), (1, 3, 2));
/// # Ok(()) });
/// ```
#[derive(Debug, Clone)]
pub struct Grouped<E: EntityTrait> {
    qs: QuerySet<E>,
    group: Vec<E::Column>,
    annotations: Vec<(String, Annotation)>,
    having: Condition,
    orders: Vec<(SimpleExpr, Order)>,
    limit: Option<u64>,
    offset: Option<u64>,
}

impl<E: EntityTrait> Grouped<E> {
    /// Adds an aggregate per group, named `alias`.
    ///
    /// ```
    /// use duetto::prelude::*;
    /// use entity::order;
    /// let totals = order::Entity::objects()
    ///     .values([order::Column::Status])
    ///     .annotate("total", duetto::agg::sum(order::Column::Total));
    /// # let _ = totals;
    /// ```
    pub fn annotate(mut self, alias: &str, annotation: impl Into<Annotation>) -> Self {
        self.annotations.push((alias.to_owned(), annotation.into()));
        self
    }

    /// Keeps the groups matching `cond`, written on the grouped columns and aggregates by name
    /// ([`agg::col`](crate::agg::col)); Django's filter after `annotate`, SQL's `HAVING`.
    ///
    /// ```
    /// use duetto::prelude::*;
    /// use duetto::sea_orm::sea_query::ExprTrait;
    /// use entity::order;
    /// let busy = order::Entity::objects()
    ///     .values([order::Column::UserId])
    ///     .annotate("n", duetto::agg::count(order::Column::Id))
    ///     .having(duetto::agg::col("n").gte(5));
    /// # let _ = busy;
    /// ```
    pub fn having(mut self, cond: impl IntoCondition) -> Self {
        self.having = self.having.add(cond);
        self
    }

    /// Orders the groups by `expr` ascending: a grouped column or an aggregate, by name.
    ///
    /// ```
    /// use duetto::prelude::*;
    /// use entity::order;
    /// let by_status = order::Entity::objects()
    ///     .values([order::Column::Status])
    ///     .order_by_asc(duetto::agg::col("status"));
    /// # let _ = by_status;
    /// ```
    pub fn order_by_asc(mut self, expr: impl IntoSimpleExpr) -> Self {
        self.orders.push((expr.into_simple_expr(), Order::Asc));
        self
    }

    /// Orders the groups by `expr` descending.
    ///
    /// ```
    /// use duetto::prelude::*;
    /// use entity::order;
    /// let biggest = order::Entity::objects()
    ///     .values([order::Column::UserId])
    ///     .annotate("n", duetto::agg::count(order::Column::Id))
    ///     .order_by_desc(duetto::agg::col("n"));
    /// # let _ = biggest;
    /// ```
    pub fn order_by_desc(mut self, expr: impl IntoSimpleExpr) -> Self {
        self.orders.push((expr.into_simple_expr(), Order::Desc));
        self
    }

    /// At most `n` groups.
    ///
    /// ```
    /// use duetto::prelude::*;
    /// let top = entity::order::Entity::objects().values([entity::order::Column::UserId]).limit(10);
    /// # let _ = top;
    /// ```
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Skips the first `n` groups.
    ///
    /// ```
    /// use duetto::prelude::*;
    /// let rest = entity::order::Entity::objects().values([entity::order::Column::UserId]).offset(10);
    /// # let _ = rest;
    /// ```
    pub fn offset(mut self, n: u64) -> Self {
        self.offset = Some(n);
        self
    }

    /// `SELECT group…, aggregates… FROM … WHERE filters GROUP BY group…`, inside a subquery when
    /// there is a `having`, so the aggregates can be named there on every backend.
    fn statement(&self, backend: sea_orm::DbBackend) -> SelectStatement {
        let mut grouped = self.qs.filtered().select_only();
        for col in &self.group {
            grouped = grouped.column(*col).group_by(*col);
        }
        for (alias, annotation) in &self.annotations {
            grouped = grouped.expr_as(annotation.expr(backend), alias.as_str());
        }
        let mut select = if self.having.is_empty() {
            grouped.into_query()
        } else {
            let mut outer = Query::select();
            outer
                .column(Asterisk)
                .from_subquery(grouped.into_query(), Alias::new("duetto_groups"))
                .cond_where(self.having.clone());
            outer
        };
        for (expr, order) in &self.orders {
            select.order_by_expr(expr.clone(), order.clone());
        }
        if let Some(n) = self.limit {
            select.limit(n);
        }
        if let Some(n) = self.offset {
            select.offset(n);
        }
        select
    }

    /// The groups, read into `T`.
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`] when the queryset is sliced (slice the groups instead); database
    /// errors; [`Error::Db`] when `T` does not match the selected columns.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// #[derive(duetto::sea_orm::FromQueryResult)]
    /// struct Group {
    ///     published: bool,
    ///     n: i64,
    /// }
    /// let groups: Vec<Group> = entity::post::Entity::objects()
    ///     .values([entity::post::Column::Published])
    ///     .annotate("n", duetto::agg::count(entity::post::Column::Id))
    ///     .order_by_asc(duetto::agg::col("published"))
    ///     .alist_as()
    ///     .await?;
    /// assert_eq!((groups[0].n, groups[1].n), (1, 3));
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn alist_as<T>(&self) -> impl Future<Output = Result<Vec<T>>> + Send + 'static
    where
        T: FromQueryResult + Send + 'static,
    {
        let grouped = self.clone();
        let sliced = self.qs.is_sliced();
        self.qs.reader().run(move |conn| async move {
            if sliced {
                return Err(Error::NotSupported {
                    operation: "values",
                    reason: "group a queryset before slicing it: limit/offset the groups".into(),
                });
            }
            let select = grouped.statement(conn.get_database_backend());
            rows_as::<T>(select, conn).await
        })
    }

    /// Blocking twin of [`alist_as`](Self::alist_as).
    ///
    /// # Errors
    ///
    /// As [`alist_as`](Self::alist_as), plus [`Error::SynchronousOnlyOperation`] in async code.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// #[derive(duetto::sea_orm::FromQueryResult)]
    /// struct Group {
    ///     user_id: i64,
    /// }
    /// let authors: Vec<Group> = entity::post::Entity::objects()
    ///     .values([entity::post::Column::UserId])
    ///     .list_as()?;
    /// assert_eq!(authors.len(), 2);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn list_as<T>(&self) -> Result<Vec<T>>
    where
        T: FromQueryResult + Send + 'static,
    {
        blocking_twin("list_as", self.alist_as())
    }
}
