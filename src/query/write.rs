//! Terminals that write: create, get_or_create, update_or_create, bulk_create, bulk_update,
//! update, delete.

use std::future::Future;

use futures_util::FutureExt;

use sea_orm::sea_query::{Alias, CaseStatement, Expr, ExprTrait, IntoCondition, Query, SimpleExpr};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ActiveValue, ColumnTrait, Condition, ConnectionTrait,
    DbBackend, EntityTrait, IdenStatic, IntoActiveModel, Iterable, ModelTrait, PrimaryKeyToColumn,
    QueryFilter, QuerySelect, QueryTrait,
};

use super::bulk_insert::{insert_rows, Conflict};
use super::QuerySet;
use crate::bridge::blocking_twin;
use crate::{Error, Result};

/// Most bind parameters one statement may carry on `backend`.
pub(crate) fn bind_limit(backend: DbBackend) -> usize {
    match backend {
        // Both wire protocols count a statement's parameters in a u16.
        DbBackend::Postgres => 65_535,
        DbBackend::MySql => 65_535,
        // SQLITE_MAX_VARIABLE_NUMBER since SQLite 3.32 (sqlx bundles a newer one).
        _ => 32_766,
    }
}

/// How [`QuerySet::abulk_create_with`] treats rows that collide with existing ones on a unique
/// key (Django's `bulk_create(ignore_conflicts=…, update_conflicts=…, unique_fields=…,
/// update_fields=…)`). The default fails the whole call on the first collision.
///
/// ```
/// use duetto::BulkCreate;
/// use entity::user;
/// let skip = BulkCreate::<user::Entity>::new().ignore_conflicts();
/// let upsert = BulkCreate::<user::Entity>::new()
///     .update_conflicts([user::Column::Email], [user::Column::Name]);
/// # let _ = (skip, upsert);
/// ```
#[derive(Debug, Clone)]
pub struct BulkCreate<E: EntityTrait> {
    ignore: bool,
    update: Option<UpsertFields<E>>,
}

/// `update_conflicts`' unique fields and update fields.
type UpsertFields<E> = (
    Vec<<E as EntityTrait>::Column>,
    Vec<<E as EntityTrait>::Column>,
);

impl<E: EntityTrait> Default for BulkCreate<E> {
    fn default() -> Self {
        BulkCreate {
            ignore: false,
            update: None,
        }
    }
}

