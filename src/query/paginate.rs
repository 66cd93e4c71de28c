//! Pagination: numbered pages (Django's `Paginator`) and keyset pages behind an opaque cursor
//! (what a web API returns as `next`), both voices.

use std::future::Future;

use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr, Value};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, Iterable, ModelTrait, Order, PrimaryKeyToColumn,
};

use crate::bridge::blocking_twin;
use crate::query::QuerySet;
use crate::{Error, Result};

/// Splits a queryset into numbered pages of `per_page` rows (Django's `Paginator`). Made by
/// [`QuerySet::paginator`]; rows are in the queryset's order, or by primary key when it has
/// none, so pages never overlap.
///
/// ```
/// # duetto::doc_db::with_users(|| async {
/// use duetto::prelude::*;
/// let pages = entity::user::Entity::objects().paginator(2)?;
/// let second = pages.apage(2).await?;
/// assert_eq!((second.number, second.num_pages, second.count), (2, 2, 3));
/// assert_eq!(second.items.len(), 1);
/// assert!(!second.has_next() && second.has_previous());
/// # Ok(()) });
/// ```
#[derive(Debug, Clone)]
pub struct Paginator<E: EntityTrait> {
    qs: QuerySet<E>,
    per_page: u64,
}

/// One page of a [`Paginator`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Page<M> {
    /// The page's rows.
    pub items: Vec<M>,
    /// Its number, from 1.
    pub number: u64,
    /// How many pages there are (at least 1: an empty queryset has one empty page).
    pub num_pages: u64,
    /// How many rows the whole queryset has.
    pub count: u64,
}

impl<M> Page<M> {
    /// Whether a later page exists.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// assert!(entity::user::Entity::objects().paginator(2)?.page(1)?.has_next());
    /// # Ok(()) });
    /// ```
    pub fn has_next(&self) -> bool {
        self.number < self.num_pages
    }

    /// Whether an earlier page exists.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// assert!(!entity::user::Entity::objects().paginator(2)?.page(1)?.has_previous());
    /// # Ok(()) });
    /// ```
    pub fn has_previous(&self) -> bool {
        self.number > 1
    }
}

impl<E: EntityTrait> QuerySet<E> {
    /// Numbered pages of `per_page` rows of this queryset (see [`Paginator`]).
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`] for `per_page` 0 or a sliced queryset (`limit`/`offset`).
    ///
    /// ```
    /// use duetto::prelude::*;
    /// assert!(entity::user::Entity::objects().paginator(0).is_err());
    /// let pages = entity::user::Entity::objects().paginator(25)?;
    /// # let _ = pages;
    /// # Ok::<(), duetto::Error>(())
    /// ```
    pub fn paginator(&self, per_page: u64) -> Result<Paginator<E>> {
        if per_page == 0 {
            return Err(Error::NotSupported {
                operation: "paginator",
                reason: "a page must hold at least one row".into(),
            });
        }
        if self.is_sliced() {
            return Err(Error::NotSupported {
                operation: "paginator",
                reason: "the queryset is already sliced (limit/offset)".into(),
            });
        }
        Ok(Paginator {
            qs: self.clone().ordered_by_default(),
            per_page,
        })
    }
}

impl<E> Paginator<E>
where
    E: EntityTrait,
    E::Model: Send + Sync,
{
    /// Page `number` (from 1): its rows and the totals, in two statements (a count, then the
    /// page).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPage`] for page 0 or a page past the last (page 1 always exists, empty
    /// for an empty queryset).
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// let pages = entity::user::Entity::objects().paginator(2)?;
    /// assert_eq!(pages.apage(1).await?.items.len(), 2);
    /// assert!(matches!(pages.apage(3).await, Err(duetto::Error::InvalidPage { page: 3, num_pages: 2 })));
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn apage(
        &self,
        number: u64,
    ) -> impl Future<Output = Result<Page<E::Model>>> + Send + 'static {
        let count = self.qs.acount();
        let qs = self.qs.clone();
        let per_page = self.per_page;
        crate::observe::at_caller(async move {
            let count = count.await?;
            let num_pages = Ord::max(count.div_ceil(per_page), 1);
            if number == 0 || number > num_pages {
                return Err(Error::InvalidPage {
                    page: number,
                    num_pages,
                });
            }
            let items = qs
                .offset((number - 1) * per_page)
                .limit(per_page)
                .alist()
                .await?;
            Ok(Page {
                items,
                number,
                num_pages,
                count,
            })
        })
    }

    /// Blocking twin of [`apage`](Self::apage).
    ///
    /// # Errors
    ///
    /// As [`apage`](Self::apage), plus [`Error::SynchronousOnlyOperation`] in async code.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// let last = entity::user::Entity::objects().paginator(2)?.page(2)?;
    /// assert_eq!(last.items.len(), 1);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn page(&self, number: u64) -> Result<Page<E::Model>> {
        blocking_twin("page", self.apage(number))
    }
}

