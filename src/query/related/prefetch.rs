//! Batched loading (Django's `prefetch_related`, SQLAlchemy's `selectinload`): a relation of many
//! parents loaded in one query per level, `WHERE key IN (…)`, and grouped back onto the parents.
//!
//! The per-level query and the grouping are SeaORM's own loader (`LoaderTrait::load_many` /
//! `load_one`, which also follows a many-to-many relation through its junction table in one
//! joined query). duetto adds what a list page needs around it: the key list split under each
//! backend's bind limit, nesting (`many(..).then(..)`), several relations per level (tuples),
//! both voices, and the caller's scope (a prefetch inside `aatomic` runs on the transaction).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sea_orm::{ConnectionTrait, EntityTrait, LoaderTrait, ModelTrait, QueryTrait, Related, Select};

use crate::bridge::blocking_twin;
use crate::executor::{Conn, Runner, Using};
use crate::query::write::bind_limit;
use crate::query::QuerySet;
use crate::{Error, Result};

/// Where a prefetch runs: the connection (or scope) its statements go to. Opaque: duetto makes
/// one for each [`Prefetch::load`] it calls (see [`Prefetch`] for writing a loader by hand).
#[derive(Clone)]
pub struct LoadContext {
    conn: Conn,
}

impl std::fmt::Debug for LoadContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadContext").finish_non_exhaustive()
    }
}

/// The future a [`Prefetch::load`] returns: one output per parent.
pub type LoadFuture<'a, T> = Pin<Box<dyn Future<Output = Result<Vec<T>>> + Send + 'a>>;

/// Something to load for each of a list of parent rows `P`: a relation ([`many`], [`one`]), a
/// relation and what to load for its rows in turn ([`Many::then`], [`One::then`]), or several of
/// these at once (a tuple of up to four loaders, loaded concurrently outside a transaction).
///
/// ```
/// use duetto::prefetch::{many, one, Prefetch};
/// use entity::{comment, post, user};
///
/// // Anything built from `many`, `one`, `then` and tuples is a loader for posts:
/// fn page_loader() -> impl Prefetch<post::Model> {
///     (one::<user::Entity>(), many::<comment::Entity>().then(one::<user::Entity>()))
/// }
/// # let _ = page_loader();
/// ```
///
/// [`load`](Self::load) returns one `Output` per parent, in parent order, running one statement
/// per relation level (more only for a parent list longer than the backend's bind limit allows
/// in one statement). The related rows are read where the parents were: on the parent query's
/// database and in the caller's scope (a child queryset's own `using` is not consulted).
pub trait Prefetch<P>: Send + Sync + 'static {
    /// What each parent gets: `Vec<R::Model>` for [`many`], `Option<R::Model>` for [`one`].
    type Output: Send + 'static;

    /// Loads `Output` for every parent, in parent order.
    fn load<'a>(&'a self, parents: &'a [P], cx: &'a LoadContext) -> LoadFuture<'a, Self::Output>;
}

/// The rows of `R` related to each parent, as a `Vec` (a one-to-many or many-to-many relation;
/// Django's `prefetch_related("comments")`). Made by [`many`] or [`many_of`]:
///
/// ```
/// let tags: duetto::prefetch::Many<entity::tag::Entity> = duetto::prefetch::many();
/// # let _ = tags;
/// ```
#[derive(Debug)]
pub struct Many<R: EntityTrait> {
    children: QuerySet<R>,
}

/// The row of `R` each parent points to, if any (a many-to-one or one-to-one relation). Made by
/// [`one`] or [`one_of`]:
///
/// ```
/// let author: duetto::prefetch::One<entity::user::Entity> = duetto::prefetch::one();
/// # let _ = author;
/// ```
#[derive(Debug)]
pub struct One<R: EntityTrait> {
    children: QuerySet<R>,
}

/// A loader followed by another one on the rows it loaded (posts → comments → their authors).
/// Made by [`Many::then`] / [`One::then`]:
///
/// ```
/// use duetto::prefetch::{many, one};
/// let comments_and_authors = many::<entity::comment::Entity>().then(one::<entity::user::Entity>());
/// # let _ = comments_and_authors;
/// ```
#[derive(Debug)]
pub struct Then<First, Next> {
    first: First,
    next: Next,
}