impl<E: EntityTrait> BulkCreate<E> {
    /// Fail on the first collision (the default).
    ///
    /// ```
    /// let strict = duetto::BulkCreate::<entity::user::Entity>::new();
    /// # let _ = strict;
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Skip rows that collide with an existing row on any unique key (`ON CONFLICT DO NOTHING`;
    /// on MySQL `INSERT IGNORE`, which also turns some other errors into warnings, as Django
    /// documents).
    ///
    /// ```
    /// let skip = duetto::BulkCreate::<entity::user::Entity>::new().ignore_conflicts();
    /// # let _ = skip;
    /// ```
    pub fn ignore_conflicts(mut self) -> Self {
        self.ignore = true;
        self
    }

    /// Update `update_fields` of the existing row from a colliding one (an upsert): the
    /// collision is on `unique_fields` (`ON CONFLICT (…) DO UPDATE`; required on PostgreSQL and
    /// SQLite, ignored by MySQL, whose `ON DUPLICATE KEY UPDATE` uses any unique key).
    ///
    /// ```
    /// use entity::user;
    /// let upsert = duetto::BulkCreate::<user::Entity>::new()
    ///     .update_conflicts([user::Column::Email], [user::Column::Name]);
    /// # let _ = upsert;
    /// ```
    pub fn update_conflicts(
        mut self,
        unique_fields: impl IntoIterator<Item = E::Column>,
        update_fields: impl IntoIterator<Item = E::Column>,
    ) -> Self {
        self.update = Some((
            unique_fields.into_iter().collect(),
            update_fields.into_iter().collect(),
        ));
        self
    }

    /// The conflict handling these options ask for on `backend`, or why they cannot be used.
    pub(crate) fn conflict(&self, backend: DbBackend) -> Result<Conflict<E::Column>> {
        let refuse = |reason: &str| {
            Err(Error::NotSupported {
                operation: "bulk_create",
                reason: reason.into(),
            })
        };
        match (&self.update, self.ignore) {
            (None, false) => Ok(Conflict::Fail),
            (None, true) => Ok(Conflict::Ignore),
            (Some(_), true) => refuse("ignore_conflicts and update_conflicts exclude each other"),
            (Some((unique, update)), false) => {
                if update.is_empty() {
                    return refuse("update_conflicts needs at least one field to update");
                }
                if unique.is_empty() && backend != DbBackend::MySql {
                    return refuse(
                        "update_conflicts needs unique_fields on PostgreSQL and SQLite \
                         (the ON CONFLICT target)",
                    );
                }
                let keys: Vec<String> = E::PrimaryKey::iter()
                    .map(|k| k.into_column().as_str().to_owned())
                    .collect();
                if update.iter().any(|c| keys.iter().any(|k| k == c.as_str())) {
                    return refuse("update_conflicts cannot update a primary key field");
                }
                Ok(Conflict::Update {
                    unique: unique.clone(),
                    update: update.clone(),
                })
            }
        }
    }
}

/// Rows per `UPDATE … CASE` statement in `bulk_update`, whatever the bind limit allows: the
/// statement's planning cost grows with its CASE arms.
const BULK_UPDATE_MAX_ROWS: usize = 1_000;

/// The primary key column of `E`, for operations that need exactly one.
fn single_key<E: EntityTrait>(operation: &'static str) -> Result<E::Column> {
    let mut keys = E::PrimaryKey::iter();
    match (keys.next(), keys.next()) {
        (Some(key), None) => Ok(key.into_column()),
        _ => Err(Error::NotSupported {
            operation,
            reason: format!(
                "{} has a composite primary key; `{operation}` needs a single-column one",
                E::default().table_name()
            ),
        }),
    }
}

impl<E: EntityTrait> QuerySet<E> {
    /// Inserts `active` and returns the stored row, database defaults filled in (Django's
    /// `acreate`). The queryset's filters are ignored, as in Django.
    ///
    /// # Errors
    ///
    /// [`Error::Integrity`] when a constraint rejects the row.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use entity::user;
    /// use sea_orm::Set;
    ///
    /// let linus = user::Entity::objects()
    ///     .acreate(user::ActiveModel {
    ///         name: Set("Linus".into()),
    ///         email: Set("linus@example.com".into()),
    ///         ..Default::default()
    ///     })
    ///     .await?;
    /// assert_eq!(linus.id, 4);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn acreate<A>(&self, active: A) -> impl Future<Output = Result<E::Model>> + Send + 'static
    where
        A: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send + 'static,
        E::Model: IntoActiveModel<A>,
    {
        self.writer()
            .run(move |conn| async move { Ok(active.insert(&conn).await?) })
    }

    /// Blocking twin of [`acreate`](Self::acreate).
    ///
    /// # Errors
    ///
    /// As [`acreate`](Self::acreate), plus [`Error::SynchronousOnlyOperation`] in async code.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// use entity::user;
    /// use sea_orm::Set;
    ///
    /// let linus = user::Entity::objects().create(user::ActiveModel {
    ///     name: Set("Linus".into()),
    ///     email: Set("linus@example.com".into()),
    ///     ..Default::default()
    /// })?;
    /// assert_eq!(linus.name, "Linus");
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn create<A>(&self, active: A) -> Result<E::Model>
    where
        A: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send + 'static,
        E::Model: IntoActiveModel<A>,
    {
        blocking_twin("create", self.acreate(active))
    }

