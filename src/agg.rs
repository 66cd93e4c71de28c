//! Aggregates and annotations: Django's `Count`, `Sum`, `Avg`, `Min`, `Max` (with `filter=` as
//! [`Aggregate::filter`]), for [`QuerySet::aaggregate`](crate::QuerySet::aaggregate), grouped
//! rows ([`QuerySet::values`](crate::QuerySet::values)) and per-row annotations
//! ([`QuerySet::annotate`](crate::QuerySet::annotate)), plus per-row expressions over a relation
//! ([`count_related`], [`related_exists`]) and [`col`] to name an annotation.
//!
//! Result types are the same on every backend, so one tuple type decodes everywhere:
//!
//! | aggregate | column type | Rust type |
//! |---|---|---|
//! | [`count`] | any | `i64` |
//! | [`sum`] | integer | `Option<i64>` (`None` over no rows) |
//! | [`sum`] | decimal / float | `Option<Decimal>` / `Option<f64>` |
//! | [`avg`] | numeric | `Option<f64>` |
//! | [`min`], [`max`] | any | `Option<` the column's type `>` |
//!
//! (PostgreSQL and MySQL widen `SUM` of integers to `NUMERIC`/`DECIMAL` and `AVG` to a decimal;
//! duetto casts them back so the table above holds.)

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, SimpleExpr};
use sea_orm::{ColumnTrait, ColumnType, DbBackend, IntoSimpleExpr};

/// One aggregate over a column. Build it with [`count`], [`sum`], [`avg`], [`min`] or [`max`].
#[derive(Debug, Clone)]
pub struct Aggregate {
    func: Function,
    column: SimpleExpr,
    integer: bool,
    /// Only rows matching this count (Django's `filter=`), written `CASE WHEN … THEN col END`
    /// so every backend accepts it.
    only: Option<sea_orm::Condition>,
}

#[derive(Debug, Clone, Copy)]
enum Function {
    Count,
    Sum,
    Avg,
    Min,
    Max,
}

fn aggregate(func: Function, col: impl ColumnTrait) -> Aggregate {
    let integer = matches!(
        col.def().get_column_type(),
        ColumnType::TinyInteger
            | ColumnType::SmallInteger
            | ColumnType::Integer
            | ColumnType::BigInteger
            | ColumnType::TinyUnsigned
            | ColumnType::SmallUnsigned
            | ColumnType::Unsigned
            | ColumnType::BigUnsigned
    );
    Aggregate {
        func,
        column: col.into_simple_expr(),
        integer,
        only: None,
    }
}

/// `COUNT(col)`: rows where `col` is not null, as `i64`.
///
/// ```
/// let n = duetto::agg::count(entity::user::Column::Id);
/// # let _ = n;
/// ```
pub fn count(col: impl ColumnTrait) -> Aggregate {
    aggregate(Function::Count, col)
}

/// `SUM(col)`: `Option<i64>` for integer columns, else the column's type.
///
/// ```
/// let total = duetto::agg::sum(entity::order::Column::Total);
/// # let _ = total;
/// ```
pub fn sum(col: impl ColumnTrait) -> Aggregate {
    aggregate(Function::Sum, col)
}

/// `AVG(col)` as `Option<f64>`.
///
/// ```
/// let mean = duetto::agg::avg(entity::order::Column::Total);
/// # let _ = mean;
/// ```
pub fn avg(col: impl ColumnTrait) -> Aggregate {
    aggregate(Function::Avg, col)
}

/// `MIN(col)` as `Option<` the column's type `>`.
///
/// ```
/// let first = duetto::agg::min(entity::user::Column::CreatedAt);
/// # let _ = first;
/// ```
pub fn min(col: impl ColumnTrait) -> Aggregate {
    aggregate(Function::Min, col)
}

/// `MAX(col)` as `Option<` the column's type `>`.
///
/// ```
/// let newest = duetto::agg::max(entity::user::Column::CreatedAt);
/// # let _ = newest;
/// ```
pub fn max(col: impl ColumnTrait) -> Aggregate {
    aggregate(Function::Max, col)
}

