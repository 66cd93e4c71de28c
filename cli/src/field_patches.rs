//! Writing what codegen cannot be told into the `Model` structs it produced.
//!
//! - The type map's decisions: codegen has no input for `select_as` / `save_as`, marks every
//!   custom-typed field `ignore`, and knows only its own Rust types. Each field read through a
//!   cast gets its `#[sea_orm(…)]` attribute rewritten (`ignore` removed, the casts set); each
//!   field given a type of duetto's gets that type.
//! - Real names: codegen saw [safe names](crate::names); the model names the real table and
//!   columns (`table_name`, `column_name`).
//! - Relation fields that compile: codegen names a relation field after the table it points to,
//!   which clashes with a foreign-key column of that name (`artist.artist`) and repeats when
//!   several foreign keys point to one table. A `belongs_to` field that clashes, or shares its
//!   table with another, becomes `{table}_by_{column}` (`artist_by_entity0`); a `has_one` /
//!   `has_many` field that clashes gets `_rel`; a number is added while a clash remains.

use std::collections::{BTreeMap, BTreeSet};

use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, ExprLit, Lit, Meta, Token};

use crate::error::{CliError, CliResult};
use crate::type_map::{Cast, Patch};

/// How one table's model differs from what codegen writes.
#[derive(Debug, Default, Clone)]
pub(crate) struct ModelFix {
    /// The real table name, when codegen saw another.
    pub(crate) real_table: Option<String>,
    /// Safe column name → real one, for the columns codegen saw under another name.
    pub(crate) real_columns: BTreeMap<String, String>,
    /// Safe column name → the type map's patch.
    pub(crate) patches: BTreeMap<String, Patch>,
}

impl ModelFix {
    pub(crate) fn changes_columns(&self) -> bool {
        self.real_table.is_some() || !self.real_columns.is_empty() || !self.patches.is_empty()
    }
}

/// Safe table name → its fix.
pub(crate) type Fixes = BTreeMap<String, ModelFix>;

/// Fixes the `Model` in `file`; returns the number of type-map patches applied.
pub(crate) fn apply(file: &mut syn::File, fixes: &Fixes) -> CliResult<usize> {
    let mut applied = 0;
    for item in &mut file.items {
        let syn::Item::Struct(model) = item else {
            continue;
        };
        if model.ident != "Model" {
            continue;
        }
        let Some(table) = model.attrs.iter().find_map(|a| string_arg(a, "table_name")) else {
            continue;
        };
        let fix = fixes.get(&table).cloned().unwrap_or_default();
        if let Some(real) = &fix.real_table {
            set_arg(&mut model.attrs, "table_name", real)?;
        }
        for field in model.fields.iter_mut() {
            if is_relation(&field.attrs) {
                continue;
            }
            let Some(column) = field
                .attrs
                .iter()
                .find_map(|a| string_arg(a, "column_name"))
                .or_else(|| field.ident.as_ref().map(|i| i.unraw().to_string()))
            else {
                continue;
            };
            if let Some(patch) = fix.patches.get(&column) {
                match patch {
                    Patch::Cast(cast) => set_casts(&mut field.attrs, cast)?,
                    Patch::RustType(path) => set_type(&mut field.ty, path)?,
                }
                applied += 1;
            }
            if let Some(real) = fix.real_columns.get(&column) {
                set_arg(&mut field.attrs, "column_name", real)?;
            }
        }
        rename_relations(&mut model.fields)?;
    }
    Ok(applied)
}

/// How codegen marks relation fields; `self_ref` is a foreign key to the table itself, which
/// codegen names after the table (and so may clash with a column of that name).
const RELATION_KINDS: [&str; 4] = ["belongs_to", "self_ref", "has_one", "has_many"];

fn relation_kind(attrs: &[Attribute]) -> Option<&'static str> {
    attrs
        .iter()
        .filter_map(sea_orm_args)
        .flatten()
        .find_map(|meta| {
            RELATION_KINDS
                .iter()
                .copied()
                .find(|kind| matches!(&meta, Meta::Path(p) if p.is_ident(kind)))
        })
}

fn is_relation(attrs: &[Attribute]) -> bool {
    relation_kind(attrs).is_some()
}

/// The module of the entity a relation field points to: `super::artist::Entity` → `artist`.
fn target(ty: &syn::Type) -> Option<String> {
    let mut found = None;
    let text = quote_type(ty);
    for part in text.split("super::").skip(1) {
        found = part
            .split("::")
            .next()
            .map(|module| module.trim_start_matches("r#").to_owned());
    }
    found
}

fn quote_type(ty: &syn::Type) -> String {
    use quote::ToTokens;
    ty.to_token_stream().to_string().replace(' ', "")
}