    /// The row matching `cond`, or a new one inserted from `defaults`; the flag is `true` when
    /// it was created (Django's `aget_or_create`).
    ///
    /// A condition cannot be turned into values, so `defaults` must itself set the fields `cond`
    /// looks for. Race-safe as in Django: when a concurrent caller inserts the same unique key
    /// first, the insert fails with a unique violation and the row is read again, so every caller
    /// gets the one row.
    ///
    /// # Errors
    ///
    /// [`Error::MultipleObjectsReturned`] if `cond` matches several rows; [`Error::Integrity`] if
    /// the insert is rejected and no matching row appears.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use entity::user;
    /// use sea_orm::{ColumnTrait, Set};
    ///
    /// let users = user::Entity::objects();
    /// let email = user::Column::Email.eq("ada@example.com");
    /// let defaults = user::ActiveModel {
    ///     name: Set("Ada".into()),
    ///     email: Set("ada@example.com".into()),
    ///     ..Default::default()
    /// };
    /// let (ada, created) = users.aget_or_create(email, defaults).await?;
    /// assert!(!created);
    /// assert_eq!(ada.name, "Ada Lovelace");
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn aget_or_create<A>(
        &self,
        cond: impl IntoCondition,
        defaults: A,
    ) -> impl Future<Output = Result<(E::Model, bool)>> + Send + 'static
    where
        A: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send + 'static,
        E::Model: IntoActiveModel<A>,
    {
        let lookup = self.clone().filter(cond);
        let creator = self.clone();
        crate::observe::at_caller(async move {
            match lookup.aget(Condition::all()).await {
                Ok(found) => return Ok((found, false)),
                Err(Error::DoesNotExist { .. }) => {}
                Err(other) => return Err(other),
            }
            match creator.acreate_in_savepoint(defaults).await {
                Ok(created) => Ok((created, true)),
                Err(conflict @ Error::Integrity { .. }) => {
                    match lookup.aget(Condition::all()).await {
                        Ok(found) => Ok((found, false)),
                        Err(Error::DoesNotExist { .. }) => Err(conflict),
                        Err(other) => Err(other),
                    }
                }
                Err(other) => Err(other),
            }
        })
    }

    /// Blocking twin of [`aget_or_create`](Self::aget_or_create).
    ///
    /// # Errors
    ///
    /// As [`aget_or_create`](Self::aget_or_create), plus [`Error::SynchronousOnlyOperation`] in
    /// async code.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// use entity::user;
    /// use sea_orm::{ColumnTrait, Set};
    ///
    /// let (linus, created) = user::Entity::objects().get_or_create(
    ///     user::Column::Email.eq("linus@example.com"),
    ///     user::ActiveModel {
    ///         name: Set("Linus".into()),
    ///         email: Set("linus@example.com".into()),
    ///         ..Default::default()
    ///     },
    /// )?;
    /// assert!(created);
    /// # let _ = linus;
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn get_or_create<A>(
        &self,
        cond: impl IntoCondition,
        defaults: A,
    ) -> Result<(E::Model, bool)>
    where
        A: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send + 'static,
        E::Model: IntoActiveModel<A>,
    {
        blocking_twin("get_or_create", self.aget_or_create(cond, defaults))
    }

    /// Updates the row matching `cond` with the fields `defaults` sets, or inserts `defaults` when
    /// there is none; the flag is `true` when it was created (Django's `aupdate_or_create`).
    /// Race-safe like [`aget_or_create`](Self::aget_or_create).
    ///
    /// # Errors
    ///
    /// As [`aget_or_create`](Self::aget_or_create).
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use entity::user;
    /// use sea_orm::{ColumnTrait, Set};
    ///
    /// let (ada, created) = user::Entity::objects()
    ///     .aupdate_or_create(
    ///         user::Column::Email.eq("ada@example.com"),
    ///         user::ActiveModel {
    ///             name: Set("Augusta Ada King".into()),
    ///             email: Set("ada@example.com".into()),
    ///             ..Default::default()
    ///         },
    ///     )
    ///     .await?;
    /// assert!(!created);
    /// assert_eq!(ada.name, "Augusta Ada King");
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn aupdate_or_create<A>(
        &self,
        cond: impl IntoCondition,
        defaults: A,
    ) -> impl Future<Output = Result<(E::Model, bool)>> + Send + 'static
    where
        A: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send + Clone + 'static,
        E::Model: IntoActiveModel<A>,
    {
        let get_or_create = self.aget_or_create(cond, defaults.clone());
        let writer = self.clone();
        crate::observe::at_caller(async move {
            match get_or_create.await? {
                (created, true) => Ok((created, true)),
                (existing, false) => Ok((writer.apply_and_save(existing, defaults).await?, false)),
            }
        })
    }

