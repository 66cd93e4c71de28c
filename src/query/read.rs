//! Terminals that read: get, first/last, earliest/latest, count, exists, contains, list, in_bulk,
//! values_list, aggregate, explain.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;

use sea_orm::sea_query::{
    Alias, Expr, FromValueTuple, IntoValueTuple, Query, SelectStatement, ValueTuple,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, IntoSimpleExpr, Iterable,
    ModelTrait, Order, PrimaryKeyToColumn, PrimaryKeyTrait, QuerySelect, QueryTrait, Statement,
    TryGetableMany, Value,
};

use super::QuerySet;

/// The count a `COUNT(*)` row holds (none: 0).
pub(crate) fn count_of(
    row: Option<&sea_orm::QueryResult>,
) -> std::result::Result<u64, sea_orm::DbErr> {
    let count = match row {
        Some(row) => row.try_get_by_index::<i64>(0)?,
        None => 0,
    };
    Ok(count.max(0) as u64)
}
use crate::agg::Aggregate;
use crate::bridge::blocking_twin;
use crate::{Error, Result};

/// Django's `MAX_GET_RESULTS`: `get` reads one more row than it needs to tell "several" apart.
const MAX_GET_RESULTS: u64 = 21;

/// The primary key value type of entity `E`.
pub type PrimaryKeyOf<E> = <<E as EntityTrait>::PrimaryKey as PrimaryKeyTrait>::ValueType;

/// `pk = value` for every primary key column of `E`.
pub(crate) fn pk_condition<E: EntityTrait>(values: ValueTuple) -> Condition {
    E::PrimaryKey::iter()
        .zip(values)
        .fold(Condition::all(), |cond, (key, value)| {
            cond.add(key.into_column().eq(value))
        })
}

impl<E: EntityTrait> QuerySet<E> {
    /// `self`, ordered by primary key if it has no ordering of its own.
    pub(crate) fn ordered_by_default(mut self) -> Self {
        if self.orders.is_empty() {
            self.orders = E::PrimaryKey::iter()
                .map(|key| (key.into_column().into_simple_expr(), Order::Asc))
                .collect();
        }
        self
    }