/// Gives relation fields names unique in the model (see the module docs for the rule).
fn rename_relations(fields: &mut syn::Fields) -> CliResult<()> {
    let mut taken: BTreeSet<String> = fields
        .iter()
        .filter(|f| !is_relation(&f.attrs))
        .filter_map(|f| f.ident.as_ref().map(|i| i.unraw().to_string()))
        .collect();
    let mut belongs_to_per_target: BTreeMap<String, usize> = BTreeMap::new();
    for field in fields.iter() {
        if matches!(relation_kind(&field.attrs), Some("belongs_to" | "self_ref")) {
            if let Some(t) = target(&field.ty) {
                *belongs_to_per_target.entry(t).or_default() += 1;
            }
        }
    }
    for field in fields.iter_mut() {
        let Some(kind) = relation_kind(&field.attrs) else {
            continue;
        };
        let Some(ident) = field.ident.clone() else {
            continue;
        };
        let name = ident.unraw().to_string();
        let target = target(&field.ty);
        let shared = target
            .as_ref()
            .is_some_and(|t| belongs_to_per_target.get(t).copied().unwrap_or(0) > 1);
        let mut wanted = name.clone();
        let to_one = matches!(kind, "belongs_to" | "self_ref");
        if to_one && (shared || taken.contains(&name)) {
            let from = field
                .attrs
                .iter()
                .find_map(|a| string_arg(a, "from"))
                .unwrap_or_default();
            let columns: Vec<&str> = from
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|c| !c.is_empty())
                .collect();
            wanted = format!(
                "{}_by_{}",
                target.clone().unwrap_or(name.clone()),
                columns.join("_")
            );
        } else if !to_one && taken.contains(&name) {
            wanted = format!("{name}_rel");
        }
        let mut unique = wanted.clone();
        let mut n = 1;
        while taken.contains(&unique) {
            n += 1;
            unique = format!("{wanted}_{n}");
        }
        taken.insert(unique.clone());
        if unique != name {
            field.ident = Some(syn::parse_str(&unique).map_err(|e| {
                CliError::new(format!("cannot name a relation field `{unique}`: {e}"))
            })?);
        }
    }
    Ok(())
}

