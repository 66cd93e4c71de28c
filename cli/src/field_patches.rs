//! Writing the type map's decisions into the `Model` structs codegen produced.
//!
//! Codegen has no input for `select_as` / `save_as`, marks every custom-typed field `ignore`, and
//! knows only its own Rust types. Each field the type map reads through a cast gets its
//! `#[sea_orm(…)]` attribute rewritten here (`ignore` removed, the casts set); each field given a
//! type of duetto's gets that type.

use std::collections::BTreeMap;

use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, ExprLit, Lit, Meta, Token};

use crate::error::{CliError, CliResult};
use crate::type_map::{Cast, Patch};

/// Table → column → patch.
pub(crate) type Patches = BTreeMap<String, BTreeMap<String, Patch>>;

/// Applies the patches of the table whose `Model` is in `file`; returns how many fields it
/// changed.
pub(crate) fn apply(file: &mut syn::File, patches: &Patches) -> CliResult<usize> {
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
        let Some(columns) = patches.get(&table) else {
            continue;
        };
        for field in model.fields.iter_mut() {
            let column = field
                .attrs
                .iter()
                .find_map(|a| string_arg(a, "column_name"))
                .or_else(|| field.ident.as_ref().map(|i| i.unraw().to_string()));
            let Some(patch) = column.as_ref().and_then(|c| columns.get(c)) else {
                continue;
            };
            match patch {
                Patch::Cast(cast) => set_casts(&mut field.attrs, cast)?,
                Patch::RustType(path) => set_type(&mut field.ty, path)?,
            }
            applied += 1;
        }
    }
    Ok(applied)
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
        let patches: Patches = [(
            "t".to_owned(),
            [
                (
                    "span".to_owned(),
                    Patch::Cast(Cast::through("text", "interval")),
                ),
                (
                    "Cash".to_owned(),
                    Patch::Cast(Cast::through("numeric", "money")),
                ),
            ]
            .into(),
        )]
        .into();
        assert_eq!(apply(&mut file, &patches).unwrap(), 2);
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
        let patches: Patches = [(
            "t".to_owned(),
            [
                ("price".to_owned(), retyped.clone()),
                ("maybe".to_owned(), retyped),
            ]
            .into(),
        )]
        .into();
        assert_eq!(apply(&mut file, &patches).unwrap(), 2);
        let text = prettyplease::unparse(&file);
        assert!(text.contains("pub price: duetto::SqliteDecimal,"), "{text}");
        assert!(
            text.contains("pub maybe: Option<duetto::SqliteDecimal>,"),
            "{text}"
        );
    }
}
