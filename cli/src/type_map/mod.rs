//! What each database column type becomes in an entity, decided here rather than left to
//! sea-orm-codegen.
//!
//! Codegen turns every type it does not know into a `String` field marked `#[sea_orm(ignore)]`:
//! never read, never written, and no word said. A `NOT NULL` one then makes every insert fail.
//! This module looks at every discovered column first and gives it one of three verdicts:
//!
//! - **native**: codegen's own Rust type decodes and encodes it (possibly after the discovered type
//!   is corrected, e.g. SQLite's `DATETIME`, which sea-schema does not recognise, becomes a
//!   `DateTime`), or a type of duetto's does (SQLite decimals become [`duetto::SqliteDecimal`]);
//! - **cast**: the column is read and written through SQL casts (`select_as` / `save_as`), so a
//!   Rust type the driver knows carries a type it does not (PostgreSQL `money` travels as
//!   `numeric`, `interval` as `text`);
//! - **unmapped**: no Rust type round-trips it. The column is reported as `table.column (type)` and
//!   the run fails, unless `--allow-unmapped` asks to generate the entity without it.
//!
//! A mapped column round-trips: a value inserted through the entity reads back equal, and a filter
//! `Column::X.eq(value)` finds the row (the `save_as` cast applies to filter values too). That is
//! why types without an equality operator (PostgreSQL `point`, `xml`) are reported rather than
//! mapped. `cli/tests/type_map.rs` holds a fixture of every type below on each backend and checks
//! exactly that.
//!
//! # The map
//!
//! | Backend | Column type | Rust type | How |
//! |---|---|---|---|
//! | all | integers, floats, `varchar`/`char`/`text`, binary, `date`, `time`, `timestamp`, `boolean`, `json` | as codegen: `i16`…`u64`, `f32`/`f64`, `String`, `Vec<u8>`, chrono types, `bool`, `Json` | native |
//! | SQLite | `DATETIME` / `DATE` / `TIME` | `DateTime` / `Date` / `Time` (chrono, stored as text) | native |
//! | SQLite | `BOOL`, `BOOLEAN` | `bool` | native |
//! | SQLite | `JSON` | `Json` | native |
//! | SQLite | `NUMERIC`, `DECIMAL`, `NUMERIC(p, s)`, `DECIMAL(p, s)` | [`duetto::SqliteDecimal`] (a `Decimal`) | native: SQLite stores whole values in them as `INTEGER`, which a plain `Decimal` field cannot read |
//! | SQLite | `REAL(p, s)` (how SeaORM's migrations declare a decimal) | `Decimal` | native: a REAL column holds only floats |
//! | SQLite | `UUID` | `String` (the text SQLite holds; Django writes 32 hex digits) | native |
//! | SQLite | a column with no type; any other type name | — | unmapped: SQLite stores any value in it |
//! | MySQL | `MEDIUMINT`, `MEDIUMINT UNSIGNED` | `i32` / `u32` | native |
//! | MySQL | `TINYTEXT`, `MEDIUMTEXT`, `LONGTEXT` (and MariaDB's `JSON`, an alias of `LONGTEXT`) | `String` | native |
//! | MySQL | `TINYBLOB`, `MEDIUMBLOB`, `LONGBLOB` | `Vec<u8>` | native |
//! | MySQL | `YEAR` | `u16` | native |
//! | MySQL | `BIT(1)` / `BIT(n)` | `bool` / `u64` | native |
//! | MySQL | `ENUM` | a generated enum | native |
//! | MySQL | `SET` | `String` (`"a,b"`) | native |
//! | MySQL | `JSON` (MySQL) | `Json` | native |
//! | MariaDB | `UUID`, `INET4`, `INET6` | `String` | native |
//! | MySQL | spatial types, unknown types | — | unmapped |
//! | PostgreSQL | `money` | `Decimal` | cast: read as `numeric`, written as `money` |
//! | PostgreSQL | `interval`, `bit(n)`, `varbit`, `tsvector`, `tsquery`, `macaddr`, `macaddr8`, `inet`, `cidr`, `timetz`, ranges, `pg_lsn`, `citext`, `hstore`, `ltree` | `String` (PostgreSQL's text form, normalised: `inet` `192.168.0.1` reads back as `192.168.0.1/32`, a `tsvector` sorted) | cast: read as `text`, written as the column's type |
//! | PostgreSQL | `json` | `Json` | native; PostgreSQL has no `=` for `json` (`jsonb` has one), so filter through `cast_as("jsonb")` |
//! | PostgreSQL | `uuid` | `Uuid` | native |
//! | PostgreSQL | arrays of a native type (`integer[]`, `text[]`, …) | `Vec<T>` | native |
//! | PostgreSQL | domains | the base type's | native |
//! | PostgreSQL | enums | a generated enum | native |
//! | PostgreSQL | `point` and the other geometric types, `xml` | — | unmapped: no `=` operator, so an entity could not filter on it |
//! | PostgreSQL | arrays of a cast or unmapped type, `vector`, composite and other extension types | — | unmapped |
//!
//! A cast column needs `--entity-format dense` (the default), `compact` or `frontend`: the
//! expanded format has no field attributes to carry the casts, so a run that would need them
//! fails with an error naming the tables.

pub(crate) mod mysql;
pub(crate) mod postgres;
pub(crate) mod sqlite;

use std::fmt;

/// What one column becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Codegen's Rust type for the (possibly corrected) discovered type round-trips.
    Native,
    /// Read and written through casts.
    Cast(Cast),
    /// Codegen's type for the column, replaced by this one (a path the entity resolves).
    RustType(&'static str),
    /// No Rust type round-trips it; the reason is printed after `table.column (type)`.
    Unmapped(String),
}

/// The SQL casts of a column read and written as another type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cast {
    /// `CAST(column AS select_as)` in every `SELECT`.
    pub(crate) select_as: String,
    /// `CAST(value AS save_as)` around every value written or compared.
    pub(crate) save_as: String,
}

impl Cast {
    pub(crate) fn through(select_as: &str, save_as: &str) -> Cast {
        Cast {
            select_as: select_as.to_owned(),
            save_as: save_as.to_owned(),
        }
    }
}

/// How the type map changes one field of the model codegen writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Patch {
    Cast(Cast),
    RustType(String),
}

/// A column without a Rust type, as reported on stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unmapped {
    pub(crate) table: String,
    pub(crate) column: String,
    /// The type as the database names it.
    pub(crate) db_type: String,
    pub(crate) reason: String,
}

impl fmt::Display for Unmapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{} ({}): {}",
            self.table, self.column, self.db_type, self.reason
        )
    }
}
