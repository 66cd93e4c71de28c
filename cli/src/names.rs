//! Names that always compile: the identifiers codegen is given for tables and columns.
//!
//! Codegen turns a table name into a module, a file and a type, and a column name into a field,
//! as they are. Some names cannot be any of those: `super` panics it, `self` and `crate` overwrite
//! nothing but do not compile, a table named `prelude` or `lib` overwrites the file of that name,
//! `FooBar` next to `foo_bar` (or `café` next to `cafe`) gives two modules one file. So every name
//! is first given a *safe* form, and codegen sees only safe names; the generated entities then
//! say the real name (`table_name = "…"`, `column_name = "…"`), so they query what is there.
//!
//! The rule, applied per table (tables) and per table's columns (columns):
//!
//! 1. Characters other than ASCII letters, digits and `_` become `_` (space, `-`, `.`) or
//!    `_x{hex}` (any other, e.g. `é` → `_xe9`); a leading digit gets a `t_` prefix.
//! 2. A name whose snake_case form is a Rust keyword, or a table name that is also a generated
//!    file's (`prelude`, `lib`, `mod`, `sea_orm_active_enums`), gets a suffix: `_table` for a
//!    table, `_column` for a column (`super` → `super_table`, `type` → `type_column`). Not raw
//!    identifiers: `self`, `super` and `crate` cannot be raw, and SeaORM's derive does not resolve
//!    `from = "r#type"`.
//! 3. Names whose snake_case forms clash are taken in byte order of their real names; the first
//!    keeps its form, the next ones get `_2`, `_3`, … until unique.

use std::collections::{BTreeMap, BTreeSet};

use heck::{ToSnakeCase, ToUpperCamelCase};

/// Rust's keywords, strict and reserved, of every edition (besides [`NOT_RAW`]).
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

/// Keywords that cannot be raw identifiers, in snake_case (`Self` becomes `self`).
const NOT_RAW: &[&str] = &["self", "super", "crate"];

/// File names the generator writes besides the entities.
const RESERVED_MODULES: &[&str] = &["lib", "mod", "prelude", "sea_orm_active_enums"];

/// Real name → safe name, for one namespace (the tables, or one table's columns).
#[derive(Debug, Default, Clone)]
pub(crate) struct Renames {
    safe: BTreeMap<String, String>,
}

impl Renames {
    /// Safe names for `names`, unique in this namespace. `modules` adds the rule for file names.
    pub(crate) fn plan<'a>(names: impl IntoIterator<Item = &'a str>, modules: bool) -> Renames {
        let unique: BTreeSet<&str> = names.into_iter().collect();
        let mut taken_snake = BTreeSet::new();
        let mut taken_camel = BTreeSet::new();
        let mut safe = BTreeMap::new();
        for name in unique {
            let base = sanitize(name, modules);
            let mut candidate = base.clone();
            let mut n = 1;
            loop {
                let snake = candidate.to_snake_case();
                let camel = candidate.to_upper_camel_case();
                if !taken_snake.contains(&snake) && !taken_camel.contains(&camel) {
                    taken_snake.insert(snake);
                    taken_camel.insert(camel);
                    break;
                }
                n += 1;
                candidate = format!("{base}_{n}");
            }
            safe.insert(name.to_owned(), candidate);
        }
        Renames { safe }
    }

    /// The safe form of `name` (itself if unplanned).
    pub(crate) fn get<'a>(&'a self, name: &'a str) -> &'a str {
        self.safe.get(name).map_or(name, String::as_str)
    }

    /// Safe name → real name, for the names that changed.
    pub(crate) fn changed(&self) -> BTreeMap<String, String> {
        self.safe
            .iter()
            .filter(|(real, safe)| real != safe)
            .map(|(real, safe)| (safe.clone(), real.clone()))
            .collect()
    }
}

fn sanitize(name: &str, module: bool) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' => out.push(c),
            ' ' | '-' | '.' => out.push('_'),
            other => out.push_str(&format!("_x{:x}", other as u32)),
        }
    }
    // Judged on the snake_case form codegen makes, which drops leading and trailing `_`: `_`,
    // `-` or `_1` would otherwise give an empty identifier or one starting with a digit.
    let snake = out.to_snake_case();
    let core = snake.trim_start_matches('_');
    if core.is_empty() || core.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "t_");
    }
    // heck, which codegen applies, drops a trailing `_`: the suffix must be a word.
    let snake = out.to_snake_case();
    if NOT_RAW.contains(&snake.as_str())
        || KEYWORDS.contains(&snake.as_str())
        || (module && RESERVED_MODULES.contains(&snake.as_str()))
    {
        out.push_str(if module { "_table" } else { "_column" });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_gets_a_unique_compiling_form() {
        let renames = Renames::plan(
            [
                "super", "self", "crate", "type", "prelude", "lib", "FooBar", "foo_bar", "café",
                "2fa", "order", "my-table", "_", "_1",
            ],
            true,
        );
        for (real, safe) in [
            ("super", "super_table"),
            ("self", "self_table"),
            ("crate", "crate_table"),
            ("type", "type_table"),
            ("prelude", "prelude_table"),
            ("lib", "lib_table"),
            // Byte order: "FooBar" < "foo_bar", so `FooBar` keeps its form.
            ("FooBar", "FooBar"),
            ("foo_bar", "foo_bar_2"),
            ("café", "caf_xe9"),
            ("2fa", "t_2fa"),
            ("_", "t__"),
            ("_1", "t__1"),
            ("order", "order"),
            ("my-table", "my_table"),
        ] {
            assert_eq!(renames.get(real), safe, "{real}");
        }
        let columns = Renames::plan(["prelude", "type", "Self", "self"], false);
        assert_eq!(
            columns.get("prelude"),
            "prelude",
            "only modules avoid file names"
        );
        assert_eq!(columns.get("type"), "type_column");
        assert_eq!(columns.get("Self"), "Self_column");
        assert_eq!(columns.get("self"), "self_column_2");
    }
}