/// Sets `key = "value"` in the `#[sea_orm(…)]` attribute, adding the attribute if missing.
fn set_arg(attrs: &mut Vec<Attribute>, key: &str, value: &str) -> CliResult<()> {
    let position = attrs.iter().position(|a| a.path().is_ident("sea_orm"));
    let mut args = match position {
        Some(i) => sea_orm_args(&attrs[i]).ok_or_else(unreadable)?,
        None => Punctuated::new(),
    };
    args = args
        .into_iter()
        .filter(|meta| !meta.path().is_ident(key))
        .collect();
    let key: syn::Ident = syn::parse_str(key).map_err(|e| CliError::new(e.to_string()))?;
    args.push(syn::parse_quote!(#key = #value));
    let attr: Attribute = syn::parse_quote!(#[sea_orm(#args)]);
    match position {
        Some(i) => attrs[i] = attr,
        None => attrs.insert(0, attr),
    }
    Ok(())
}

fn unreadable() -> CliError {
    CliError::new("sea-orm-codegen wrote a #[sea_orm(…)] attribute duetto cannot read")
}

fn sea_orm_args(attr: &Attribute) -> Option<Punctuated<Meta, Token![,]>> {
    if !attr.path().is_ident("sea_orm") {
        return None;
    }
    attr.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
        .ok()
}

/// The string value of `key = "…"` in a `#[sea_orm(…)]` attribute.
fn string_arg(attr: &Attribute, key: &str) -> Option<String> {
    sea_orm_args(attr)?.into_iter().find_map(|meta| match meta {
        Meta::NameValue(nv) if nv.path.is_ident(key) => match nv.value {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    })
}

fn set_casts(attrs: &mut Vec<Attribute>, cast: &Cast) -> CliResult<()> {
    let position = attrs.iter().position(|a| a.path().is_ident("sea_orm"));
    let mut args = match position {
        Some(i) => sea_orm_args(&attrs[i]).ok_or_else(|| {
            CliError::new(
                "sea-orm-codegen wrote a #[sea_orm(…)] field attribute duetto cannot read",
            )
        })?,
        None => Punctuated::new(),
    };
    args = args
        .into_iter()
        .filter(|meta| {
            !["ignore", "select_as", "save_as"]
                .iter()
                .any(|key| meta.path().is_ident(key))
        })
        .collect();
    let (select_as, save_as) = (&cast.select_as, &cast.save_as);
    args.push(syn::parse_quote!(select_as = #select_as));
    args.push(syn::parse_quote!(save_as = #save_as));
    let attr: Attribute = syn::parse_quote!(#[sea_orm(#args)]);
    match position {
        Some(i) => attrs[i] = attr,
        None => attrs.insert(0, attr),
    }
    Ok(())
}

/// Replaces the field's type, or `T` in its `Option<T>`.
fn set_type(ty: &mut syn::Type, path: &str) -> CliResult<()> {
    let new: syn::Type = syn::parse_str(path)
        .map_err(|e| CliError::new(format!("invalid Rust type `{path}`: {e}")))?;
    if let syn::Type::Path(option) = ty {
        if let Some(last) = option.path.segments.last_mut() {
            if last.ident == "Option" {
                if let syn::PathArguments::AngleBracketed(args) = &mut last.arguments {
                    if let Some(syn::GenericArgument::Type(inner)) = args.args.first_mut() {
                        *inner = new;
                        return Ok(());
                    }
                }
            }
        }
    }
    *ty = new;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixes_for<const N: usize>(table: &str, patches: [(String, Patch); N]) -> Fixes {
        let fix = ModelFix {
            patches: patches.into(),
            ..ModelFix::default()
        };
        [(table.to_owned(), fix)].into()
    }

    #[test]
    fn real_names_and_clashing_relations() {
        let mut file: syn::File = syn::parse_quote! {
            #[sea_orm(table_name = "super_")]
            pub struct Model {
                #[sea_orm(primary_key)]
                pub id: i32,
                pub self_: i32,
                pub artist: i32,
                pub entity0: i32,
                pub entity1: i32,
                #[sea_orm(belongs_to, from = "artist", to = "id")]
                pub artist: BelongsTo<super::artist::Entity>,
                #[sea_orm(belongs_to, relation_enum = "Link1", from = "entity0", to = "id")]
                pub link_1: BelongsTo<super::link::Entity>,
                #[sea_orm(belongs_to, relation_enum = "Link2", from = "entity1", to = "id")]
                pub link_2: BelongsTo<Option<super::link::Entity>>,
                #[sea_orm(has_many)]
                pub entity0: HasMany<super::entity0::Entity>,
            }
        };
        let fix = ModelFix {
            real_table: Some("super".into()),
            real_columns: [("self_".to_owned(), "self".to_owned())].into(),
            ..ModelFix::default()
        };
        apply(&mut file, &[("super_".to_owned(), fix)].into()).unwrap();
        let flat = prettyplease::unparse(&file)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        for want in [
            r#"#[sea_orm(table_name = "super")]"#,
            r#"#[sea_orm(column_name = "self")] pub self_: i32"#,
            "pub artist_by_artist: BelongsTo<super::artist::Entity>",
            "pub link_by_entity0: BelongsTo<super::link::Entity>",
            "pub link_by_entity1: BelongsTo<Option<super::link::Entity>>",
            "pub entity0_rel: HasMany<super::entity0::Entity>",
        ] {
            assert!(flat.contains(want), "want {want} in\n{flat}");
        }
    }

    #[test]
    fn an_ignored_custom_field_gets_its_casts_and_loses_ignore() {
        let mut file: syn::File = syn::parse_quote! {
            #[sea_orm(table_name = "t")]
            pub struct Model {
                #[sea_orm(primary_key)]
                pub id: i32,
                #[sea_orm(ignore, column_type = "custom(\"interval\")", select_as = "text", nullable)]
                pub span: Option<String>,
                #[sea_orm(column_name = "Cash")]
                pub cash: Decimal,
            }
        };
        let fixes = fixes_for(
            "t",
            [
                (
                    "span".to_owned(),
                    Patch::Cast(Cast::through("text", "interval")),
                ),
                (
                    "Cash".to_owned(),
                    Patch::Cast(Cast::through("numeric", "money")),
                ),
            ],
        );
        assert_eq!(apply(&mut file, &fixes).unwrap(), 2);
        let text = prettyplease::unparse(&file);
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat.contains(
                r#"column_type = "custom(\"interval\")", nullable, select_as = "text", save_as = "interval" )]"#
            ),
            "{text}"
        );
        assert!(
            flat.contains(
                r#"#[sea_orm(column_name = "Cash", select_as = "numeric", save_as = "money")]"#
            ),
            "{text}"
        );
        assert!(!text.contains("ignore"), "{text}");
    }

    #[test]
    fn a_retyped_field_keeps_its_option() {
        let mut file: syn::File = syn::parse_quote! {
            #[sea_orm(table_name = "t")]
            pub struct Model {
                pub price: Decimal,
                pub maybe: Option<Decimal>,
            }
        };
        let retyped = Patch::RustType("duetto::SqliteDecimal".to_owned());
        let fixes = fixes_for(
            "t",
            [
                ("price".to_owned(), retyped.clone()),
                ("maybe".to_owned(), retyped),
            ],
        );
        assert_eq!(apply(&mut file, &fixes).unwrap(), 2);
        let text = prettyplease::unparse(&file);
        assert!(text.contains("pub price: duetto::SqliteDecimal,"), "{text}");
        assert!(
            text.contains("pub maybe: Option<duetto::SqliteDecimal>,"),
            "{text}"
        );
    }
}