    /// `acreate`, inside a savepoint when a transaction is open in the caller's scope: a unique
    /// violation then rolls back only the savepoint, and the transaction can go on to re-read
    /// the row (PostgreSQL refuses every statement in a transaction after a failed one).
    async fn acreate_in_savepoint<A>(&self, active: A) -> Result<E::Model>
    where
        A: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send + 'static,
        E::Model: IntoActiveModel<A>,
    {
        let db = self.using.resolve()?;
        if crate::executor::scope_for(&db).is_some() {
            db.aatomic(self.acreate(active)).await
        } else {
            self.acreate(active).await
        }
    }

    /// Copies every field `changes` sets (primary key excluded) onto `model` and saves it.
    async fn apply_and_save<A>(&self, model: E::Model, changes: A) -> Result<E::Model>
    where
        A: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send + 'static,
        E::Model: IntoActiveModel<A>,
    {
        let mut active: A = model.clone().into_active_model();
        let mut changed = false;
        for col in E::Column::iter() {
            let is_key = E::PrimaryKey::iter().any(|k| k.into_column().as_str() == col.as_str());
            if let ActiveValue::Set(value) = changes.get(col) {
                if !is_key {
                    active.set(col, value);
                    changed = true;
                }
            }
        }
        if !changed {
            return Ok(model);
        }
        self.writer()
            .run(move |conn| async move { Ok(active.update(&conn).await?) })
            .await
    }

    /// Blocking twin of [`aupdate_or_create`](Self::aupdate_or_create).
    ///
    /// # Errors
    ///
    /// As [`aupdate_or_create`](Self::aupdate_or_create), plus
    /// [`Error::SynchronousOnlyOperation`] in async code.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// use entity::user;
    /// use sea_orm::{ColumnTrait, Set};
    ///
    /// let (grace, created) = user::Entity::objects().update_or_create(
    ///     user::Column::Email.eq("grace@example.com"),
    ///     user::ActiveModel { name: Set("Rear Admiral Hopper".into()), ..Default::default() },
    /// )?;
    /// assert_eq!((grace.name.as_str(), created), ("Rear Admiral Hopper", false));
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn update_or_create<A>(
        &self,
        cond: impl IntoCondition,
        defaults: A,
    ) -> Result<(E::Model, bool)>
    where
        A: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send + Clone + 'static,
        E::Model: IntoActiveModel<A>,
    {
        blocking_twin("update_or_create", self.aupdate_or_create(cond, defaults))
    }

    /// Inserts every row of `actives` in as few statements as the backend's bind-parameter limit
    /// allows (PostgreSQL and MySQL 65,535, SQLite 32,766), all in one transaction, and returns
    /// how many were inserted (Django's `abulk_create`). An empty input runs no query.
    ///
    /// Rows should set the same fields: a field one row sets and another leaves unset is
    /// inserted as `NULL` for the latter (not its database default).
    ///
    /// # Errors
    ///
    /// [`Error::Integrity`] when a row is rejected; then no row of the call is kept.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use entity::user;
    /// use sea_orm::Set;
    ///
    /// let rows = (0..1_000).map(|i| user::ActiveModel {
    ///     name: Set(format!("user {i}")),
    ///     email: Set(format!("user{i}@example.com")),
    ///     ..Default::default()
    /// });
    /// assert_eq!(user::Entity::objects().abulk_create(rows).await?, 1_000);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn abulk_create<A>(
        &self,
        actives: impl IntoIterator<Item = A>,
    ) -> impl Future<Output = Result<u64>> + Send + 'static
    where
        A: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send + 'static,
        E::Model: IntoActiveModel<A>,
    {
        self.insert_many(actives, BulkCreate::new(), false)
            .map(|written| written.map(|(n, _)| n))
    }