/// Loads every related `R` row for each parent (one-to-many or many-to-many), in `R`'s primary
/// key order.
///
/// ```
/// use duetto::prefetch::many;
/// let comments = many::<entity::comment::Entity>();
/// # let _ = comments;
/// ```
pub fn many<R: EntityTrait>() -> Many<R> {
    many_of(<R as crate::Objects>::objects())
}

/// Loads, for each parent, the related `R` rows that `children` selects, in its order (Django's
/// `Prefetch("comments", queryset=…)`). `children` may filter and order but not slice: a
/// `limit`/`offset` would apply to all parents together, so [`Prefetch::load`] refuses it with
/// [`Error::NotSupported`].
///
/// ```
/// use duetto::prelude::*;
/// use duetto::prefetch::many_of;
/// use duetto::sea_orm::ColumnTrait;
/// use entity::comment;
///
/// let recent_first = many_of(
///     comment::Entity::objects()
///         .exclude(comment::Column::Body.eq(""))
///         .order_by_desc(comment::Column::CreatedAt),
/// );
/// # let _ = recent_first;
/// ```
pub fn many_of<R: EntityTrait>(children: QuerySet<R>) -> Many<R> {
    Many { children }
}

/// Loads the `R` row each parent points to (many-to-one or one-to-one), `None` where there is
/// none.
///
/// ```
/// use duetto::prefetch::one;
/// let author = one::<entity::user::Entity>();
/// # let _ = author;
/// ```
pub fn one<R: EntityTrait>() -> One<R> {
    one_of(<R as crate::Objects>::objects())
}

/// [`one`], reading the related rows through `children` (e.g. to restrict them with a filter:
/// parents whose row it excludes get `None`).
///
/// ```
/// use duetto::prelude::*;
/// use duetto::prefetch::one_of;
/// use duetto::sea_orm::ColumnTrait;
/// let active_author = one_of(entity::user::Entity::objects().exclude(entity::user::Column::Email.eq("")));
/// # let _ = active_author;
/// ```
pub fn one_of<R: EntityTrait>(children: QuerySet<R>) -> One<R> {
    One { children }
}

impl<R: EntityTrait> Many<R> {
    /// Then loads `next` for the rows this loaded: `Output` becomes `Vec<(R::Model,
    /// N::Output)>`.
    ///
    /// ```
    /// use duetto::prefetch::{many, one};
    /// use entity::{comment, user};
    /// // Each post's comments, each with its author.
    /// let comments_with_authors = many::<comment::Entity>().then(one::<user::Entity>());
    /// # let _ = comments_with_authors;
    /// ```
    pub fn then<N>(self, next: N) -> Then<Self, N> {
        Then { first: self, next }
    }
}

impl<R: EntityTrait> One<R> {
    /// Then loads `next` for the rows this loaded: `Output` becomes `Option<(R::Model,
    /// N::Output)>`.
    ///
    /// ```
    /// use duetto::prefetch::{many, one};
    /// use entity::{post, user};
    /// // Each comment's post, with that post's author.
    /// let post_and_author = one::<post::Entity>().then(one::<user::Entity>());
    /// # let _ = post_and_author;
    /// ```
    pub fn then<N>(self, next: N) -> Then<Self, N> {
        Then { first: self, next }
    }
}

/// The child query of a loader: its filters and order, never a slice.
fn child_select<R: EntityTrait>(children: &QuerySet<R>) -> Result<Select<R>> {
    if children.is_sliced() {
        return Err(Error::NotSupported {
            operation: "prefetch",
            reason: "a prefetch queryset cannot be sliced (limit/offset would apply to all \
                     parents together)"
                .into(),
        });
    }
    Ok(children.clone().ordered_by_default().build())
}

/// How many parents fit in one statement: the bind limit, less what the child query binds
/// itself, over the key's width.
fn parents_per_statement<P, R>(backend: sea_orm::DbBackend, select: &Select<R>) -> usize
where
    P: ModelTrait,
    P::Entity: Related<R>,
    R: EntityTrait,
{
    let own = select
        .build(backend)
        .values
        .map_or(0, |values| values.0.len());
    let key = match <P::Entity as Related<R>>::via() {
        Some(via) => via.from_col.arity(),
        None => <P::Entity as Related<R>>::to().from_col.arity(),
    };
    (bind_limit(backend).saturating_sub(own) / key.max(1)).max(1)
}

