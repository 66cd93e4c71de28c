//! Turning `CREATE TABLE` statements into formatted entity files (sea-orm-codegen + prettyplease).

use std::collections::BTreeMap;

use duetto::sea_orm::sea_query::{ColumnType, TableCreateStatement};
use sea_orm_codegen::{
    BannerVersion, BigIntegerType, EntityTransformer, EntityWriterContext, WithPrelude, WithSerde,
};

use super::args::{DateTimeCrate, EntityArgs, EntityFormat, Prelude, Serde};
use super::error::{CliError, CliResult};
use super::field_patches::{self, Fixes};

/// The first line of every file carries `@generated`; this is how DIR's files are recognised as
/// the generator's own (see `output`).
pub(crate) const GENERATED_MARKER: &str = "@generated";

/// File name → contents, ordered by name.
pub(crate) type Files = BTreeMap<String, String>;

/// Generates and formats every file for `tables`, with `fixes` written into the
/// models.
pub(crate) fn files(
    tables: Vec<TableCreateStatement>,
    args: &EntityArgs,
    pg_schema_name: Option<String>,
    fixes: &Fixes,
) -> CliResult<Files> {
    let odd_labels = odd_enum_labels(&tables);
    for (enum_name, label) in &odd_labels {
        eprintln!(
            "note: enum {enum_name}: label {label:?} is no Rust identifier; its variant is named \
             after its UTF-8 bytes (the stored value stays {label:?})"
        );
    }
    let writer = EntityTransformer::transform(tables)
        .map_err(|e| CliError::new(format!("cannot turn the schema into entities: {e}")))?;
    let output = {
        // Codegen prints its own warning about such labels to stdout, which is the caller's
        // (`--check` in a pipeline, a script capturing output): said on stderr above instead.
        let _silenced = if odd_labels.is_empty() {
            None
        } else {
            gag::Gag::stdout().ok()
        };
        writer.generate(&context(args, pg_schema_name))
    };
    let mut applied = 0;
    let files = output
        .files
        .into_iter()
        .map(|file| {
            let (formatted, n) = format(&file.name, &file.content, fixes)?;
            applied += n;
            Ok((file.name, formatted))
        })
        .collect::<CliResult<Files>>()?;
    let wanted: usize = fixes.values().map(|fix| fix.patches.len()).sum();
    if args.entity_format != EntityFormat::Frontend && applied != wanted {
        // A patch that did not land would leave a field codegen marked `ignore` or typed wrong:
        // the silent failure the type map exists to prevent.
        return Err(CliError::new(format!(
            "{} of {wanted} column types or casts did not land in the generated models",
            wanted.abs_diff(applied)
        )));
    }
    Ok(files)
}

/// Codegen spells an odd label's variant after its bytes (`n/a` → `nU002Fa`), which the
/// `non_camel_case_types` lint flags; the variant is renamed UpperCamelCase (the label, in
/// `string_value`, is untouched), with a number added if that clashes.
fn camel_case_variants(file: &mut syn::File) {
    use heck::ToUpperCamelCase;
    for item in &mut file.items {
        let syn::Item::Enum(active_enum) = item else {
            continue;
        };
        let mut taken: std::collections::BTreeSet<String> = active_enum
            .variants
            .iter()
            .map(|v| v.ident.to_string())
            .collect();
        for variant in &mut active_enum.variants {
            let name = variant.ident.to_string();
            let camel = name.to_upper_camel_case();
            if camel == name || camel.is_empty() || camel.starts_with(|c: char| c.is_ascii_digit())
            {
                continue;
            }
            let mut unique = camel.clone();
            let mut n = 1;
            while taken.contains(&unique) {
                n += 1;
                unique = format!("{camel}{n}");
            }
            taken.insert(unique.clone());
            variant.ident = syn::Ident::new(&unique, variant.ident.span());
        }
    }
}

/// (enum, label) for each enum label codegen cannot turn into a variant name as it is.
fn odd_enum_labels(tables: &[TableCreateStatement]) -> Vec<(String, String)> {
    let mut odd = Vec::new();
    for table in tables {
        for column in table.get_columns() {
            let Some(ColumnType::Enum { name, variants }) = column.get_column_type() else {
                continue;
            };
            for variant in variants {
                let label = variant.to_string();
                let trimmed = label.trim();
                let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ' ');
                if trimmed.is_empty() || !trimmed.chars().all(plain) {
                    odd.push((name.to_string(), label));
                }
            }
        }
    }
    odd.sort();
    odd.dedup();
    odd
}