    /// The one row matching `cond` and this queryset's filters (Django's `aget`).
    ///
    /// # Errors
    ///
    /// [`Error::DoesNotExist`] when nothing matches; [`Error::MultipleObjectsReturned`] when more
    /// than one row does (at most 21 are read to tell).
    ///
    /// # Example
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use entity::user;
    /// use sea_orm::ColumnTrait;
    ///
    /// let ada = user::Entity::objects().aget(user::Column::Email.eq("ada@example.com")).await?;
    /// assert_eq!(ada.name, "Ada Lovelace");
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn aget(
        &self,
        cond: impl sea_orm::sea_query::IntoCondition,
    ) -> impl Future<Output = Result<E::Model>> + Send + 'static {
        let mut qs = self.clone().filter(cond);
        qs.limit = Some(qs.limit.map_or(MAX_GET_RESULTS, |n| n.min(MAX_GET_RESULTS)));
        let select = qs.build();
        qs.reader().run(move |conn| async move {
            let mut rows = select.all(&conn).await?;
            match rows.len() {
                1 => Ok(rows.pop().expect("one row")),
                0 => Err(Error::DoesNotExist {
                    model: Self::model_name(),
                }),
                n => Err(Error::MultipleObjectsReturned {
                    model: Self::model_name(),
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
    /// use entity::user;
    /// use sea_orm::ColumnTrait;
    ///
    /// let ada = user::Entity::objects().get(user::Column::Email.eq("ada@example.com"))?;
    /// assert_eq!(ada.name, "Ada Lovelace");
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn get(&self, cond: impl sea_orm::sea_query::IntoCondition) -> Result<E::Model> {
        blocking_twin("get", self.aget(cond))
    }

    /// The row with primary key `pk` (within this queryset's filters).
    ///
    /// # Errors
    ///
    /// [`Error::DoesNotExist`] when there is none.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// let first = entity::user::Entity::objects().aget_pk(1).await?;
    /// assert_eq!(first.id, 1);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn aget_pk(
        &self,
        pk: impl Into<PrimaryKeyOf<E>>,
    ) -> impl Future<Output = Result<E::Model>> + Send + 'static {
        self.aget(pk_condition::<E>(pk.into().into_value_tuple()))
    }

    /// Blocking twin of [`aget_pk`](Self::aget_pk).
    ///
    /// # Errors
    ///
    /// As [`aget_pk`](Self::aget_pk), plus [`Error::SynchronousOnlyOperation`] in async code.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// assert_eq!(entity::user::Entity::objects().get_pk(2)?.name, "Alan Turing");
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn get_pk(&self, pk: impl Into<PrimaryKeyOf<E>>) -> Result<E::Model> {
        blocking_twin("get_pk", self.aget_pk(pk))
    }

    /// `self` ordered as given, or by primary key when unordered; reversed for `last`.
    fn edge(&self, reverse: bool) -> Self {
        let mut qs = self.clone().ordered_by_default();
        if reverse {
            for (_, order) in &mut qs.orders {
                *order = match order {
                    Order::Asc => Order::Desc,
                    _ => Order::Asc,
                };
            }
        }
        qs.limit = Some(1);
        qs
    }

    async fn fetch_one(qs: Self) -> Result<Option<E::Model>> {
        let select = qs.build();
        qs.reader()
            .run(move |conn| async move { Ok(select.one(&conn).await?) })
            .await
    }

    /// The first row, in this queryset's order or by primary key (Django's `afirst`).
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// let first = entity::user::Entity::objects().afirst().await?;
    /// assert_eq!(first.map(|u| u.id), Some(1));
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn afirst(&self) -> impl Future<Output = Result<Option<E::Model>>> + Send + 'static {
        crate::observe::at_caller(Self::fetch_one(self.edge(false)))
    }

    /// Blocking twin of [`afirst`](Self::afirst).
    ///
    /// # Errors
    ///
    /// [`Error::SynchronousOnlyOperation`] in async code; database errors.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// assert_eq!(entity::user::Entity::objects().first()?.map(|u| u.id), Some(1));
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn first(&self) -> Result<Option<E::Model>> {
        blocking_twin("first", self.afirst())
    }

    /// The last row, in this queryset's order or by primary key (Django's `alast`).
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// let last = entity::user::Entity::objects().alast().await?;
    /// assert_eq!(last.map(|u| u.id), Some(3));
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn alast(&self) -> impl Future<Output = Result<Option<E::Model>>> + Send + 'static {
        crate::observe::at_caller(Self::fetch_one(self.edge(true)))
    }

    /// Blocking twin of [`alast`](Self::alast).
    ///
    /// # Errors
    ///
    /// [`Error::SynchronousOnlyOperation`] in async code; database errors.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// assert_eq!(entity::user::Entity::objects().last()?.map(|u| u.id), Some(3));
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn last(&self) -> Result<Option<E::Model>> {
        blocking_twin("last", self.alast())
    }

    #[track_caller]
    fn extreme(
        &self,
        col: E::Column,
        order: Order,
    ) -> impl Future<Output = Result<E::Model>> + Send + 'static {
        let mut qs = self.clone();
        qs.orders = vec![(col.into_simple_expr(), order)];
        qs.limit = Some(1);
        crate::observe::at_caller(async move {
            Self::fetch_one(qs).await?.ok_or(Error::DoesNotExist {
                model: Self::model_name(),
            })
        })
    }

