//! A decimal column value that reads whatever SQLite stored in a NUMERIC column.
//!
//! SQLite gives a `NUMERIC` / `DECIMAL` column *numeric affinity*: `12.50` is stored as the REAL
//! `12.5`, `5` and `5.00` as the INTEGER `5`, and a number text cannot hold exactly as text.
//! SeaORM reads a SQLite `Decimal` as a float only, and the driver refuses to read a float from
//! an INTEGER value, so a plain `Decimal` field fails on every whole number. A `CAST(… AS REAL)`
//! on reads would fix the SELECTs but not SeaORM's `INSERT … RETURNING`, which names the casted
//! column after the expression. Hence a value type of our own, which `duetto generate entity`
//! gives SQLite's decimal columns.

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use sea_orm::prelude::Decimal;
use sea_orm::sea_query::{ArrayType, ColumnType, Nullable, Value, ValueType, ValueTypeErr};
use sea_orm::{ColIdx, QueryResult, TryGetError, TryGetable};

/// A [`Decimal`] that reads every value SQLite keeps in a NUMERIC column: REAL, INTEGER or TEXT.
///
/// Writes, filters and reads on PostgreSQL and MySQL behave exactly as `Decimal`'s: it is bound as
/// a decimal and read as one first. It dereferences to the inner `Decimal` and converts from and
/// into it.
///
/// ```
/// use duetto::SqliteDecimal;
/// use duetto::sea_orm::prelude::Decimal;
/// use duetto::sea_orm::{ConnectionTrait, Statement};
///
/// # duetto::doc_db::with_users_blocking(|| {
/// // SQLite stores 5.00 as the INTEGER 5 and 12.50 as the REAL 12.5; both read back.
/// let rows = duetto::default_db()?.run(|conn| async move {
///     conn.execute_unprepared("CREATE TABLE price (amount NUMERIC(10, 2) NOT NULL)").await?;
///     conn.execute_unprepared("INSERT INTO price VALUES (5.00), (12.50)").await?;
///     let select = "SELECT amount FROM price ORDER BY amount";
///     conn.query_all_raw(Statement::from_string(conn.get_database_backend(), select)).await
/// })?;
/// let amounts: Vec<SqliteDecimal> = rows
///     .iter()
///     .map(|row| row.try_get("", "amount"))
///     .collect::<Result<_, _>>()
///     .map_err(duetto::Error::other)?;
/// assert_eq!(amounts, [Decimal::new(5, 0).into(), Decimal::new(125, 1).into()]);
/// assert_eq!(*amounts[1], Decimal::new(1250, 2));
/// # Ok(()) });
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SqliteDecimal(pub Decimal);

impl TryGetable for SqliteDecimal {
    fn try_get_by<I: ColIdx>(res: &QueryResult, index: I) -> Result<Self, TryGetError> {
        // A decimal first: that is what PostgreSQL and MySQL send, and SQLite's REAL values.
        let first = match Decimal::try_get_by(res, index) {
            Ok(value) => return Ok(SqliteDecimal(value)),
            Err(TryGetError::Null(column)) => return Err(TryGetError::Null(column)),
            Err(err) => err,
        };
        if let Ok(whole) = i64::try_get_by(res, index) {
            return Ok(SqliteDecimal(Decimal::from(whole)));
        }
        if let Ok(text) = String::try_get_by(res, index) {
            if let Ok(value) = Decimal::from_str(text.trim()) {
                return Ok(SqliteDecimal(value));
            }
        }
        Err(first)
    }
}

impl From<SqliteDecimal> for Value {
    fn from(value: SqliteDecimal) -> Value {
        Value::Decimal(Some(value.0))
    }
}

impl ValueType for SqliteDecimal {
    fn try_from(value: Value) -> Result<Self, ValueTypeErr> {
        <Decimal as ValueType>::try_from(value).map(SqliteDecimal)
    }

    fn type_name() -> String {
        "SqliteDecimal".to_owned()
    }

    fn array_type() -> ArrayType {
        ArrayType::Decimal
    }

    fn column_type() -> ColumnType {
        ColumnType::Decimal(None)
    }
}

impl Nullable for SqliteDecimal {
    fn null() -> Value {
        Value::Decimal(None)
    }
}

impl From<Decimal> for SqliteDecimal {
    fn from(value: Decimal) -> Self {
        SqliteDecimal(value)
    }
}

impl From<SqliteDecimal> for Decimal {
    fn from(value: SqliteDecimal) -> Self {
        value.0
    }
}

impl Deref for SqliteDecimal {
    type Target = Decimal;

    fn deref(&self) -> &Decimal {
        &self.0
    }
}

/// As the inner `Decimal` (`--with-serde` models derive serde through it).
impl serde::Serialize for SqliteDecimal {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(&self.0, serializer)
    }
}

impl<'de> serde::Deserialize<'de> for SqliteDecimal {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <Decimal as serde::Deserialize>::deserialize(deserializer).map(SqliteDecimal)
    }
}

impl fmt::Display for SqliteDecimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_its_decimal() {
        let price = SqliteDecimal(Decimal::new(1250, 2));
        let json = serde_json::to_string(&price).unwrap();
        assert_eq!(json, serde_json::to_string(&price.0).unwrap());
        assert_eq!(serde_json::from_str::<SqliteDecimal>(&json).unwrap(), price);
    }
}