/// Runs `load` (one SeaORM loader call) on as many parents at a time as one statement can bind,
/// and concatenates the outputs.
async fn in_chunks<P, R, T>(
    children: &QuerySet<R>,
    parents: &[P],
    cx: &LoadContext,
    load: impl AsyncFn(&[P], Select<R>, &Conn) -> std::result::Result<Vec<T>, sea_orm::DbErr>,
) -> Result<Vec<T>>
where
    P: ModelTrait,
    P::Entity: Related<R>,
    R: EntityTrait,
{
    let select = child_select(children)?;
    let per = parents_per_statement::<P, R>(cx.conn.get_database_backend(), &select);
    let mut out = Vec::with_capacity(parents.len());
    for chunk in parents.chunks(per) {
        out.extend(load(chunk, select.clone(), &cx.conn).await?);
    }
    Ok(out)
}

impl<P, R> Prefetch<P> for Many<R>
where
    P: ModelTrait + Sync,
    P::Entity: Related<R>,
    R: EntityTrait,
    R::Model: Send + Sync,
{
    type Output = Vec<R::Model>;

    fn load<'a>(&'a self, parents: &'a [P], cx: &'a LoadContext) -> LoadFuture<'a, Self::Output> {
        Box::pin(in_chunks::<P, R, _>(
            &self.children,
            parents,
            cx,
            async |chunk, select, conn| chunk.load_many(select, conn).await,
        ))
    }
}

impl<P, R> Prefetch<P> for One<R>
where
    P: ModelTrait + Sync,
    P::Entity: Related<R>,
    R: EntityTrait,
    R::Model: Send + Sync,
{
    type Output = Option<R::Model>;

    fn load<'a>(&'a self, parents: &'a [P], cx: &'a LoadContext) -> LoadFuture<'a, Self::Output> {
        Box::pin(in_chunks::<P, R, _>(
            &self.children,
            parents,
            cx,
            async |chunk, select, conn| chunk.load_one(select, conn).await,
        ))
    }
}

impl<P, R, N> Prefetch<P> for Then<Many<R>, N>
where
    Many<R>: Prefetch<P, Output = Vec<R::Model>>,
    R: EntityTrait,
    R::Model: Send + Sync,
    N: Prefetch<R::Model>,
    P: Sync,
{
    type Output = Vec<(R::Model, N::Output)>;

    fn load<'a>(&'a self, parents: &'a [P], cx: &'a LoadContext) -> LoadFuture<'a, Self::Output> {
        Box::pin(async move {
            let groups = self.first.load(parents, cx).await?;
            let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
            let rows: Vec<R::Model> = groups.into_iter().flatten().collect();
            let loaded = self.next.load(&rows, cx).await?;
            let mut pairs = rows.into_iter().zip(loaded);
            Ok(sizes
                .into_iter()
                .map(|n| pairs.by_ref().take(n).collect())
                .collect())
        })
    }
}

impl<P, R, N> Prefetch<P> for Then<One<R>, N>
where
    One<R>: Prefetch<P, Output = Option<R::Model>>,
    R: EntityTrait,
    R::Model: Send + Sync,
    N: Prefetch<R::Model>,
    P: Sync,
{
    type Output = Option<(R::Model, N::Output)>;

    fn load<'a>(&'a self, parents: &'a [P], cx: &'a LoadContext) -> LoadFuture<'a, Self::Output> {
        Box::pin(async move {
            let found = self.first.load(parents, cx).await?;
            let present: Vec<bool> = found.iter().map(Option::is_some).collect();
            let rows: Vec<R::Model> = found.into_iter().flatten().collect();
            let loaded = self.next.load(&rows, cx).await?;
            let mut pairs = rows.into_iter().zip(loaded);
            Ok(present
                .into_iter()
                .map(|some| if some { pairs.next() } else { None })
                .collect())
        })
    }
}