    /// The one implementation of the bulk inserts: chunked under the bind limit, in one
    /// transaction, with `options`' conflict handling, returning the written rows when asked.
    #[track_caller]
    fn insert_many<A>(
        &self,
        actives: impl IntoIterator<Item = A>,
        options: BulkCreate<E>,
        returning: bool,
    ) -> impl Future<Output = Result<(u64, Vec<E::Model>)>> + Send + 'static
    where
        A: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send + 'static,
        E::Model: IntoActiveModel<A>,
    {
        let rows: Vec<A> = actives.into_iter().collect();
        let runner = self.writer();
        async move {
            let db = runner.db()?;
            let conflict = options.conflict(db.backend())?;
            if rows.is_empty() {
                return Ok((0, Vec::new()));
            }
            let used_columns = E::Column::iter()
                .filter(|col| rows.iter().any(|row| !row.get(*col).is_not_set()))
                .count()
                .max(1);
            // Boxed: the insert's future is large, and nested inline in a caller's it is
            // enough to overflow a debug build's stack.
            Box::pin(db.aatomic(runner.run(move |conn| async move {
                let per_batch = (bind_limit(conn.get_database_backend()) / used_columns).max(1);
                Ok(insert_rows(&conn, rows, per_batch, &conflict, returning).await?)
            })))
            .await
        }
    }

    /// [`abulk_create`](Self::abulk_create) with Django's conflict options: skip rows that
    /// collide with existing ones on a unique key ([`BulkCreate::ignore_conflicts`]), or update
    /// the existing rows from them ([`BulkCreate::update_conflicts`], an upsert). Still chunked
    /// under the bind limit, in one transaction. Returns rows written as the server counts them
    /// (MySQL counts an updated row twice, an unchanged one zero times).
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`] for contradictory or incomplete options (see [`BulkCreate`]);
    /// database errors.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use duetto::BulkCreate;
    /// use entity::user;
    /// use sea_orm::Set;
    ///
    /// let rows = ["ada@example.com", "new@example.com"].map(|email| user::ActiveModel {
    ///     name: Set("Renamed".into()),
    ///     email: Set(email.into()),
    ///     ..Default::default()
    /// });
    /// let upsert = BulkCreate::new().update_conflicts([user::Column::Email], [user::Column::Name]);
    /// user::Entity::objects().abulk_create_with(rows, upsert).await?;
    /// assert_eq!(user::Entity::objects().acount().await?, 4);
    /// let ada = user::Entity::objects().aget(user::Column::Email.eq("ada@example.com")).await?;
    /// assert_eq!(ada.name, "Renamed");
    /// # Ok(()) });
    /// # use duetto::sea_orm::ColumnTrait;
    /// ```
    #[track_caller]
    pub fn abulk_create_with<A>(
        &self,
        actives: impl IntoIterator<Item = A>,
        options: BulkCreate<E>,
    ) -> impl Future<Output = Result<u64>> + Send + 'static
    where
        A: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send + 'static,
        E::Model: IntoActiveModel<A>,
    {
        self.insert_many(actives, options, false)
            .map(|written| written.map(|(n, _)| n))
    }

