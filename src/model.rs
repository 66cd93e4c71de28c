//! The paired API on single rows: `asave`/`save` on active models; `adelete`/`delete`,
//! `arefresh_from_db`/`refresh_from_db` and `related` on models.

use std::future::Future;

use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, EntityTrait, IntoActiveModel, Iterable, ModelTrait,
    PrimaryKeyToColumn, Related,
};

use crate::bridge::blocking_twin;
use crate::executor::Using;
use crate::query::{pk_condition, Objects, QuerySet};
use crate::Result;

/// `asave`/`save` for every SeaORM active model (Django's `Model.asave()` / `save()`).
///
/// Note: SeaORM's own `ActiveModelTrait::save` (async) has the blocking twin's name; with both
/// traits imported, call `ActiveModelExt::save(model)` to pick this one.
pub trait ActiveModelExt: ActiveModelTrait + ActiveModelBehavior + Send + Sized + 'static {
    /// Inserts the row when its primary key is unset, otherwise updates the fields that are
    /// `Set`; returns the stored row. Runs on the default database.
    ///
    /// # Errors
    ///
    /// [`Error::Integrity`](crate::Error::Integrity) on a constraint violation; database errors.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use entity::user;
    /// use sea_orm::Set;
    ///
    /// let mut linus: user::ActiveModel = user::ActiveModel {
    ///     name: Set("Linus".into()),
    ///     email: Set("linus@example.com".into()),
    ///     ..Default::default()
    /// };
    /// let stored = linus.asave().await?; // INSERT
    /// let mut again: user::ActiveModel = stored.into();
    /// again.name = Set("Linus T.".into());
    /// assert_eq!(again.asave().await?.name, "Linus T."); // UPDATE
    /// # Ok(()) });
    /// ```
    #[track_caller]
    fn asave(
        self,
    ) -> impl Future<Output = Result<<Self::Entity as EntityTrait>::Model>> + Send + 'static
    where
        <Self::Entity as EntityTrait>::Model: IntoActiveModel<Self>,
    {
        self.asave_using(Using::Default)
    }

    /// Blocking twin of [`asave`](Self::asave).
    ///
    /// # Errors
    ///
    /// As [`asave`](Self::asave), plus [`Error::SynchronousOnlyOperation`](crate::Error::SynchronousOnlyOperation)
    /// in async code.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// use entity::user;
    /// use sea_orm::Set;
    /// let row = user::ActiveModel {
    ///     name: Set("Linus".into()),
    ///     email: Set("linus@example.com".into()),
    ///     ..Default::default()
    /// };
    /// assert_eq!(ActiveModelExt::save(row)?.id, 4);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    fn save(self) -> Result<<Self::Entity as EntityTrait>::Model>
    where
        <Self::Entity as EntityTrait>::Model: IntoActiveModel<Self>,
    {
        blocking_twin("save", self.asave())
    }

    /// [`asave`](Self::asave) on the given database.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use entity::user;
    /// use sea_orm::Set;
    /// let db = duetto::default_db()?;
    /// let row = user::ActiveModel { name: Set("L".into()), email: Set("l@x.org".into()), ..Default::default() };
    /// row.asave_using(&db).await?;
    /// # Ok(()) });
    /// ```
    #[track_caller]
    fn asave_using(
        self,
        db: impl Into<Using>,
    ) -> impl Future<Output = Result<<Self::Entity as EntityTrait>::Model>> + Send + 'static
    where
        <Self::Entity as EntityTrait>::Model: IntoActiveModel<Self>,
    {
        let using = db.into();
        async move {
            let is_new = <Self::Entity as EntityTrait>::PrimaryKey::iter()
                .all(|key| self.get(key.into_column()).is_not_set());
            <Self::Entity as Objects>::objects()
                .using(using)
                .runner()
                .run(move |conn| async move {
                    Ok(if is_new {
                        self.insert(&conn).await?
                    } else {
                        self.update(&conn).await?
                    })
                })
                .await
        }
    }

    /// Blocking twin of [`asave_using`](Self::asave_using).
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// use entity::user;
    /// use sea_orm::Set;
    /// let row = user::ActiveModel { name: Set("L".into()), email: Set("l@x.org".into()), ..Default::default() };
    /// row.save_using("default")?;
    /// # Ok(()) });
    /// ```
    #[track_caller]
    fn save_using(self, db: impl Into<Using>) -> Result<<Self::Entity as EntityTrait>::Model>
    where
        <Self::Entity as EntityTrait>::Model: IntoActiveModel<Self>,
    {
        blocking_twin("save_using", self.asave_using(db))
    }
}

impl<A: ActiveModelTrait + ActiveModelBehavior + Send + 'static> ActiveModelExt for A {}