/// Pages through a queryset by the values of its ordering columns (keyset, or "seek",
/// pagination): each page starts right after the last row of the previous one, named by an
/// opaque cursor. Unlike numbered pages it neither skips nor repeats rows when rows are inserted
/// or deleted between requests, and every page costs the same, however deep. Made by
/// [`QuerySet::keyset`].
///
/// The order is the columns given with [`by_asc`](Self::by_asc) / [`by_desc`](Self::by_desc),
/// then the primary key (ascending), which makes it unique. Ordering columns must not be NULL.
///
/// ```
/// # duetto::doc_db::with_users(|| async {
/// use duetto::prelude::*;
/// use entity::user;
/// let newest_first = user::Entity::objects().keyset(2)?.by_desc(user::Column::CreatedAt);
/// let first = newest_first.apage(None).await?;
/// assert_eq!(first.items[0].name, "Grace Hopper");
/// let cursor = first.next.expect("more rows");
/// let second = newest_first.apage(Some(&cursor)).await?;
/// assert_eq!(second.items.len(), 1);
/// assert!(second.next.is_none());
/// # Ok(()) });
/// ```
#[derive(Debug, Clone)]
pub struct Keyset<E: EntityTrait> {
    qs: QuerySet<E>,
    size: u64,
    order: Vec<(E::Column, Order)>,
}

/// One page of a [`Keyset`]: its rows, and the cursor of the next page (`None` on the last).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CursorPage<M> {
    /// The page's rows.
    pub items: Vec<M>,
    /// The cursor to pass to get the next page, `None` when this is the last.
    pub next: Option<String>,
}

impl<E: EntityTrait> QuerySet<E> {
    /// Keyset pages of `size` rows of this queryset (see [`Keyset`]). The queryset's filters
    /// apply; its own ordering and slicing must be empty (the keyset decides them).
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`] for `size` 0, an ordered or sliced queryset, or an entity with a
    /// composite primary key.
    ///
    /// ```
    /// use duetto::prelude::*;
    /// let pages = entity::user::Entity::objects().keyset(50)?;
    /// # let _ = pages;
    /// # Ok::<(), duetto::Error>(())
    /// ```
    pub fn keyset(&self, size: u64) -> Result<Keyset<E>> {
        let refuse = |reason: &str| {
            Err(Error::NotSupported {
                operation: "keyset",
                reason: reason.into(),
            })
        };
        if size == 0 {
            return refuse("a page must hold at least one row");
        }
        if self.is_sliced() || !self.orders.is_empty() {
            return refuse(
                "the keyset orders and slices the queryset itself: pass it unordered and unsliced",
            );
        }
        if E::PrimaryKey::iter().count() != 1 {
            return refuse("only entities with a single-column primary key");
        }
        Ok(Keyset {
            qs: self.clone(),
            size,
            order: Vec::new(),
        })
    }
}

/// The cursor format's version tag: cursors from another format are refused, not misread.
const CURSOR_TAG: &str = "k1";