impl Aggregate {
    /// Aggregates only the rows matching `cond` (Django's `Count("id", filter=Q(…))`): the other
    /// rows count as `NULL`, which every aggregate skips.
    ///
    /// ```
    /// use duetto::agg;
    /// use duetto::sea_orm::ColumnTrait;
    /// use entity::order;
    /// let paid = agg::count(order::Column::Id).filter(order::Column::Status.eq("paid"));
    /// # let _ = paid;
    /// ```
    pub fn filter(mut self, cond: impl sea_orm::sea_query::IntoCondition) -> Self {
        let cond = cond.into_condition();
        self.only = Some(match self.only.take() {
            Some(before) => before.add(cond),
            None => cond,
        });
        self
    }

    /// The SQL expression for `backend`, cast so its type matches the table in the module docs.
    pub(crate) fn expr(&self, backend: DbBackend) -> SimpleExpr {
        let col = match &self.only {
            None => self.column.clone(),
            Some(cond) => sea_orm::sea_query::CaseStatement::new()
                .case(cond.clone(), self.column.clone())
                .into(),
        };
        match self.func {
            Function::Count => Func::count(col).into(),
            Function::Min => Func::min(col).into(),
            Function::Max => Func::max(col).into(),
            Function::Sum if self.integer => match backend {
                DbBackend::Postgres => Func::cast_as(Func::sum(col), Alias::new("BIGINT")).into(),
                DbBackend::MySql => Func::cast_as(Func::sum(col), Alias::new("SIGNED")).into(),
                _ => Func::sum(col).into(),
            },
            Function::Sum => Func::sum(col).into(),
            Function::Avg => match backend {
                DbBackend::Postgres => {
                    Func::cast_as(Func::avg(col), Alias::new("DOUBLE PRECISION")).into()
                }
                // MySQL/MariaDB: a DECIMAL times a DOUBLE literal is a DOUBLE, on every version.
                DbBackend::MySql => Expr::expr(Func::avg(col)).mul(Expr::cust("1e0")),
                _ => Func::avg(col).into(),
            },
        }
    }
}

/// An annotation's value in a query: an [`Aggregate`] (whose SQL depends on the backend) or any
/// SQL expression (a `CASE`, a subquery, [`count_related`], [`related_exists`], arithmetic).
///
/// ```
/// use duetto::agg::{self, Annotation};
/// use duetto::sea_orm::sea_query::{CaseStatement, Expr};
/// use duetto::sea_orm::ColumnTrait;
/// use entity::order;
/// let counted: Annotation = agg::count(order::Column::Id).into();
/// let label: Annotation = Expr::expr(
///     CaseStatement::new()
///         .case(order::Column::Status.eq("paid"), "done")
///         .finally("open"),
/// )
/// .into();
/// # let _ = (counted, label);
/// ```
#[derive(Debug, Clone)]
pub struct Annotation(AnnotationKind);

#[derive(Debug, Clone)]
enum AnnotationKind {
    Aggregate(Aggregate),
    Expr(SimpleExpr),
}

impl From<Aggregate> for Annotation {
    fn from(aggregate: Aggregate) -> Self {
        Annotation(AnnotationKind::Aggregate(aggregate))
    }
}

impl From<SimpleExpr> for Annotation {
    fn from(expr: SimpleExpr) -> Self {
        Annotation(AnnotationKind::Expr(expr))
    }
}

impl From<sea_orm::sea_query::CaseStatement> for Annotation {
    fn from(case: sea_orm::sea_query::CaseStatement) -> Self {
        Annotation(AnnotationKind::Expr(case.into()))
    }
}

impl Annotation {
    /// The SQL expression for `backend`.
    pub(crate) fn expr(&self, backend: DbBackend) -> SimpleExpr {
        match &self.0 {
            AnnotationKind::Aggregate(aggregate) => aggregate.expr(backend),
            AnnotationKind::Expr(expr) => expr.clone(),
        }
    }
}