/// `adelete`/`delete`, `arefresh_from_db`/`refresh_from_db` and `related` for every SeaORM model.
///
/// Note: SeaORM's own `ModelTrait::delete` (async) has the blocking twin's name; with both traits
/// imported, call `ModelExt::delete(&model)` to pick this one.
pub trait ModelExt: ModelTrait + Send + Sync + Sized + 'static {
    /// Deletes this row (by primary key) from the default database; returns rows deleted (0 or 1).
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// let ada = entity::user::Entity::objects().aget_pk(1).await?;
    /// assert_eq!(ada.adelete().await?, 1);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    fn adelete(&self) -> impl Future<Output = Result<u64>> + Send + 'static {
        self.adelete_using(Using::Default)
    }

    /// Blocking twin of [`adelete`](Self::adelete).
    ///
    /// # Errors
    ///
    /// [`Error::SynchronousOnlyOperation`](crate::Error::SynchronousOnlyOperation) in async code;
    /// [`Error::Integrity`](crate::Error::Integrity) when a foreign key forbids it.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// let ada = entity::user::Entity::objects().get_pk(1)?;
    /// assert_eq!(ModelExt::delete(&ada)?, 1);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    fn delete(&self) -> Result<u64> {
        blocking_twin("delete", self.adelete())
    }

    /// [`adelete`](Self::adelete) on the given database.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// let ada = entity::user::Entity::objects().aget_pk(1).await?;
    /// ada.adelete_using("default").await?;
    /// # Ok(()) });
    /// ```
    #[track_caller]
    fn adelete_using(
        &self,
        db: impl Into<Using>,
    ) -> impl Future<Output = Result<u64>> + Send + 'static {
        Self::Entity::objects()
            .using(db)
            .filter(pk_condition::<Self::Entity>(self.get_primary_key_value()))
            .adelete()
    }

    /// Blocking twin of [`adelete_using`](Self::adelete_using).
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// let ada = entity::user::Entity::objects().get_pk(1)?;
    /// ada.delete_using("default")?;
    /// # Ok(()) });
    /// ```
    #[track_caller]
    fn delete_using(&self, db: impl Into<Using>) -> Result<u64> {
        blocking_twin("delete_using", self.adelete_using(db))
    }

    /// Reloads every field of this row from the default database (Django's
    /// `arefresh_from_db`).
    ///
    /// # Errors
    ///
    /// [`Error::DoesNotExist`](crate::Error::DoesNotExist) if the row has been deleted.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// let mut ada = entity::user::Entity::objects().aget_pk(1).await?;
    /// ada.name = "scribbled".into();
    /// ada.arefresh_from_db().await?;
    /// assert_eq!(ada.name, "Ada Lovelace");
    /// # Ok(()) });
    /// ```
    #[track_caller]
    fn arefresh_from_db(&mut self) -> impl Future<Output = Result<()>> + Send + '_
    where
        Self::Entity: EntityTrait<Model = Self>,
    {
        self.arefresh_from_db_using(Using::Default)
    }

    /// Blocking twin of [`arefresh_from_db`](Self::arefresh_from_db).
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// let mut ada = entity::user::Entity::objects().get_pk(1)?;
    /// ada.refresh_from_db()?;
    /// # Ok(()) });
    /// ```
    #[track_caller]
    fn refresh_from_db(&mut self) -> Result<()>
    where
        Self::Entity: EntityTrait<Model = Self>,
    {
        self.refresh_from_db_using(Using::Default)
    }

    /// [`arefresh_from_db`](Self::arefresh_from_db) from the given database.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// let mut ada = entity::user::Entity::objects().aget_pk(1).await?;
    /// ada.arefresh_from_db_using("default").await?;
    /// # Ok(()) });
    /// ```
    #[track_caller]
    fn arefresh_from_db_using(
        &mut self,
        db: impl Into<Using>,
    ) -> impl Future<Output = Result<()>> + Send + '_
    where
        Self::Entity: EntityTrait<Model = Self>,
    {
        let fetch = fresh_copy(self, db.into());
        async move {
            *self = fetch.await?;
            Ok(())
        }
    }

    /// Blocking twin of [`arefresh_from_db_using`](Self::arefresh_from_db_using).
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// let mut ada = entity::user::Entity::objects().get_pk(1)?;
    /// ada.refresh_from_db_using("default")?;
    /// # Ok(()) });
    /// ```
    #[track_caller]
    fn refresh_from_db_using(&mut self, db: impl Into<Using>) -> Result<()>
    where
        Self::Entity: EntityTrait<Model = Self>,
    {
        *self = blocking_twin("refresh_from_db", fresh_copy(self, db.into()))?;
        Ok(())
    }

    /// The rows of `R` related to this one through a SeaORM relation (Django's `user.post_set`),
    /// as a queryset on the default database.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// let ada = entity::user::Entity::objects().aget_pk(1).await?;
    /// let posts = ada.related::<entity::post::Entity>();
    /// # let _ = posts;
    /// # Ok(()) });
    /// ```
    #[track_caller]
    fn related<R>(&self) -> QuerySet<R>
    where
        R: EntityTrait,
        Self::Entity: Related<R>,
    {
        QuerySet::from_select(self.find_related(R::default()))
            .loading(relation_hint::<Self::Entity, R>)
    }
}

impl<M: ModelTrait + Send + Sync + 'static> ModelExt for M {}

/// What an N+1 report suggests for `related::<To>()` called row by row on `From` rows.
fn relation_hint<From, To>() -> String
where
    From: EntityTrait + Related<To>,
    To: EntityTrait,
{
    let from = From::default().table_name().to_owned();
    let to = To::default().table_name().to_owned();
    let def = <From as Related<To>>::to();
    let key = def
        .to_col
        .into_iter()
        .map(|col| col.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let through = match <From as Related<To>>::via() {
        Some(via) => format!(" through `{}`", via.to_tbl.sea_orm_table()),
        None => String::new(),
    };
    let loader = match (def.rel_type, <From as Related<To>>::via()) {
        (sea_orm::RelationType::HasOne, None) => "one",
        _ => "many",
    };
    format!(
        "`related::<{to}>()` runs once per `{from}` row{through}: prefetch it for all of them in \
         one query (`.prefetch(duetto::prefetch::{loader}::<{to}::Entity>())` on the `{from}` \
         queryset, or `duetto::prefetch::aprefetch_related_objects`; key `{to}.{key}`)"
    )
}

fn fresh_copy<M: ModelTrait + Send + Sync + 'static>(
    model: &M,
    using: Using,
) -> impl Future<Output = Result<M>> + Send + 'static
where
    M::Entity: EntityTrait<Model = M>,
{
    <M::Entity as Objects>::objects()
        .using(using)
        .aget(pk_condition::<M::Entity>(model.get_primary_key_value()))
}
