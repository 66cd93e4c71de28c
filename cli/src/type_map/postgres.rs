//! PostgreSQL columns. sqlx decodes a fixed set of types; the rest travel as text through casts,
//! which PostgreSQL defines for every type.

use sea_schema::postgres::def::{ColumnInfo, Type};

use super::{Cast, Verdict};

/// The verdict on `column`, after retyping it for codegen where it is read through a cast.
pub(crate) fn map(column: &mut ColumnInfo) -> Verdict {
    if let Some(save_as) = text_form(&column.col_type) {
        // Codegen gives a custom type a `String` field; the casts make that field real.
        column.col_type = Type::Unknown(save_as.clone());
        return Verdict::Cast(Cast::through("text", &save_as));
    }
    match &column.col_type {
        Type::Money => {
            // `money` decodes as nothing, and its text form depends on lc_monetary; `numeric`
            // converts both ways exactly.
            column.col_type = Type::Numeric(Default::default());
            Verdict::Cast(Cast::through("numeric", "money"))
        }
        Type::Point
        | Type::Line
        | Type::Lseg
        | Type::Box
        | Type::Path
        | Type::Polygon
        | Type::Circle
        | Type::Xml => Verdict::Unmapped(
            "PostgreSQL has no `=` operator for this type, so an entity could not filter on it"
                .into(),
        ),
        Type::Array(array) => match array.col_type.as_deref() {
            Some(element) if native_array_element(element) => Verdict::Native,
            _ => Verdict::Unmapped(
                "arrays map only when their element type is one SeaORM decodes natively \
                 (integers, floats, numeric, text, boolean, dates and times, uuid, jsonb)"
                    .into(),
            ),
        },
        Type::Unknown(_) => Verdict::Unmapped(
            "a composite, extension or other type duetto has no mapping for".into(),
        ),
        _ => Verdict::Native,
    }
}

/// The type written in a cast, for the types read and written as their text form.
fn text_form(ty: &Type) -> Option<String> {
    let name = match ty {
        Type::Interval(_) => "interval",
        Type::Bit(bits) => return Some(format!("bit({})", bits.length.unwrap_or(1))),
        Type::VarBit(_) => "varbit",
        Type::TsVector => "tsvector",
        Type::TsQuery => "tsquery",
        Type::MacAddr => "macaddr",
        Type::MacAddr8 => "macaddr8",
        Type::Inet => "inet",
        Type::Cidr => "cidr",
        Type::TimeWithTimeZone(_) => "timetz",
        Type::Int4Range => "int4range",
        Type::Int8Range => "int8range",
        Type::NumRange => "numrange",
        Type::TsRange => "tsrange",
        Type::TsTzRange => "tstzrange",
        Type::DateRange => "daterange",
        Type::PgLsn => "pg_lsn",
        Type::Unknown(name) if matches!(name.as_str(), "citext" | "hstore" | "ltree") => name,
        _ => return None,
    };
    Some(name.to_owned())
}

fn native_array_element(ty: &Type) -> bool {
    matches!(
        ty,
        Type::SmallInt
            | Type::Integer
            | Type::BigInt
            | Type::Real
            | Type::DoublePrecision
            | Type::Numeric(_)
            | Type::Decimal(_)
            | Type::Varchar(_)
            | Type::Char(_)
            | Type::Text
            | Type::Boolean
            | Type::Date
            | Type::Time(_)
            | Type::Timestamp(_)
            | Type::TimestampWithTimeZone(_)
            | Type::Uuid
            // Not json: without `=` for it, a json[] could not be filtered on either.
            | Type::JsonBinary
    )
}

/// The type as PostgreSQL names it, for reports.
pub(crate) fn db_type(ty: &Type) -> String {
    match ty {
        Type::Unknown(name) => name.clone(),
        Type::Array(array) => match array.col_type.as_deref() {
            Some(element) => format!("{}[]", db_type(element)),
            None => "array".into(),
        },
        Type::Enum(def) => def.typename.clone(),
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