macro_rules! tuple_prefetch {
    ($($name:ident $out:ident),+) => {
        impl<P, $($name),+> Prefetch<P> for ($($name,)+)
        where
            P: Sync,
            $($name: Prefetch<P>,)+
        {
            type Output = ($($name::Output,)+);

            #[allow(non_snake_case)]
            fn load<'a>(&'a self, parents: &'a [P], cx: &'a LoadContext) -> LoadFuture<'a, Self::Output> {
                let ($($name,)+) = self;
                Box::pin(async move {
                    let ($($out,)+) = futures_util::try_join!($($name.load(parents, cx)),+)?;
                    let mut out = Vec::with_capacity(parents.len());
                    $(let mut $out = $out.into_iter();)+
                    for _ in 0..parents.len() {
                        out.push(($($out.next().expect("one per parent"),)+));
                    }
                    Ok(out)
                })
            }
        }
    };
}

tuple_prefetch!(A a);
tuple_prefetch!(A a, B b);
tuple_prefetch!(A a, B b, C c);
tuple_prefetch!(A a, B b, C c, D d);

/// A queryset whose rows come with what a [`Prefetch`] loads for them (Django's
/// `prefetch_related`): one statement for the rows, then one per relation level. Rows are
/// `(E::Model, L::Output)`. Get one with [`QuerySet::prefetch`].
///
/// ```
/// # duetto::doc_db::with_users(|| async {
/// use duetto::prelude::*;
/// use duetto::prefetch::{many, one};
/// use entity::{comment, post, user};
///
/// // Posts, each with its author and its comments with their authors: 4 statements in all,
/// // however many posts.
/// let page = post::Entity::objects()
///     .order_by_asc(post::Column::Id)
///     .limit(20)
///     .prefetch((one::<user::Entity>(), many::<comment::Entity>().then(one::<user::Entity>())))
///     .alist()
///     .await?;
/// for (post, (author, comments)) in &page {
///     assert_eq!(author.as_ref().unwrap().id, post.user_id);
///     for (comment, commenter) in comments {
///         assert_eq!(comment.post_id, post.id);
///         assert_eq!(commenter.as_ref().unwrap().id, comment.user_id);
///     }
/// }
/// # Ok(()) });
/// ```
#[derive(Debug)]
pub struct Prefetching<E: EntityTrait, L> {
    qs: QuerySet<E>,
    loader: Arc<L>,
}

impl<E: EntityTrait, L> Clone for Prefetching<E, L> {
    fn clone(&self) -> Self {
        Prefetching {
            qs: self.qs.clone(),
            loader: self.loader.clone(),
        }
    }
}

impl<E: EntityTrait> QuerySet<E> {
    /// This queryset with `loader`'s relations loaded for its rows, one statement per relation
    /// level (Django's `prefetch_related`): see [`Prefetching`].
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// use duetto::prefetch::many;
    /// use entity::{post, user};
    /// let authors = user::Entity::objects().prefetch(many::<post::Entity>()).list()?;
    /// for (user, posts) in &authors {
    ///     assert!(posts.iter().all(|p| p.user_id == user.id));
    /// }
    /// # Ok(()) });
    /// ```
    pub fn prefetch<L: Prefetch<E::Model>>(&self, loader: L) -> Prefetching<E, L> {
        Prefetching {
            qs: self.clone(),
            loader: Arc::new(loader),
        }
    }
}