    /// Blocking twin of [`abulk_create_with`](Self::abulk_create_with).
    ///
    /// # Errors
    ///
    /// As [`abulk_create_with`](Self::abulk_create_with), plus
    /// [`Error::SynchronousOnlyOperation`] in async code.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// use entity::user;
    /// use sea_orm::Set;
    /// let again = user::ActiveModel {
    ///     name: Set("Ada".into()),
    ///     email: Set("ada@example.com".into()),
    ///     ..Default::default()
    /// };
    /// let n = user::Entity::objects()
    ///     .bulk_create_with([again], duetto::BulkCreate::new().ignore_conflicts())?;
    /// assert_eq!(n, 0);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn bulk_create_with<A>(
        &self,
        actives: impl IntoIterator<Item = A>,
        options: BulkCreate<E>,
    ) -> Result<u64>
    where
        A: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send + 'static,
        E::Model: IntoActiveModel<A>,
    {
        blocking_twin("bulk_create_with", self.abulk_create_with(actives, options))
    }

    /// [`abulk_create_with`](Self::abulk_create_with), returning the rows written as the
    /// database has them (primary keys and defaults filled), through `RETURNING` (PostgreSQL,
    /// SQLite ≥ 3.35, MariaDB ≥ 10.5). Rows skipped by `ignore_conflicts` are not returned; rows
    /// updated by `update_conflicts` are (on PostgreSQL and SQLite).
    ///
    /// # Errors
    ///
    /// As [`abulk_create_with`](Self::abulk_create_with); MariaDB cannot return rows from an
    /// `update_conflicts` insert ([`Error::NotSupported`]).
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use entity::user;
    /// use sea_orm::Set;
    /// let created = user::Entity::objects()
    ///     .abulk_create_returning(
    ///         [user::ActiveModel {
    ///             name: Set("Barbara Liskov".into()),
    ///             email: Set("barbara@example.com".into()),
    ///             ..Default::default()
    ///         }],
    ///         duetto::BulkCreate::new(),
    ///     )
    ///     .await?;
    /// assert_eq!(created[0].id, 4);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn abulk_create_returning<A>(
        &self,
        actives: impl IntoIterator<Item = A>,
        options: BulkCreate<E>,
    ) -> impl Future<Output = Result<Vec<E::Model>>> + Send + 'static
    where
        A: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send + 'static,
        E::Model: IntoActiveModel<A>,
    {
        let mysql_upsert = options.update.is_some();
        let written = self.insert_many(actives, options, true);
        let db = self.writer().db();
        async move {
            if mysql_upsert && db?.backend() == DbBackend::MySql {
                return Err(Error::NotSupported {
                    operation: "bulk_create_returning",
                    reason: "MariaDB/MySQL cannot return rows from INSERT … ON DUPLICATE KEY \
                             UPDATE"
                        .into(),
                });
            }
            Ok(written.await?.1)
        }
    }

    /// Blocking twin of [`abulk_create_returning`](Self::abulk_create_returning).
    ///
    /// # Errors
    ///
    /// As [`abulk_create_returning`](Self::abulk_create_returning), plus
    /// [`Error::SynchronousOnlyOperation`] in async code.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// let none = entity::user::Entity::objects()
    ///     .bulk_create_returning(Vec::<entity::user::ActiveModel>::new(), duetto::BulkCreate::new())?;
    /// assert!(none.is_empty());
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn bulk_create_returning<A>(
        &self,
        actives: impl IntoIterator<Item = A>,
        options: BulkCreate<E>,
    ) -> Result<Vec<E::Model>>
    where
        A: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send + 'static,
        E::Model: IntoActiveModel<A>,
    {
        blocking_twin(
            "bulk_create_returning",
            self.abulk_create_returning(actives, options),
        )
    }

    /// Blocking twin of [`abulk_create`](Self::abulk_create).
    ///
    /// # Errors
    ///
    /// As [`abulk_create`](Self::abulk_create), plus [`Error::SynchronousOnlyOperation`] in async
    /// code.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// use entity::user;
    /// assert_eq!(user::Entity::objects().bulk_create(Vec::<user::ActiveModel>::new())?, 0);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn bulk_create<A>(&self, actives: impl IntoIterator<Item = A>) -> Result<u64>
    where
        A: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send + 'static,
        E::Model: IntoActiveModel<A>,
    {
        blocking_twin("bulk_create", self.abulk_create(actives))
    }

    /// Writes the given columns of every model back to its row, with one
    /// `UPDATE … SET col = CASE pk WHEN … END WHERE pk IN (…)` per batch, all in one transaction;
    /// returns the rows updated (Django's `abulk_update`).
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`] for entities with a composite primary key; database errors.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use entity::user;
    ///
    /// let users = user::Entity::objects();
    /// let mut all = users.alist().await?;
    /// for u in &mut all {
    ///     u.name = u.name.to_uppercase();
    /// }
    /// assert_eq!(users.abulk_update(all, [user::Column::Name]).await?, 3);
    /// assert_eq!(users.aget_pk(1).await?.name, "ADA LOVELACE");
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn abulk_update(
        &self,
        models: impl IntoIterator<Item = E::Model>,
        cols: impl IntoIterator<Item = E::Column>,
    ) -> impl Future<Output = Result<u64>> + Send + 'static {
        let models: Vec<E::Model> = models.into_iter().collect();
        let cols: Vec<E::Column> = cols.into_iter().collect();
        let runner = self.writer();
        let key = single_key::<E>("bulk_update");
        async move {
            let key = key?;
            if models.is_empty() || cols.is_empty() {
                return Ok(0);
            }
            let db = runner.db()?;
            db.aatomic(runner.run(move |conn| async move {
                let per_row = 2 * cols.len() + 1;
                let per_batch = (bind_limit(conn.get_database_backend()) / per_row)
                    .clamp(1, BULK_UPDATE_MAX_ROWS);
                let mut updated = 0;
                let mut models = models.into_iter().peekable();
                while models.peek().is_some() {
                    let batch: Vec<E::Model> = models.by_ref().take(per_batch).collect();
                    let mut update = E::update_many();
                    for col in &cols {
                        let case = batch
                            .iter()
                            .fold(CaseStatement::new(), |case, model| {
                                case.case(
                                    key.eq(model.get(key)),
                                    col.save_as(Expr::val(model.get(*col))),
                                )
                            })
                            .finally(Expr::col(*col));
                        update = update.col_expr(*col, SimpleExpr::Case(Box::new(case)));
                    }
                    let pks: Vec<_> = batch.iter().map(|model| model.get(key)).collect();
                    drop(batch);
                    updated += update
                        .filter(key.is_in(pks))
                        .exec(&conn)
                        .await?
                        .rows_affected;
                }
                Ok(updated)
            }))
            .await
        }
    }

    /// Blocking twin of [`abulk_update`](Self::abulk_update).
    ///
    /// # Errors
    ///
    /// As [`abulk_update`](Self::abulk_update), plus [`Error::SynchronousOnlyOperation`] in async
    /// code.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// use entity::user;
    /// let mut ada = user::Entity::objects().get_pk(1)?;
    /// ada.name = "Countess of Lovelace".into();
    /// assert_eq!(user::Entity::objects().bulk_update([ada], [user::Column::Name])?, 1);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn bulk_update(
        &self,
        models: impl IntoIterator<Item = E::Model>,
        cols: impl IntoIterator<Item = E::Column>,
    ) -> Result<u64> {
        blocking_twin("bulk_update", self.abulk_update(models, cols))
    }

    /// The condition selecting this queryset's rows in a single-table `UPDATE`/`DELETE`.
    ///
    /// Plain querysets use their filters directly. Querysets built on joins select their primary
    /// keys in a subquery, wrapped once more because MySQL refuses a subquery on the table it
    /// is updating unless it is materialised.
    fn write_condition(&self, operation: &'static str) -> Result<Condition> {
        if self.is_sliced() {
            return Err(Error::NotSupported {
                operation,
                reason: "cannot update or delete once a slice (limit/offset) has been taken".into(),
            });
        }
        if !self.joined {
            return Ok(self.cond.clone());
        }
        let key = single_key::<E>(operation)?;
        let inner = self
            .filtered()
            .select_only()
            .column_as(key, "duetto_pk")
            .into_query();
        let outer = Query::select()
            .column(Alias::new("duetto_pk"))
            .from_subquery(inner, Alias::new("duetto_keys"))
            .to_owned();
        Ok(Condition::all().add(Expr::col((E::default(), key)).in_subquery(outer)))
    }

    /// Sets `col = expr` on every matching row and returns how many rows matched (Django's
    /// `aupdate`). Use `Expr` for values computed in SQL: Django's `F("x") + 1` is
    /// `Expr::col(Column::X).add(1)` (with `sea_orm::sea_query::ExprTrait` in scope).
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`] on a sliced queryset; [`Error::Integrity`] on a constraint
    /// violation.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use entity::user;
    /// use sea_orm::sea_query::Expr;
    /// use sea_orm::ColumnTrait;
    ///
    /// let renamed = user::Entity::objects()
    ///     .filter(user::Column::Id.lte(2))
    ///     .aupdate([(user::Column::Name, Expr::value("anonymous"))])
    ///     .await?;
    /// assert_eq!(renamed, 2);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn aupdate(
        &self,
        values: impl IntoIterator<Item = (E::Column, SimpleExpr)>,
    ) -> impl Future<Output = Result<u64>> + Send + 'static {
        let values: Vec<(E::Column, SimpleExpr)> = values.into_iter().collect();
        let cond = self.write_condition("update");
        let runner = self.runner();
        let nothing = self.nothing;
        async move {
            let cond = cond?;
            if nothing {
                return Ok(0);
            }
            if values.is_empty() {
                return Ok(0);
            }
            runner
                .run(move |conn| async move {
                    let update = values
                        .into_iter()
                        .fold(E::update_many(), |update, (col, expr)| {
                            update.col_expr(col, expr)
                        });
                    Ok(update.filter(cond).exec(&conn).await?.rows_affected)
                })
                .await
        }
    }

    /// Blocking twin of [`aupdate`](Self::aupdate).
    ///
    /// # Errors
    ///
    /// As [`aupdate`](Self::aupdate), plus [`Error::SynchronousOnlyOperation`] in async code.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// use entity::user;
    /// use sea_orm::sea_query::Expr;
    /// let n = user::Entity::objects().update([(user::Column::Name, Expr::value("x"))])?;
    /// assert_eq!(n, 3);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn update(&self, values: impl IntoIterator<Item = (E::Column, SimpleExpr)>) -> Result<u64> {
        blocking_twin("update", self.aupdate(values))
    }

    /// Deletes every matching row and returns how many were deleted (Django's `adelete`; related
    /// rows follow the schema's `ON DELETE` rules).
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`] on a sliced queryset; [`Error::Integrity`] when a foreign key
    /// forbids it.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use entity::user;
    /// use sea_orm::ColumnTrait;
    /// let gone = user::Entity::objects().filter(user::Column::Id.gt(1)).adelete().await?;
    /// assert_eq!(gone, 2);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn adelete(&self) -> impl Future<Output = Result<u64>> + Send + 'static {
        let cond = self.write_condition("delete");
        let runner = self.runner();
        let nothing = self.nothing;
        async move {
            let cond = cond?;
            if nothing {
                return Ok(0);
            }
            runner
                .run(move |conn| async move {
                    Ok(E::delete_many()
                        .filter(cond)
                        .exec(&conn)
                        .await?
                        .rows_affected)
                })
                .await
        }
    }

    /// Blocking twin of [`adelete`](Self::adelete).
    ///
    /// # Errors
    ///
    /// As [`adelete`](Self::adelete), plus [`Error::SynchronousOnlyOperation`] in async code.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// assert_eq!(entity::user::Entity::objects().delete()?, 3);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn delete(&self) -> Result<u64> {
        blocking_twin("delete", self.adelete())
    }
}
