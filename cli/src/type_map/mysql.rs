//! MySQL and MariaDB columns. sea-schema names every type, but codegen knows only some of its
//! names, and sqlx decodes `YEAR` and `BIT(n)` only as unsigned integers.

use sea_schema::mysql::def::{ColumnInfo, NumericAttr, StringAttr, Type};

use super::Verdict;

/// The verdict on `column`, after retyping it for codegen where codegen's choice would not
/// decode.
pub(crate) fn map(column: &mut ColumnInfo) -> Verdict {
    let retyped = match &column.col_type {
        Type::MediumInt(attr) => Type::Int(attr.clone()),
        Type::TinyText(attr) | Type::MediumText(attr) | Type::LongText(attr) => {
            Type::Text(attr.clone())
        }
        Type::TinyBlob | Type::MediumBlob | Type::LongBlob => Type::Varbinary(StringAttr {
            length: None,
            ..StringAttr::default()
        }),
        // sqlx reads YEAR as an unsigned 16-bit integer; codegen would say i32, which never
        // decodes.
        Type::Year => Type::SmallInt(unsigned()),
        // BIT(1) is a bool, which codegen gets right. sqlx reads wider BITs as unsigned integers;
        // codegen would say Vec<u8>.
        Type::Bit(attr) if attr.maximum.unwrap_or(1) > 1 => Type::BigInt(unsigned()),
        Type::Set(set) => Type::Varchar(set.attr.clone()),
        Type::Unknown(name) if is_mariadb_text(name) => Type::Varchar(StringAttr::default()),
        Type::Geometry(_)
        | Type::Point(_)
        | Type::LineString(_)
        | Type::Polygon(_)
        | Type::MultiPoint(_)
        | Type::MultiLineString(_)
        | Type::MultiPolygon(_)
        | Type::GeometryCollection(_) => {
            return Verdict::Unmapped("SeaORM has no Rust type for spatial types".into())
        }
        Type::Unknown(_) => {
            return Verdict::Unmapped("a type duetto has no mapping for".into());
        }
        _ => return Verdict::Native,
    };
    column.col_type = retyped;
    Verdict::Native
}

/// MariaDB's own types that the server sends as strings.
fn is_mariadb_text(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "uuid" | "inet4" | "inet6"
    )
}

fn unsigned() -> NumericAttr {
    NumericAttr {
        unsigned: Some(true),
        ..NumericAttr::default()
    }
}

/// The type as the server names it, for reports.
pub(crate) fn db_type(ty: &Type) -> String {
    match ty {
        Type::Unknown(name) => name.clone(),
        other => {
            let debug = format!("{other:?}");
            debug
                .split(['(', ' '])
                .next()
                .unwrap_or(&debug)
                .to_lowercase()
        }
    }
}