impl<E, L> Prefetching<E, L>
where
    E: EntityTrait,
    E::Model: Send + Sync,
    L: Prefetch<E::Model>,
{
    /// The rows, each with what the loader loaded for it.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use duetto::prefetch::many;
    /// let rows = entity::post::Entity::objects()
    ///     .prefetch(many::<entity::tag::Entity>())
    ///     .alist()
    ///     .await?;
    /// assert!(rows.iter().any(|(_, tags)| !tags.is_empty()));
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn alist(
        &self,
    ) -> impl Future<Output = Result<Vec<(E::Model, L::Output)>>> + Send + 'static {
        let select = self.qs.build();
        let loader = self.loader.clone();
        self.qs.reader().run(move |conn| async move {
            let parents = select.all(&conn).await?;
            let cx = LoadContext { conn };
            let loaded = loader.load(&parents, &cx).await?;
            Ok(parents.into_iter().zip(loaded).collect())
        })
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
    /// use duetto::prefetch::one;
    /// let rows = entity::post::Entity::objects().prefetch(one::<entity::user::Entity>()).list()?;
    /// assert!(rows.iter().all(|(_, author)| author.is_some()));
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn list(&self) -> Result<Vec<(E::Model, L::Output)>> {
        blocking_twin("list", self.alist())
    }

    /// The first row (in this order, or by primary key) with what the loader loaded for it.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// use duetto::prefetch::many;
    /// let (ada, posts) = entity::user::Entity::objects()
    ///     .prefetch(many::<entity::post::Entity>())
    ///     .afirst()
    ///     .await?
    ///     .expect("a user");
    /// assert!(posts.iter().all(|p| p.user_id == ada.id));
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn afirst(
        &self,
    ) -> impl Future<Output = Result<Option<(E::Model, L::Output)>>> + Send + 'static {
        let mut qs = self.qs.clone().ordered_by_default();
        qs.limit = Some(1);
        Prefetching {
            qs,
            loader: self.loader.clone(),
        }
        .alist_owned()
    }

    fn alist_owned(
        self,
    ) -> impl Future<Output = Result<Option<(E::Model, L::Output)>>> + Send + 'static {
        let rows = self.alist();
        async move { Ok(rows.await?.into_iter().next()) }
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
    /// use duetto::prefetch::many;
    /// let first = entity::user::Entity::objects().prefetch(many::<entity::post::Entity>()).first()?;
    /// assert!(first.is_some());
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn first(&self) -> Result<Option<(E::Model, L::Output)>> {
        blocking_twin("first", self.afirst())
    }
}

/// Loads `loader`'s relations for models already in hand (Django's
/// `aprefetch_related_objects`): one output per model, in order, one statement per relation
/// level, on the default database (or the caller's scope on it).
///
/// ```
/// # duetto::doc_db::with_users(|| async {
/// use duetto::prelude::*;
/// use duetto::prefetch::many;
/// let users = entity::user::Entity::objects().alist().await?;
/// let posts = duetto::prefetch::aprefetch_related_objects(&users, many::<entity::post::Entity>()).await?;
/// assert_eq!(posts.len(), users.len());
/// # Ok(()) });
/// ```
#[track_caller]
pub fn aprefetch_related_objects<P, L>(
    parents: &[P],
    loader: L,
) -> impl Future<Output = Result<Vec<L::Output>>> + Send + 'static
where
    P: Clone + Send + Sync + 'static,
    L: Prefetch<P>,
{
    aprefetch_related_objects_using(Using::Default, parents, loader)
}

/// [`aprefetch_related_objects`] on the database `using` names.
///
/// ```
/// # duetto::doc_db::with_users(|| async {
/// use duetto::prelude::*;
/// use duetto::prefetch::{aprefetch_related_objects_using, one};
/// let posts = entity::post::Entity::objects().alist().await?;
/// let authors = aprefetch_related_objects_using("default", &posts, one::<entity::user::Entity>()).await?;
/// assert!(authors.iter().all(Option::is_some));
/// # Ok(()) });
/// ```
#[track_caller]
pub fn aprefetch_related_objects_using<P, L>(
    using: impl Into<Using>,
    parents: &[P],
    loader: L,
) -> impl Future<Output = Result<Vec<L::Output>>> + Send + 'static
where
    P: Clone + Send + Sync + 'static,
    L: Prefetch<P>,
{
    let parents = parents.to_vec();
    Runner::new(using.into(), false)
        .reading()
        .run(move |conn| async move {
            let cx = LoadContext { conn };
            loader.load(&parents, &cx).await
        })
}

/// Blocking twin of [`aprefetch_related_objects`].
///
/// # Errors
///
/// As [`aprefetch_related_objects`], plus [`Error::SynchronousOnlyOperation`] in async code.
///
/// ```
/// # duetto::doc_db::with_users_blocking(|| {
/// use duetto::prelude::*;
/// use duetto::prefetch::many;
/// let users = entity::user::Entity::objects().list()?;
/// let posts = duetto::prefetch::prefetch_related_objects(&users, many::<entity::post::Entity>())?;
/// assert_eq!(posts.len(), users.len());
/// # Ok(()) });
/// ```
#[track_caller]
pub fn prefetch_related_objects<P, L>(parents: &[P], loader: L) -> Result<Vec<L::Output>>
where
    P: Clone + Send + Sync + 'static,
    L: Prefetch<P>,
{
    blocking_twin(
        "prefetch_related_objects",
        aprefetch_related_objects(parents, loader),
    )
}
