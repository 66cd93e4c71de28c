//! `QuerySet<E>`: a lazy, cloneable description of a query on entity `E`, with Django's terminal
//! operations in two voices.
//!
//! Builders (`filter`, `exclude`, `order_by_*`, `limit`, `offset`, `distinct`, `using`) do no I/O.
//! Every terminal exists as an async method `aX` returning a `Send + 'static` future, and a
//! blocking twin `X` that is exactly `async_to_sync(self.aX(..))` behind the
//! [`check_sync_allowed`](crate::bridge::check_sync_allowed) guard.

pub(crate) mod annotate;
pub(crate) mod batch;
mod bulk_insert;
mod iterate;
mod paginate;
pub(crate) mod raw;
mod read;
pub(crate) mod related;
pub(crate) mod write;

use sea_orm::sea_query::{IntoCondition, LockBehavior, LockType, SimpleExpr};
use sea_orm::{
    Condition, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select,
};

pub use annotate::{Annotated, Grouped};
pub use iterate::{ModelIter, ModelStream};
pub use paginate::{CursorPage, Keyset, Page, Paginator};
pub(crate) use read::pk_condition;
pub use read::PrimaryKeyOf;
pub(crate) use related::related_match;
pub use related::{Also, Joins, SelectRelated, WithRelated};

pub(crate) use crate::executor::Runner;
use crate::executor::Using;
use crate::observe::RelationHint;

/// A lazy query on entity `E` (Django's `QuerySet`). Get one with [`Objects::objects`].
///
/// Cloning is cheap enough to do per request; builders take `self` and return a new queryset.
///
/// # Example
///
/// ```
/// use duetto::prelude::*;
/// use entity::user;
/// use sea_orm::ColumnTrait;
///
/// let adults = user::Entity::objects()
///     .filter(user::Column::Name.starts_with("A"))
///     .exclude(user::Column::Email.ends_with("@spam.example"))
///     .order_by_desc(user::Column::CreatedAt)
///     .limit(10);
/// // Nothing has run yet; `adults.list()` or `adults.alist().await` would.
/// # let _ = adults;
/// ```
#[derive(Debug)]
pub struct QuerySet<E: EntityTrait> {
    /// What rows are selected from: `E::find()`, or a SeaORM select with joins (`related`).
    base: Select<E>,
    /// Whether `base` may join other tables, so writes must select their keys in a subquery.
    joined: bool,
    /// Every `filter`/`exclude`, ANDed.
    cond: Condition,
    orders: Vec<(SimpleExpr, Order)>,
    limit: Option<u64>,
    offset: Option<u64>,
    distinct: bool,
    lock: Option<RowLock>,
    using: Using,
    /// The relation this queryset loads (from `related`), named in N+1 reports.
    relation: Option<RelationHint>,
    /// `none()`: reads return nothing and filtered writes change nothing, without a statement.
    nothing: bool,
    /// `select_for_update_of`: the tables `FOR UPDATE OF` names (PostgreSQL).
    lock_of: Vec<sea_orm::sea_query::TableRef>,
}

/// `SELECT … FOR UPDATE` and its variants.
#[derive(Debug, Clone, Copy)]
enum RowLock {
    Wait,
    NoWait,
    SkipLocked,
}

impl<E: EntityTrait> Clone for QuerySet<E> {
    fn clone(&self) -> Self {
        QuerySet {
            base: self.base.clone(),
            joined: self.joined,
            cond: self.cond.clone(),
            orders: self.orders.clone(),
            limit: self.limit,
            offset: self.offset,
            distinct: self.distinct,
            lock: self.lock,
            using: self.using.clone(),
            relation: self.relation,
            nothing: self.nothing,
            lock_of: self.lock_of.clone(),
        }
    }
}

/// `E::objects()` for every SeaORM entity: the entry point of the paired API.
///
/// ```
/// use duetto::prelude::*;
///
/// let everyone = entity::user::Entity::objects();
/// # let _ = everyone;
/// ```
pub trait Objects: EntityTrait {
    /// A queryset over every row of this entity, on the default database.
    fn objects() -> QuerySet<Self> {
        QuerySet {
            joined: false,
            ..QuerySet::from_select(Self::find())
        }
    }
}

impl<E: EntityTrait> Objects for E {}

