//! SQLite columns. sea-schema recognises only some declared type names and hands the rest on as
//! custom types; SQLite itself accepts any name and derives a storage affinity from it.

use duetto::sea_orm::sea_query::{ColumnType, StringLen};
use sea_schema::sqlite::def::ColumnInfo;

use super::Verdict;

/// The verdict on `column`, declared as `declared`, after correcting its type where sea-schema
/// did not recognise it.
pub(crate) fn map(column: &mut ColumnInfo, declared: &str) -> Verdict {
    match &column.r#type {
        // sea-schema reads `DECIMAL`, `REAL(p, s)` (how SeaORM's migrations declare a decimal on
        // SQLite) and `REAL_DECIMAL` as decimals. Only a REAL column always holds floats.
        ColumnType::Decimal(_) if affinity(declared) == Affinity::Real => Verdict::Native,
        ColumnType::Decimal(_) => sqlite_decimal(),
        ColumnType::Custom(name) => {
            let declared = name.to_string();
            let (base, params) = split(&declared);
            let corrected = match base.as_str() {
                "" => {
                    return Verdict::Unmapped(
                        "the column has no declared type, so SQLite stores any value in it; \
                         declare one"
                            .into(),
                    )
                }
                "DATETIME" => ColumnType::DateTime,
                "DATE" => ColumnType::Date,
                "TIME" => ColumnType::Time,
                "BOOL" => ColumnType::Boolean,
                "JSON" => ColumnType::Json,
                "UUID" => ColumnType::String(StringLen::None),
                "NUMERIC" | "DECIMAL" => {
                    column.r#type = ColumnType::Decimal(precision(&params));
                    return sqlite_decimal();
                }
                _ => {
                    return Verdict::Unmapped(
                        "no Rust type for this SQLite type name (SQLite gives it NUMERIC \
                         affinity, so its values may be integers, reals or text)"
                            .into(),
                    )
                }
            };
            column.r#type = corrected;
            Verdict::Native
        }
        _ => Verdict::Native,
    }
}

/// The type as declared, for reports.
pub(crate) fn db_type(declared: &str) -> String {
    if declared.trim().is_empty() {
        "no type".into()
    } else {
        declared.to_owned()
    }
}

/// SeaORM reads a SQLite `Decimal` as a float, and the driver refuses to read a float from an
/// `INTEGER` value, which is how a NUMERIC column stores `5` or `12.00`; duetto's own decimal reads
/// both. (A `CAST(… AS REAL)` would fix SELECTs, but not SeaORM's `INSERT … RETURNING`.)
fn sqlite_decimal() -> Verdict {
    Verdict::RustType("duetto::SqliteDecimal")
}

/// SQLite's storage affinity for a declared type (<https://www.sqlite.org/datatype3.html>, 3.1).
#[derive(Debug, PartialEq, Eq)]
enum Affinity {
    Integer,
    Text,
    Blob,
    Real,
    Numeric,
}

fn affinity(declared: &str) -> Affinity {
    let name = declared.to_ascii_uppercase();
    if name.contains("INT") {
        Affinity::Integer
    } else if ["CHAR", "CLOB", "TEXT"].iter().any(|t| name.contains(t)) {
        Affinity::Text
    } else if name.contains("BLOB") || name.trim().is_empty() {
        Affinity::Blob
    } else if ["REAL", "FLOA", "DOUB"].iter().any(|t| name.contains(t)) {
        Affinity::Real
    } else {
        Affinity::Numeric
    }
}

/// `NUMERIC(10, 2)` → (`NUMERIC`, [10, 2]); case-insensitive, spaces ignored.
fn split(declared: &str) -> (String, Vec<u32>) {
    let (base, rest) = match declared.split_once('(') {
        Some((base, rest)) => (base, rest.trim_end().trim_end_matches(')')),
        None => (declared, ""),
    };
    let params = rest
        .split(',')
        .filter_map(|p| p.trim().parse().ok())
        .collect();
    (base.trim().to_ascii_uppercase(), params)
}

fn precision(params: &[u32]) -> Option<(u32, u32)> {
    match params {
        [p, s] => Some((*p, *s)),
        [p] => Some((*p, 0)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_names_split_into_base_and_parameters() {
        assert_eq!(split("numeric(10, 2)"), ("NUMERIC".into(), vec![10, 2]));
        assert_eq!(split("DateTime"), ("DATETIME".into(), vec![]));
        assert_eq!(split(""), (String::new(), vec![]));
        assert_eq!(precision(&[12]), Some((12, 0)));
    }

    #[test]
    fn affinity_follows_sqlites_rules() {
        assert_eq!(affinity("real(10, 2)"), Affinity::Real);
        assert_eq!(affinity("DECIMAL(10, 2)"), Affinity::Numeric);
        assert_eq!(affinity("decimal"), Affinity::Numeric);
        assert_eq!(affinity("FLOATING POINT"), Affinity::Integer);
        assert_eq!(affinity("varchar(3)"), Affinity::Text);
        assert_eq!(affinity(""), Affinity::Blob);
    }
}