impl<E> Keyset<E>
where
    E: EntityTrait,
    E::Model: Send + Sync,
{
    /// Orders by `col` ascending (after the columns given so far).
    ///
    /// ```
    /// use duetto::prelude::*;
    /// let by_name = entity::user::Entity::objects().keyset(20)?.by_asc(entity::user::Column::Name);
    /// # let _ = by_name;
    /// # Ok::<(), duetto::Error>(())
    /// ```
    pub fn by_asc(mut self, col: E::Column) -> Self {
        self.order.push((col, Order::Asc));
        self
    }

    /// Orders by `col` descending (after the columns given so far).
    ///
    /// ```
    /// use duetto::prelude::*;
    /// let newest = entity::user::Entity::objects().keyset(20)?.by_desc(entity::user::Column::CreatedAt);
    /// # let _ = newest;
    /// # Ok::<(), duetto::Error>(())
    /// ```
    pub fn by_desc(mut self, col: E::Column) -> Self {
        self.order.push((col, Order::Desc));
        self
    }

    /// The full order: the given columns, then the primary key.
    fn columns(&self) -> Vec<(E::Column, Order)> {
        let mut order = self.order.clone();
        let pk = E::PrimaryKey::iter()
            .next()
            .expect("checked: one primary key column")
            .into_column();
        order.push((pk, Order::Asc));
        order
    }

    /// The page after `cursor` (the first page for `None`), one statement.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCursor`] for a cursor this keyset did not make (malformed, tampered, or
    /// from another ordering).
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// let pages = entity::user::Entity::objects().keyset(2)?;
    /// assert!(matches!(pages.apage(Some("garbage")).await, Err(duetto::Error::InvalidCursor { .. })));
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn apage(
        &self,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<CursorPage<E::Model>>> + Send + 'static {
        let columns = self.columns();
        let mut qs = self.qs.clone();
        let after = cursor.map(|c| decode_cursor::<E>(c, &columns));
        let size = self.size;
        for (col, order) in &columns {
            qs = match order {
                Order::Desc => qs.order_by_desc(*col),
                _ => qs.order_by_asc(*col),
            };
        }
        let rows = match after {
            None => Ok(qs.limit(size + 1).alist()),
            Some(Err(e)) => Err(e),
            Some(Ok(values)) => Ok(qs
                .filter(after_row::<E>(&columns, values))
                .limit(size + 1)
                .alist()),
        };
        async move {
            let mut items = rows?.await?;
            let next = if items.len() as u64 > size {
                items.truncate(size as usize);
                items.last().map(|last| encode_cursor::<E>(last, &columns))
            } else {
                None
            };
            Ok(CursorPage { items, next })
        }
    }

    /// Blocking twin of [`apage`](Self::apage).
    ///
    /// # Errors
    ///
    /// As [`apage`](Self::apage), plus [`Error::SynchronousOnlyOperation`] in async code.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// use duetto::prelude::*;
    /// let pages = entity::user::Entity::objects().keyset(2)?;
    /// let first = pages.page(None)?;
    /// let second = pages.page(first.next.as_deref())?;
    /// assert_eq!(first.items.len() + second.items.len(), 3);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn page(&self, cursor: Option<&str>) -> Result<CursorPage<E::Model>> {
        blocking_twin("page", self.apage(cursor))
    }
}

/// Rows strictly after `values` in `columns`' order: `c1 > v1 OR (c1 = v1 AND (c2 > v2 OR …))`,
/// with `<` for descending columns.
fn after_row<E: EntityTrait>(columns: &[(E::Column, Order)], values: Vec<Value>) -> Condition {
    let mut cond: Option<SimpleExpr> = None;
    for ((col, order), value) in columns.iter().zip(values).rev() {
        let col_expr = Expr::col((E::default(), *col));
        let beyond = match order {
            Order::Desc => col_expr.clone().lt(value.clone()),
            _ => col_expr.clone().gt(value.clone()),
        };
        cond = Some(match cond {
            None => beyond,
            Some(inner) => beyond.or(col_expr.eq(value).and(inner)),
        });
    }
    Condition::all().add(cond.unwrap_or_else(|| Expr::val(true)))
}