impl<E: EntityTrait> QuerySet<E> {
    /// A queryset over the rows a SeaORM `Select` finds (joins and filters included). `update`
    /// and `delete` on it select the affected primary keys in a subquery, so joins are safe.
    ///
    /// ```
    /// use duetto::QuerySet;
    /// use sea_orm::EntityTrait;
    ///
    /// let qs = QuerySet::from_select(entity::post::Entity::find());
    /// # let _ = qs;
    /// ```
    pub fn from_select(select: Select<E>) -> Self {
        QuerySet {
            base: select,
            joined: true,
            cond: Condition::all(),
            orders: Vec::new(),
            limit: None,
            offset: None,
            distinct: false,
            lock: None,
            using: Using::Default,
            relation: None,
            nothing: false,
            lock_of: Vec::new(),
        }
    }

    /// Keeps rows matching `cond` (ANDed with earlier filters). Any SeaORM condition works;
    /// `Condition::any()` is Django's `Q(..) | Q(..)`.
    ///
    /// ```
    /// use duetto::prelude::*;
    /// use entity::order;
    /// use sea_orm::{ColumnTrait, Condition};
    ///
    /// let open = order::Entity::objects().filter(
    ///     Condition::any()
    ///         .add(order::Column::Status.eq("pending"))
    ///         .add(order::Column::Status.eq("paid")),
    /// );
    /// # let _ = open;
    /// ```
    pub fn filter(mut self, cond: impl IntoCondition) -> Self {
        self.cond = self.cond.add(cond.into_condition());
        self
    }

    /// Drops rows matching `cond` (Django's `exclude`): `AND NOT (cond)`.
    ///
    /// ```
    /// use duetto::prelude::*;
    /// use entity::notification;
    /// use sea_orm::ColumnTrait;
    ///
    /// let unread = notification::Entity::objects().exclude(notification::Column::Read.eq(true));
    /// # let _ = unread;
    /// ```
    pub fn exclude(mut self, cond: impl IntoCondition) -> Self {
        self.cond = self
            .cond
            .add(Condition::all().add(cond.into_condition()).not());
        self
    }

    /// Orders by `col` ascending, after any earlier ordering.
    ///
    /// ```
    /// use duetto::prelude::*;
    /// let by_name = entity::user::Entity::objects().order_by_asc(entity::user::Column::Name);
    /// # let _ = by_name;
    /// ```
    pub fn order_by_asc(mut self, col: impl sea_orm::IntoSimpleExpr) -> Self {
        self.orders.push((col.into_simple_expr(), Order::Asc));
        self
    }

    /// Orders by `col` descending, after any earlier ordering.
    ///
    /// ```
    /// use duetto::prelude::*;
    /// let newest = entity::user::Entity::objects().order_by_desc(entity::user::Column::CreatedAt);
    /// # let _ = newest;
    /// ```
    pub fn order_by_desc(mut self, col: impl sea_orm::IntoSimpleExpr) -> Self {
        self.orders.push((col.into_simple_expr(), Order::Desc));
        self
    }

