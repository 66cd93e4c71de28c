//! Aggregates for [`QuerySet::aaggregate`](crate::QuerySet::aaggregate): Django's `Count`, `Sum`,
//! `Avg`, `Min`, `Max`.
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
    /// The SQL expression for `backend`, cast so its type matches the table in the module docs.
    pub(crate) fn expr(&self, backend: DbBackend) -> SimpleExpr {
        let col = self.column.clone();
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