fn context(args: &EntityArgs, schema_name: Option<String>) -> EntityWriterContext {
    let entity_format = match args.entity_format {
        EntityFormat::Dense => sea_orm_codegen::EntityFormat::Dense,
        EntityFormat::Compact => sea_orm_codegen::EntityFormat::Compact,
        EntityFormat::Expanded => sea_orm_codegen::EntityFormat::Expanded,
        EntityFormat::Frontend => sea_orm_codegen::EntityFormat::Frontend,
    };
    let with_prelude = match args.with_prelude {
        // A bin crate that does not use every entity through the prelude would warn about its
        // re-exports: generated code compiles without warnings wherever it is put.
        Prelude::All => WithPrelude::AllAllowUnusedImports,
        Prelude::None => WithPrelude::None,
        Prelude::AllAllowUnusedImports => WithPrelude::AllAllowUnusedImports,
    };
    let with_serde = match args.with_serde {
        Serde::None => WithSerde::None,
        Serde::Serialize => WithSerde::Serialize,
        Serde::Deserialize => WithSerde::Deserialize,
        Serde::Both => WithSerde::Both,
    };
    let date_time_crate = match args.date_time_crate {
        DateTimeCrate::Chrono => sea_orm_codegen::DateTimeCrate::Chrono,
        DateTimeCrate::Time => sea_orm_codegen::DateTimeCrate::Time,
    };
    EntityWriterContext::new(
        entity_format,
        with_prelude,
        with_serde,
        false, // with_copy_enums
        date_time_crate,
        BigIntegerType::I64,
        schema_name,
        args.lib,
        false,  // serde_skip_deserializing_primary_key
        false,  // serde_skip_hidden_column
        vec![], // model_extra_derives
        vec![], // model_extra_attributes
        vec![], // enum_extra_derives
        vec![], // enum_extra_attributes
        vec![], // column_extra_derives
        false,  // seaography
        true,   // impl_active_model_behavior
        // Minor: a patch release of codegen must not make every committed entity "drift".
        BannerVersion::Minor,
    )
}

/// Formats codegen's token text with prettyplease.
///
/// prettyplease is a library pinned by Cargo.lock, so the bytes do not depend on which rustfmt a
/// machine has; `cargo fmt` is then told to skip the file, or it would reformat it and make
/// `--check` report drift.
fn format(name: &str, content: &str, fixes: &Fixes) -> CliResult<(String, usize)> {
    let mut file = syn::parse_file(content).map_err(|e| {
        CliError::new(format!(
            "sea-orm-codegen produced `{name}` that does not parse: {e}"
        ))
    })?;
    let insert_at = file
        .attrs
        .iter()
        .take_while(|attr| attr.path().is_ident("doc"))
        .count();
    let ours: [syn::Attribute; 2] = [
        syn::parse_quote!(
            #![doc = " Do not edit: regenerate with `duetto generate entity` (`--check` tells when to)."]
        ),
        syn::parse_quote!(#![cfg_attr(rustfmt, rustfmt::skip)]),
    ];
    file.attrs.splice(insert_at..insert_at, ours);
    if name == "lib.rs" {
        // SeaORM 2's models link every entity to its relations' (`ModelEx`), and checking that
        // such a graph is `Send` exceeds rustc's default depth of 128 on schemas of a few hundred
        // tables (MusicBrainz). Only a crate root can raise it.
        file.attrs.insert(
            insert_at + 2,
            syn::parse_quote!(#![recursion_limit = "256"]),
        );
    }
    let applied = field_patches::apply(&mut file, fixes)?;
    camel_case_variants(&mut file);
    let compact: String = content.split_whitespace().collect();
    if compact.contains("sea_orm::") {
        // SeaORM's derives emit items (`ModelEx`, …) a crate may never use; in a bin crate, each
        // unused entity would then warn.
        file.attrs
            .insert(insert_at + 2, syn::parse_quote!(#![allow(dead_code)]));
        // The derives expand to `sea_orm::…` paths, which resolve through this import: the
        // entities compile in a crate whose only dependency is duetto.
        file.items.insert(
            0,
            syn::parse_quote!(
                use duetto::sea_orm;
            ),
        );
    }
    Ok((spaced(file), applied))
}

/// prettyplease prints items back to back; separate them with a blank line as rustfmt-formatted
/// code usually is, keeping runs of `use` and of `mod` declarations together.
fn spaced(file: syn::File) -> String {
    #[derive(PartialEq)]
    enum Group {
        Use,
        Mod,
        Other,
    }
    let unparse = |attrs, items| {
        prettyplease::unparse(&syn::File {
            shebang: None,
            attrs,
            items,
        })
    };
    let mut text = unparse(file.attrs, Vec::new());
    let mut previous = None;
    for item in file.items {
        let group = match &item {
            syn::Item::Use(_) => Group::Use,
            syn::Item::Mod(module) if module.content.is_none() => Group::Mod,
            _ => Group::Other,
        };
        if previous.as_ref() != Some(&group) || group == Group::Other {
            text.push('\n');
        }
        text.push_str(&unparse(Vec::new(), vec![item]));
        previous = Some(group);
    }
    text
}