    /// At most `n` rows (Django's `qs[:n]`).
    ///
    /// ```
    /// use duetto::prelude::*;
    /// let ten = entity::user::Entity::objects().limit(10);
    /// # let _ = ten;
    /// ```
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Skips the first `n` rows (Django's `qs[n:]`).
    ///
    /// ```
    /// use duetto::prelude::*;
    /// let page_two = entity::user::Entity::objects().offset(10).limit(10);
    /// # let _ = page_two;
    /// ```
    pub fn offset(mut self, n: u64) -> Self {
        self.offset = Some(n);
        self
    }

    /// Removes duplicate rows (`SELECT DISTINCT`).
    ///
    /// ```
    /// use duetto::prelude::*;
    /// let distinct = entity::user::Entity::objects().distinct();
    /// # let _ = distinct;
    /// ```
    pub fn distinct(mut self) -> Self {
        self.distinct = true;
        self
    }

    /// Locks the selected rows until the end of the enclosing transaction
    /// (`SELECT … FOR UPDATE`). Must run inside an [`aatomic`](crate::aatomic)/[`atomic`](crate::atomic)
    /// scope on PostgreSQL or MySQL: outside one the statement returns
    /// [`Error::Transaction`](crate::Error::Transaction), on SQLite
    /// [`Error::NotSupported`](crate::Error::NotSupported).
    ///
    /// ```
    /// use duetto::prelude::*;
    /// let locked = entity::order::Entity::objects().select_for_update();
    /// # let _ = locked;
    /// ```
    pub fn select_for_update(mut self) -> Self {
        self.lock = Some(RowLock::Wait);
        self
    }

    /// `SELECT … FOR UPDATE NOWAIT`: fails at once instead of waiting for a locked row.
    ///
    /// ```
    /// use duetto::prelude::*;
    /// let locked = entity::order::Entity::objects().select_for_update_nowait();
    /// # let _ = locked;
    /// ```
    pub fn select_for_update_nowait(mut self) -> Self {
        self.lock = Some(RowLock::NoWait);
        self
    }

    /// `SELECT … FOR UPDATE SKIP LOCKED`: leaves rows other transactions hold out of the result
    /// (a job queue's "take the next free row").
    ///
    /// ```
    /// use duetto::prelude::*;
    /// let free = entity::order::Entity::objects().select_for_update_skip_locked().limit(1);
    /// # let _ = free;
    /// ```
    pub fn select_for_update_skip_locked(mut self) -> Self {
        self.lock = Some(RowLock::SkipLocked);
        self
    }

    /// Locks only the rows of `table`'s entity (PostgreSQL's `SELECT … FOR UPDATE OF table`,
    /// Django's `select_for_update(of=…)`): with a join, the other tables' rows stay unlocked.
    /// Call it once per table; it implies [`select_for_update`](Self::select_for_update) unless
    /// a variant was chosen.
    ///
    /// PostgreSQL only: on MySQL/MariaDB and SQLite running such a queryset is an
    /// [`Error::NotSupported`](crate::Error::NotSupported).
    ///
    /// ```
    /// use duetto::prelude::*;
    /// use entity::{post, user};
    /// let only_posts = post::Entity::objects()
    ///     .filter_related::<user::Entity>(duetto::sea_orm::ColumnTrait::eq(&user::Column::Id, 1))
    ///     .select_for_update_of(post::Entity);
    /// # let _ = only_posts;
    /// ```
    pub fn select_for_update_of<T: EntityTrait>(mut self, table: T) -> Self {
        self.lock.get_or_insert(RowLock::Wait);
        self.lock_of.push(table.table_ref());
        self
    }

    /// An empty queryset (Django's `none()`): its reads return nothing (`[]`, `0`, `false`,
    /// [`DoesNotExist`](crate::Error::DoesNotExist)) and its `update`/`delete` change nothing, all
    /// without sending a statement. Creating through it (`acreate`, `aget_or_create`'s create)
    /// works as on any queryset. Any statement it must still build (`sql`, a batch) matches no row.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// let (n, captured) = duetto::observe::acapture_queries(
    ///     entity::user::Entity::objects().none().acount(),
    /// )
    /// .await;
    /// assert_eq!((n?, captured.len()), (0, 0));
    /// # Ok(()) });
    /// ```
    pub fn none(mut self) -> Self {
        self.nothing = true;
        self.cond = self.cond.add(sea_orm::sea_query::ExprTrait::eq(
            sea_orm::sea_query::Expr::val(1),
            0,
        ));
        self
    }

    /// The same rows in the opposite order (Django's `reverse()`): every ordering flipped, or
    /// primary key descending when the queryset has none.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// let last_first = entity::user::Entity::objects().reverse().alist().await?;
    /// assert_eq!(last_first[0].id, 3);
    /// # Ok(()) });
    /// ```
    pub fn reverse(self) -> Self {
        let mut qs = self.ordered_by_default();
        for (_, order) in &mut qs.orders {
            *order = match order {
                Order::Asc => Order::Desc,
                _ => Order::Asc,
            };
        }
        qs
    }

    /// Runs on `db`, or on the database registered under an alias (Django's `using`).
    ///
    /// ```
    /// use duetto::prelude::*;
    ///
    /// let db = Db::connect_blocking("sqlite::memory:")?;
    /// let on_db = entity::user::Entity::objects().using(&db);
    /// let on_replica = entity::user::Entity::objects().using("replica");
    /// # let _ = (on_db, on_replica);
    /// # Ok::<(), duetto::Error>(())
    /// ```
    pub fn using(mut self, db: impl Into<Using>) -> Self {
        self.using = db.into();
        self
    }

    /// The SQL that [`alist`](Self::alist) and [`batch_list`](Self::batch_list) send for this
    /// queryset on `backend`, with placeholders where the values go: for logs, `EXPLAIN`, and
    /// [`ConnectOptions::warm_up`](crate::ConnectOptions::warm_up) (via
    /// [`statement`](Self::statement)).
    ///
    /// ```
    /// use duetto::prelude::*;
    /// use entity::user;
    /// use sea_orm::ColumnTrait;
    ///
    /// let sql = user::Entity::objects().filter(user::Column::Id.eq(1)).sql(duetto::Backend::Postgres);
    /// assert_eq!(
    ///     sql,
    ///     r#"SELECT "user"."id", "user"."name", "user"."email", "user"."created_at" FROM "user" WHERE "user"."id" = $1"#
    /// );
    /// ```
    pub fn sql(&self, backend: crate::Backend) -> String {
        sea_orm::QueryTrait::build(&self.build(), backend).sql
    }

    /// The statement (SQL and values) that [`alist`](Self::alist) sends for this queryset on
    /// `backend`: to log or replay it, or to warm connections with
    /// [`ConnectOptions::warm_up`](crate::ConnectOptions::warm_up).
    ///
    /// ```
    /// use duetto::prelude::*;
    /// use entity::user;
    /// use sea_orm::ColumnTrait;
    ///
    /// let stmt = user::Entity::objects()
    ///     .filter(user::Column::Id.eq(7))
    ///     .statement(duetto::Backend::Sqlite);
    /// assert!(stmt.sql.ends_with(r#"WHERE "user"."id" = ?"#));
    /// assert_eq!(stmt.values.map(|v| v.0.len()), Some(1));
    /// ```
    pub fn statement(&self, backend: crate::Backend) -> sea_orm::Statement {
        sea_orm::QueryTrait::build(&self.build(), backend)
    }

    /// The table name of `E`, used in error messages.
    pub(crate) fn model_name() -> &'static str {
        E::default().table_name()
    }

