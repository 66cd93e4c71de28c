//! `duetto generate entity`: discover → select → render → write or check.

use std::collections::BTreeSet;
use std::time::Instant;

use super::args::{EntityArgs, EntityFormat};
use super::check;
use super::connect::Target;
use super::discover::{self, Table};
use super::error::{CliError, CliResult};
use super::field_patches::Fixes;
use super::output;
use super::render;
use super::select::Selection;

/// How a successful run ended.
pub(crate) enum Outcome {
    /// Files written, or `--check` found DIR current.
    Done,
    /// `--check` found differences (already reported).
    Drifted,
}

pub(crate) fn entity(args: &EntityArgs) -> CliResult<Outcome> {
    let target = Target::parse(&args.database_url)?;
    let dir = args.output_dir.as_path();
    // Output problems are found before the database is contacted, so they are reported at once.
    if args.check {
        output::ensure_usable(dir)?;
    } else {
        output::ensure_replaceable(dir)?;
    }
    if args.database_schema.is_some() && !target.is_postgres() {
        eprintln!("note: --database-schema only applies to PostgreSQL; ignoring it");
    }
    let pg_schema = args
        .database_schema
        .clone()
        .unwrap_or_else(|| "public".into());
    // Like sea-orm-cli: entities name their schema only when asked to, so the default
    // (search_path) keeps working for `public`.
    let schema_name = args
        .database_schema
        .clone()
        .filter(|_| target.is_postgres());

    let started = Instant::now();
    eprintln!("Connecting to {} …", target.redacted);
    let chosen = read_schema(target, pg_schema, args)?;

    let mut skipped = Vec::new();
    let mut unmapped = Vec::new();
    let mut fixes = Fixes::new();
    let mut statements = Vec::new();
    for table in chosen {
        // A table skipped for its unmapped primary key still fails the run without
        // --allow-unmapped; one skipped for another reason is not generated at all.
        if table.skip.is_none() || table.skip.as_deref() == Some(discover::UNMAPPED_KEY) {
            for column in &table.unmapped {
                eprintln!("unmapped: {column}");
            }
            unmapped.extend(table.unmapped);
        }
        if let Some(reason) = &table.skip {
            eprintln!("skipped: {} ({reason})", table.name);
            skipped.push(format!("{}: {reason}", table.name));
            continue;
        }
        for note in &table.notes {
            eprintln!("note: {note}");
        }
        if table.fix.changes_columns() {
            fixes.insert(table.safe_name.clone(), table.fix);
        }
        statements.push(table.create);
    }
    if !unmapped.is_empty() && !args.allow_unmapped {
        return Err(CliError::new(format!(
            "{} no Rust type (listed above); change {} or pass --allow-unmapped to generate the \
             entities without {}",
            if unmapped.len() == 1 {
                "1 column has".to_owned()
            } else {
                format!("{} columns have", unmapped.len())
            },
            if unmapped.len() == 1 {
                "its type"
            } else {
                "their types"
            },
            if unmapped.len() == 1 { "it" } else { "them" },
        )));
    }
    if args.entity_format == EntityFormat::Expanded && !fixes.is_empty() {
        let tables: Vec<&str> = fixes
            .iter()
            .map(|(safe, fix)| fix.real_table.as_deref().unwrap_or(safe))
            .collect();
        return Err(CliError::new(format!(
            "{} need SQL casts, a type of duetto's or a name other than the real one, which \
             --entity-format expanded cannot express; use dense or compact",
            tables.join(", ")
        )));
    }
    if statements.is_empty() {
        return Err(CliError::new(
            "no table left to generate: every selected table was skipped (listed above)",
        ));
    }
    let entities = statements.len();
    if !args.lib && entities > 100 {
        eprintln!(
            "note: checking that this many related entities are Send can exceed rustc's default \
             recursion limit; if the crate then fails with E0275, add #![recursion_limit = \"256\"] \
             to its root (with --lib, lib.rs has it)"
        );
    }

    let files = render::files(statements, args, schema_name, &fixes)?;
    let summary = |verb: &str| {
        let mut line = format!(
            "{verb} {} for {} in {:.1} s",
            plural(files.len(), "file"),
            plural(entities, "table"),
            started.elapsed().as_secs_f64()
        );
        if !skipped.is_empty() {
            line.push_str(&format!(
                "; skipped {} ({})",
                plural(skipped.len(), "table"),
                skipped.join("; ")
            ));
        }
        if !unmapped.is_empty() {
            line.push_str(&format!(
                "; left out {} without a Rust type (--allow-unmapped)",
                plural(unmapped.len(), "column")
            ));
        }
        line
    };

    if args.check {
        let drift = check::compare(&files, &output::read(dir)?);
        if drift.is_empty() {
            eprintln!(
                "{} is up to date ({})",
                dir.display(),
                plural(files.len(), "file")
            );
            eprintln!("{}", summary("Checked"));
            Ok(Outcome::Done)
        } else {
            eprintln!(
                "{} is out of date ({}); run without --check to regenerate:",
                dir.display(),
                drift.counts()
            );
            eprint!("{}", drift.report());
            eprintln!("{}", summary("Checked"));
            Ok(Outcome::Drifted)
        }
    } else {
        output::replace(dir, &files)?;
        eprintln!("Wrote {} to {}", plural(files.len(), "file"), dir.display());
        eprintln!("{}", summary("Generated"));
        Ok(Outcome::Done)
    }
}

/// Connects, lists the tables, applies the selection, discovers the chosen ones and
/// disconnects, on duetto's home runtime.
fn read_schema(target: Target, pg_schema: String, args: &EntityArgs) -> CliResult<Vec<Table>> {
    let (only, ignore) = (args.tables.clone(), args.ignore_tables.clone());
    let include_hidden = args.include_hidden_tables;
    let reading = async move {
        let selection = Selection {
            only: &only,
            ignore: &ignore,
            include_hidden,
        };
        let pool = target.connect().await?;
        let names = discover::names(&pool, &pg_schema).await?;
        eprintln!(
            "Found {}: {}",
            plural(names.len(), "table"),
            names.join(", ")
        );
        let available: Vec<&str> = names.iter().map(String::as_str).collect();
        let chosen: BTreeSet<String> = selection
            .apply(&available)?
            .into_iter()
            .map(str::to_owned)
            .collect();
        if chosen.len() != names.len() {
            let listed: Vec<&str> = chosen.iter().map(String::as_str).collect();
            eprintln!("Generating {} of them: {}", chosen.len(), listed.join(", "));
        }
        eprintln!("Discovering schema …");
        let tables = discover::tables(&pool, &pg_schema, &chosen).await;
        pool.close().await;
        tables
    };
    duetto::bridge::async_to_sync(reading).map_err(|e| CliError::new(e.to_string()))?
}

fn plural(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}