/// The cursor of `row`: its values in `columns`, as tagged JSON, hex-encoded so it travels
/// unescaped in a URL.
fn encode_cursor<E: EntityTrait>(row: &E::Model, columns: &[(E::Column, Order)]) -> String {
    let values: Vec<sea_orm::JsonValue> = columns
        .iter()
        .map(|(col, _)| value_to_json(row.get(*col)))
        .collect();
    let text = sea_orm::JsonValue::Array(values).to_string();
    let mut out = String::with_capacity(CURSOR_TAG.len() + 1 + text.len() * 2);
    out.push_str(CURSOR_TAG);
    out.push('.');
    for byte in text.bytes() {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

fn invalid(reason: impl Into<String>) -> Error {
    Error::InvalidCursor {
        reason: reason.into(),
    }
}

/// The values a cursor holds, typed like `columns`.
fn decode_cursor<E: EntityTrait>(
    cursor: &str,
    columns: &[(E::Column, Order)],
) -> Result<Vec<Value>> {
    let hex = cursor
        .strip_prefix(CURSOR_TAG)
        .and_then(|rest| rest.strip_prefix('.'))
        .ok_or_else(|| invalid("not a cursor of this format"))?;
    if hex.len() % 2 != 0 {
        return Err(invalid("truncated"));
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<std::result::Result<Vec<u8>, _>>()
        .map_err(|_| invalid("not hexadecimal"))?;
    let json: sea_orm::JsonValue =
        serde_json::from_slice(&bytes).map_err(|e| invalid(format!("unreadable: {e}")))?;
    let items = json.as_array().ok_or_else(|| invalid("not a list"))?;
    if items.len() != columns.len() {
        return Err(invalid("made for another ordering"));
    }
    columns
        .iter()
        .zip(items)
        .map(|((col, _), json)| json_to_value(col.def().get_column_type(), json))
        .collect()
}

fn value_to_json(value: Value) -> sea_orm::JsonValue {
    use sea_orm::JsonValue as J;
    match value {
        Value::Bool(Some(b)) => J::Bool(b),
        Value::TinyInt(Some(n)) => J::from(n),
        Value::SmallInt(Some(n)) => J::from(n),
        Value::Int(Some(n)) => J::from(n),
        Value::BigInt(Some(n)) => J::from(n),
        Value::TinyUnsigned(Some(n)) => J::from(n),
        Value::SmallUnsigned(Some(n)) => J::from(n),
        Value::Unsigned(Some(n)) => J::from(n),
        Value::BigUnsigned(Some(n)) => J::from(n),
        Value::Float(Some(f)) => J::from(f),
        Value::Double(Some(f)) => J::from(f),
        Value::String(Some(s)) => J::String(s),
        Value::ChronoDateTimeWithTimeZone(Some(t)) => J::String(t.to_rfc3339()),
        Value::ChronoDateTimeUtc(Some(t)) => J::String(t.to_rfc3339()),
        Value::ChronoDateTime(Some(t)) => J::String(t.format("%Y-%m-%dT%H:%M:%S%.f").to_string()),
        Value::ChronoDate(Some(d)) => J::String(d.to_string()),
        Value::Decimal(Some(d)) => J::String(d.to_string()),
        _ => J::Null,
    }
}

fn json_to_value(ty: &sea_orm::ColumnType, json: &sea_orm::JsonValue) -> Result<Value> {
    use sea_orm::ColumnType as T;
    let bad = || invalid("a value does not fit its column");
    let text = || json.as_str().ok_or_else(bad);
    Ok(match ty {
        T::TinyInteger | T::SmallInteger | T::Integer => Value::Int(Some(
            json.as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(bad)?,
        )),
        T::BigInteger => Value::BigInt(Some(json.as_i64().ok_or_else(bad)?)),
        T::TinyUnsigned | T::SmallUnsigned | T::Unsigned | T::BigUnsigned => {
            Value::BigUnsigned(Some(json.as_u64().ok_or_else(bad)?))
        }
        T::Float | T::Double => Value::Double(Some(json.as_f64().ok_or_else(bad)?)),
        T::Boolean => Value::Bool(Some(json.as_bool().ok_or_else(bad)?)),
        T::String(_) | T::Text | T::Char(_) => Value::String(Some(text()?.to_owned())),
        T::TimestampWithTimeZone => Value::ChronoDateTimeWithTimeZone(Some(
            sea_orm::prelude::DateTimeWithTimeZone::parse_from_rfc3339(text()?)
                .map_err(|_| bad())?,
        )),
        T::DateTime | T::Timestamp => Value::ChronoDateTime(Some(
            sea_orm::prelude::DateTime::parse_from_str(text()?, "%Y-%m-%dT%H:%M:%S%.f")
                .map_err(|_| bad())?,
        )),
        T::Date => Value::ChronoDate(Some(text()?.parse().map_err(|_| bad())?)),
        T::Decimal(_) | T::Money(_) => Value::Decimal(Some(text()?.parse().map_err(|_| bad())?)),
        other => {
            return Err(Error::NotSupported {
                operation: "keyset",
                reason: format!("ordering by a {other:?} column"),
            })
        }
    })
}