    /// Whether `limit` or `offset` was set.
    pub(crate) fn is_sliced(&self) -> bool {
        self.limit.is_some() || self.offset.is_some()
    }

    /// The `Select` with every builder applied: filters, ordering, slice, distinct.
    pub(crate) fn build(&self) -> Select<E> {
        let mut select = self.filtered();
        for (expr, order) in &self.orders {
            select = select.order_by(expr.clone(), order.clone());
        }
        if let Some(n) = self.limit {
            select = select.limit(n);
        }
        if let Some(n) = self.offset {
            select = select.offset(n);
        }
        if self.distinct {
            select = select.distinct();
        }
        let behavior = match self.lock {
            None => None,
            Some(RowLock::Wait) => Some(None),
            Some(RowLock::NoWait) => Some(Some(LockBehavior::Nowait)),
            Some(RowLock::SkipLocked) => Some(Some(LockBehavior::SkipLocked)),
        };
        match (behavior, self.lock_of.is_empty()) {
            (None, _) => {}
            (Some(None), true) => select = select.lock(LockType::Update),
            (Some(Some(b)), true) => select = select.lock_with_behavior(LockType::Update, b),
            (Some(None), false) => {
                QueryTrait::query(&mut select)
                    .lock_with_tables(LockType::Update, self.lock_of.clone());
            }
            (Some(Some(b)), false) => {
                QueryTrait::query(&mut select).lock_with_tables_behavior(
                    LockType::Update,
                    self.lock_of.clone(),
                    b,
                );
            }
        }
        select
    }

    /// The filters alone (no order, slice or distinct), for aggregates over the whole match.
    pub(crate) fn filtered(&self) -> Select<E> {
        // An empty `Condition::all()` renders as `WHERE TRUE`, which costs SQLite its
        // `COUNT(*)` shortcut (3× slower counts measured); unfiltered querysets add no WHERE.
        if self.cond.is_empty() {
            self.base.clone()
        } else {
            self.base.clone().filter(self.cond.clone())
        }
    }

    /// What runs this queryset's statements: its database, and whether it locks rows; its
    /// statements are reported as issued by the caller.
    #[track_caller]
    pub(crate) fn runner(&self) -> Runner {
        Runner::new(self.using.clone(), self.lock.is_some())
            .loading(self.relation)
            .reading_nothing(self.nothing)
            .locking_tables(!self.lock_of.is_empty())
    }

    /// What runs a read: like [`runner`](Self::runner), and a statement that finds its
    /// connection lost outside a scope is sent once more (see `Runner::reading`).
    #[track_caller]
    pub(crate) fn reader(&self) -> Runner {
        self.runner().reading()
    }

    /// What runs a write that creates rows: like [`runner`](Self::runner), but a `none()`
    /// queryset creates like any other.
    #[track_caller]
    pub(crate) fn writer(&self) -> Runner {
        Runner::new(self.using.clone(), false).loading(self.relation)
    }

    /// Marks this queryset as loading a relation row by row, for N+1 reports.
    pub(crate) fn loading(mut self, relation: RelationHint) -> Self {
        self.relation = Some(relation);
        self
    }
}