/// An annotation (or grouped value) by its name, for `having`, `filter` and `order_by` on
/// annotated and grouped querysets.
///
/// ```
/// use duetto::agg;
/// use duetto::sea_orm::sea_query::ExprTrait;
/// let busy = agg::col("n").gt(10);
/// # let _ = busy;
/// ```
pub fn col(name: &str) -> Expr {
    Expr::col(Alias::new(name))
}

/// For each row of `E`, how many related `R` rows it has (Django's `annotate(n=Count("rel"))`),
/// as a correlated subquery, so it combines with other annotations and filters without
/// multiplying rows. Many-to-many relations count their junction rows. An expression: use it as
/// an annotation, or inside one (`count_related::<…>().gte(3)` in a `CASE`).
///
/// ```
/// # duetto::doc_db::with_users(|| async {
/// use duetto::prelude::*;
/// use duetto::sea_orm::FromQueryResult;
/// use entity::{post, user};
///
/// #[derive(FromQueryResult)]
/// struct Author {
///     name: String,
///     posts: i64,
/// }
/// let authors: Vec<Author> = user::Entity::objects()
///     .annotate("posts", duetto::agg::count_related::<user::Entity, post::Entity>())
///     .order_by_desc(duetto::agg::col("posts"))
///     .alist_as()
///     .await?;
/// assert_eq!((authors[0].name.as_str(), authors[0].posts), ("Ada Lovelace", 3));
/// # Ok(()) });
/// ```
pub fn count_related<E, R>() -> Expr
where
    E: sea_orm::EntityTrait + sea_orm::Related<R>,
    R: sea_orm::EntityTrait,
{
    let rel = <E as sea_orm::Related<R>>::via().unwrap_or_else(<E as sea_orm::Related<R>>::to);
    let on = correlate(&rel);
    let mut select = sea_orm::sea_query::Query::select();
    select
        .expr(Expr::cust("COUNT(*)"))
        .from(rel.to_tbl.sea_orm_table().clone())
        .cond_where(on);
    SimpleExpr::SubQuery(
        None,
        Box::new(sea_orm::sea_query::QueryStatementBuilder::into_sub_query_statement(select)),
    )
}

/// For each row of `E`, whether it has a related `R` row matching `cond` (Django's
/// `annotate(favorited=Exists(…))`): a boolean, as `key IN (SELECT …)`; see
/// [`QuerySet::filter_related`](crate::QuerySet::filter_related) for the same test as a filter.
///
/// ```
/// # duetto::doc_db::with_users(|| async {
/// use duetto::prelude::*;
/// use duetto::sea_orm::{ColumnTrait, FromQueryResult};
/// use entity::{post, tag};
///
/// #[derive(FromQueryResult)]
/// struct Row {
///     id: i64,
///     about_math: bool,
/// }
/// let rows: Vec<Row> = post::Entity::objects()
///     .annotate("about_math", duetto::agg::related_exists::<post::Entity, tag::Entity>(tag::Column::Name.eq("math")))
///     .order_by_asc(post::Column::Id)
///     .alist_as()
///     .await?;
/// assert_eq!(rows.iter().filter(|r| r.about_math).count(), 2);
/// # Ok(()) });
/// ```
pub fn related_exists<E, R>(cond: impl sea_orm::sea_query::IntoCondition) -> Expr
where
    E: sea_orm::EntityTrait + sea_orm::Related<R>,
    R: sea_orm::EntityTrait,
{
    crate::query::related_match::<E, R>(cond.into_condition())
}

/// `to_tbl.to_col = from_tbl.from_col` for each key column of `rel`.
fn correlate(rel: &sea_orm::RelationDef) -> sea_orm::Condition {
    let cols = |table: &sea_orm::sea_query::TableRef, key: &sea_orm::Identity| -> Vec<Expr> {
        key.clone()
            .into_iter()
            .map(|c| Expr::col((table.sea_orm_table().clone(), c)))
            .collect()
    };
    cols(&rel.to_tbl, &rel.to_col)
        .into_iter()
        .zip(cols(&rel.from_tbl, &rel.from_col))
        .fold(sea_orm::Condition::all(), |on, (a, b)| on.add(a.eq(b)))
}