    /// The row with the smallest `col` (Django's `aearliest`).
    ///
    /// # Errors
    ///
    /// [`Error::DoesNotExist`] when the queryset is empty.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use entity::user;
    /// let first_alphabetically = user::Entity::objects().aearliest(user::Column::Name).await?;
    /// assert_eq!(first_alphabetically.name, "Ada Lovelace");
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn aearliest(
        &self,
        col: E::Column,
    ) -> impl Future<Output = Result<E::Model>> + Send + 'static {
        self.extreme(col, Order::Asc)
    }

    /// Blocking twin of [`aearliest`](Self::aearliest).
    ///
    /// # Errors
    ///
    /// As [`aearliest`](Self::aearliest), plus [`Error::SynchronousOnlyOperation`] in async code.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// use entity::user;
    /// assert_eq!(user::Entity::objects().earliest(user::Column::Id)?.id, 1);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn earliest(&self, col: E::Column) -> Result<E::Model> {
        blocking_twin("earliest", self.aearliest(col))
    }

    /// The row with the largest `col` (Django's `alatest`).
    ///
    /// # Errors
    ///
    /// [`Error::DoesNotExist`] when the queryset is empty.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use entity::user;
    /// assert_eq!(user::Entity::objects().alatest(user::Column::Id).await?.id, 3);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn alatest(
        &self,
        col: E::Column,
    ) -> impl Future<Output = Result<E::Model>> + Send + 'static {
        self.extreme(col, Order::Desc)
    }

    /// Blocking twin of [`alatest`](Self::alatest).
    ///
    /// # Errors
    ///
    /// As [`alatest`](Self::alatest), plus [`Error::SynchronousOnlyOperation`] in async code.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// use entity::user;
    /// assert_eq!(user::Entity::objects().latest(user::Column::Id)?.id, 3);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn latest(&self, col: E::Column) -> Result<E::Model> {
        blocking_twin("latest", self.alatest(col))
    }

    /// How many rows match (Django's `acount`), slices and `distinct` included.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// assert_eq!(entity::user::Entity::objects().acount().await?, 3);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn acount(&self) -> impl Future<Output = Result<u64>> + Send + 'static {
        let stmt = self.count_query();
        self.reader().run(move |conn| async move {
            let backend = conn.get_database_backend();
            let row = conn.query_one_raw(backend.build(&stmt)).await?;
            Ok(count_of(row.as_ref())?)
        })
    }

    /// `SELECT COUNT(*)` of the rows this queryset matches.
    pub(crate) fn count_query(&self) -> SelectStatement {
        // Without a slice or DISTINCT a plain COUNT(*) over the filters suffices; with one, the
        // rows must be counted from a subquery that applies it.
        if self.is_sliced() || self.distinct {
            Query::select()
                .expr(Expr::cust("COUNT(*)"))
                .from_subquery(self.build().into_query(), Alias::new("duetto_counted"))
                .to_owned()
        } else {
            self.filtered()
                .select_only()
                .expr(Expr::cust("COUNT(*)"))
                .into_query()
        }
    }

    /// Blocking twin of [`acount`](Self::acount).
    ///
    /// # Errors
    ///
    /// [`Error::SynchronousOnlyOperation`] in async code; database errors.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// assert_eq!(entity::user::Entity::objects().count()?, 3);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn count(&self) -> Result<u64> {
        blocking_twin("count", self.acount())
    }

    /// Whether any row matches (Django's `aexists`): reads at most one row, decodes none.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use entity::user;
    /// use sea_orm::ColumnTrait;
    /// assert!(user::Entity::objects().filter(user::Column::Id.eq(1)).aexists().await?);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn aexists(&self) -> impl Future<Output = Result<bool>> + Send + 'static {
        let stmt = self.exists_query();
        self.reader().run(move |conn| async move {
            let stmt = conn.get_database_backend().build(&stmt);
            Ok(conn.query_one_raw(stmt).await?.is_some())
        })
    }

    /// `SELECT 1 … LIMIT 1` over the rows this queryset matches.
    pub(crate) fn exists_query(&self) -> SelectStatement {
        let mut select = self.build();
        if self.limit.is_none() {
            select = select.limit(1);
        }
        select.select_only().expr(Expr::val(1)).into_query()
    }

    /// Blocking twin of [`aexists`](Self::aexists).
    ///
    /// # Errors
    ///
    /// [`Error::SynchronousOnlyOperation`] in async code; database errors.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// assert!(entity::user::Entity::objects().exists()?);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn exists(&self) -> Result<bool> {
        blocking_twin("exists", self.aexists())
    }

    /// Whether `model` (by primary key) is in this queryset (Django's `acontains`).
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use entity::user;
    /// use sea_orm::ColumnTrait;
    /// let ada = user::Entity::objects().aget_pk(1).await?;
    /// let a_names = user::Entity::objects().filter(user::Column::Name.starts_with("A"));
    /// assert!(a_names.acontains(&ada).await?);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn acontains(
        &self,
        model: &E::Model,
    ) -> impl Future<Output = Result<bool>> + Send + 'static {
        self.clone()
            .filter(pk_condition::<E>(model.get_primary_key_value()))
            .aexists()
    }

    /// Blocking twin of [`acontains`](Self::acontains).
    ///
    /// # Errors
    ///
    /// [`Error::SynchronousOnlyOperation`] in async code; database errors.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// let users = entity::user::Entity::objects();
    /// let ada = users.get_pk(1)?;
    /// assert!(users.contains(&ada)?);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn contains(&self, model: &E::Model) -> Result<bool> {
        blocking_twin("contains", self.acontains(model))
    }

    /// Every matching row, in order (Django's `list(qs)` / `[x async for x in qs]`).
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// let users = entity::user::Entity::objects().alist().await?;
    /// assert_eq!(users.len(), 3);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn alist(&self) -> impl Future<Output = Result<Vec<E::Model>>> + Send + 'static {
        let select = self.build();
        self.reader()
            .run(move |conn| async move { Ok(select.all(&conn).await?) })
    }

    /// Blocking twin of [`alist`](Self::alist).
    ///
    /// # Errors
    ///
    /// [`Error::SynchronousOnlyOperation`] in async code; database errors.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// assert_eq!(entity::user::Entity::objects().list()?.len(), 3);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn list(&self) -> Result<Vec<E::Model>> {
        blocking_twin("list", self.alist())
    }

    /// The rows whose primary keys are in `pks`, keyed by primary key (Django's `ain_bulk`).
    /// Missing keys are simply absent; long key lists are split under the backend's bind limit.
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`] on a sliced queryset (`limit`/`offset`), as in Django: the slice
    /// cannot be applied to a key list that is read in several batches.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// let found = entity::user::Entity::objects().ain_bulk([1, 3, 99]).await?;
    /// assert_eq!(found.len(), 2);
    /// assert_eq!(found[&3].name, "Grace Hopper");
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn ain_bulk<K>(
        &self,
        pks: impl IntoIterator<Item = K>,
    ) -> impl Future<Output = Result<HashMap<PrimaryKeyOf<E>, E::Model>>> + Send + 'static
    where
        K: Into<PrimaryKeyOf<E>>,
        PrimaryKeyOf<E>: Eq + Hash,
    {
        let keys: Vec<ValueTuple> = pks
            .into_iter()
            .map(|k| k.into().into_value_tuple())
            .collect();
        let qs = self.clone();
        crate::observe::at_caller(async move {
            if qs.is_sliced() {
                return Err(Error::NotSupported {
                    operation: "in_bulk",
                    reason: "in_bulk on a sliced queryset (limit/offset)".into(),
                });
            }
            let mut found = HashMap::with_capacity(keys.len());
            if keys.is_empty() {
                return Ok(found);
            }
            let db = qs.using.resolve()?;
            let arity = E::PrimaryKey::iter().count().max(1);
            let per_batch =
                (crate::query::write::bind_limit(db.backend()) / arity).clamp(1, 10_000);
            for batch in keys.chunks(per_batch) {
                let cond = match arity {
                    1 => {
                        let key = E::PrimaryKey::iter().next().expect("a primary key");
                        let values: Vec<Value> =
                            batch.iter().flat_map(|t| t.clone().into_iter()).collect();
                        Condition::all().add(key.into_column().is_in(values))
                    }
                    _ => batch.iter().fold(Condition::any(), |any, t| {
                        any.add(pk_condition::<E>(t.clone()))
                    }),
                };
                let rows = qs.clone().using(db.clone()).filter(cond).alist().await?;
                for row in rows {
                    let key = PrimaryKeyOf::<E>::from_value_tuple(row.get_primary_key_value());
                    found.insert(key, row);
                }
            }
            Ok(found)
        })
    }

    /// Blocking twin of [`ain_bulk`](Self::ain_bulk).
    ///
    /// # Errors
    ///
    /// [`Error::SynchronousOnlyOperation`] in async code; database errors.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// assert_eq!(entity::user::Entity::objects().in_bulk([1, 2])?.len(), 2);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn in_bulk<K>(
        &self,
        pks: impl IntoIterator<Item = K>,
    ) -> Result<HashMap<PrimaryKeyOf<E>, E::Model>>
    where
        K: Into<PrimaryKeyOf<E>>,
        PrimaryKeyOf<E>: Eq + Hash,
    {
        blocking_twin("in_bulk", self.ain_bulk(pks))
    }

    /// The given columns of every matching row, as tuples `T` (Django's `values_list`).
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use entity::user;
    /// let pairs: Vec<(i64, String)> = user::Entity::objects()
    ///     .order_by_asc(user::Column::Id)
    ///     .avalues_list([user::Column::Id, user::Column::Name])
    ///     .await?;
    /// assert_eq!(pairs[0], (1, "Ada Lovelace".to_owned()));
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn avalues_list<T>(
        &self,
        cols: impl IntoIterator<Item = E::Column>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send + 'static
    where
        T: TryGetableMany + Send + 'static,
    {
        let select = self.build().select_only().columns(cols);
        self.reader()
            .run(move |conn| async move { Ok(select.into_tuple::<T>().all(&conn).await?) })
    }

    /// Blocking twin of [`avalues_list`](Self::avalues_list).
    ///
    /// # Errors
    ///
    /// [`Error::SynchronousOnlyOperation`] in async code; database errors (including a tuple
    /// type that does not match the columns).
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// use entity::user;
    /// let names: Vec<String> = user::Entity::objects()
    ///     .order_by_asc(user::Column::Name)
    ///     .values_list([user::Column::Name])?;
    /// assert_eq!(names[0], "Ada Lovelace");
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn values_list<T>(&self, cols: impl IntoIterator<Item = E::Column>) -> Result<Vec<T>>
    where
        T: TryGetableMany + Send + 'static,
    {
        blocking_twin("values_list", self.avalues_list(cols))
    }

    /// Aggregates over the matching rows, returned as a tuple `T` in the order given (Django's
    /// `aaggregate`). Build them with [`agg`](crate::agg).
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`] on a sliced queryset; database errors.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::{agg, prelude::*};
    /// use entity::user;
    /// let (n, max_id): (i64, Option<i64>) = user::Entity::objects()
    ///     .aaggregate([agg::count(user::Column::Id), agg::max(user::Column::Id)])
    ///     .await?;
    /// assert_eq!((n, max_id), (3, Some(3)));
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn aaggregate<T>(
        &self,
        aggregates: impl IntoIterator<Item = Aggregate>,
    ) -> impl Future<Output = Result<T>> + Send + 'static
    where
        T: TryGetableMany + Send + 'static,
    {
        let aggregates: Vec<Aggregate> = aggregates.into_iter().collect();
        let sliced = self.is_sliced();
        let filtered = self.filtered();
        let runner = self.reader();
        async move {
            if sliced {
                return Err(Error::NotSupported {
                    operation: "aggregate",
                    reason: "aggregate over a sliced queryset (limit/offset)".into(),
                });
            }
            runner
                .run(move |conn| async move {
                    let backend = conn.get_database_backend();
                    let mut select = filtered.select_only();
                    for (i, aggregate) in aggregates.iter().enumerate() {
                        select = select.expr_as(aggregate.expr(backend), format!("agg_{i}"));
                    }
                    select
                        .into_tuple::<T>()
                        .one(&conn)
                        .await?
                        .ok_or(Error::DoesNotExist {
                            model: Self::model_name(),
                        })
                })
                .await
        }
    }

    /// Blocking twin of [`aaggregate`](Self::aaggregate).
    ///
    /// # Errors
    ///
    /// As [`aaggregate`](Self::aaggregate), plus [`Error::SynchronousOnlyOperation`] in async code.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::{agg, prelude::*};
    /// use entity::user;
    /// let (n,): (i64,) = user::Entity::objects().aggregate([agg::count(user::Column::Id)])?;
    /// assert_eq!(n, 3);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn aggregate<T>(&self, aggregates: impl IntoIterator<Item = Aggregate>) -> Result<T>
    where
        T: TryGetableMany + Send + 'static,
    {
        blocking_twin("aggregate", self.aaggregate(aggregates))
    }

    /// The backend's query plan for this queryset, as text (Django's `aexplain`): PostgreSQL's
    /// `EXPLAIN`, MySQL's `EXPLAIN` rows, SQLite's `EXPLAIN QUERY PLAN`.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// let plan = entity::user::Entity::objects().aexplain().await?;
    /// assert!(plan.to_lowercase().contains("user"));
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn aexplain(&self) -> impl Future<Output = Result<String>> + Send + 'static {
        let select = self.build();
        self.reader().run(move |conn| async move {
            let backend = conn.get_database_backend();
            let stmt = select.build(backend);
            let prefix = match backend {
                DbBackend::Sqlite => "EXPLAIN QUERY PLAN ",
                _ => "EXPLAIN ",
            };
            let explain = Statement {
                sql: format!("{prefix}{}", stmt.sql),
                ..stmt
            };
            let rows = conn.query_all_raw(explain).await?;
            let lines: Vec<String> = rows
                .iter()
                .map(|row| match backend {
                    DbBackend::Sqlite => row.try_get::<String>("", "detail").unwrap_or_default(),
                    DbBackend::Postgres => row.try_get_by_index::<String>(0).unwrap_or_default(),
                    _ => row
                        .column_names()
                        .iter()
                        .enumerate()
                        .map(|(i, name)| format!("{name}={}", cell_text(row, i)))
                        .collect::<Vec<_>>()
                        .join(" "),
                })
                .collect();
            Ok(lines.join("\n"))
        })
    }

    /// Blocking twin of [`aexplain`](Self::aexplain).
    ///
    /// # Errors
    ///
    /// [`Error::SynchronousOnlyOperation`] in async code; database errors.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// assert!(!entity::user::Entity::objects().explain()?.is_empty());
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn explain(&self) -> Result<String> {
        blocking_twin("explain", self.aexplain())
    }
}

/// One cell of an `EXPLAIN` row as text, whatever its SQL type.
fn cell_text(row: &sea_orm::QueryResult, i: usize) -> String {
    if let Ok(Some(s)) = row.try_get_by_index::<Option<String>>(i) {
        return s;
    }
    if let Ok(Some(n)) = row.try_get_by_index::<Option<i64>>(i) {
        return n.to_string();
    }
    if let Ok(Some(n)) = row.try_get_by_index::<Option<u64>>(i) {
        return n.to_string();
    }
    if let Ok(Some(x)) = row.try_get_by_index::<Option<f64>>(i) {
        return x.to_string();
    }
    "NULL".to_owned()
}
