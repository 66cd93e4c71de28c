//! `duetto generate entity`: discover → select → render → write or check.

use super::args::EntityArgs;
use super::check;
use super::connect::Target;
use super::discover::{self, Table};
use super::error::{CliError, CliResult};
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

    eprintln!("Connecting to {} …", target.redacted);
    let tables = read_schema(target, pg_schema)?;
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    eprintln!(
        "Found {}: {}",
        plural(names.len(), "table"),
        names.join(", ")
    );

    let selection = Selection {
        only: &args.tables,
        ignore: &args.ignore_tables,
        include_hidden: args.include_hidden_tables,
    };
    let chosen: Vec<String> = selection
        .apply(&names)?
        .into_iter()
        .map(str::to_owned)
        .collect();
    if chosen.len() != names.len() {
        eprintln!("Generating {} of them: {}", chosen.len(), chosen.join(", "));
    }
    let statements = tables
        .into_iter()
        .filter(|t| chosen.contains(&t.name))
        .map(|t| t.create)
        .collect();

    let files = render::files(statements, args, schema_name)?;

    if args.check {
        let drift = check::compare(&files, &output::read(dir)?);
        if drift.is_empty() {
            eprintln!(
                "{} is up to date ({})",
                dir.display(),
                plural(files.len(), "file")
            );
            Ok(Outcome::Done)
        } else {
            eprintln!(
                "{} is out of date ({}); run without --check to regenerate:",
                dir.display(),
                drift.counts()
            );
            eprint!("{}", drift.report());
            Ok(Outcome::Drifted)
        }
    } else {
        output::replace(dir, &files)?;
        eprintln!("Wrote {} to {}", plural(files.len(), "file"), dir.display());
        Ok(Outcome::Done)
    }
}

/// Connects, discovers and disconnects, on duetto's home runtime.
fn read_schema(target: Target, pg_schema: String) -> CliResult<Vec<Table>> {
    let reading = async move {
        let pool = target.connect().await?;
        eprintln!("Discovering schema …");
        let tables = discover::tables(&pool, &pg_schema).await;
        pool.close().await;
        tables
    };
    duetto::bridge::async_to_sync(reading).map_err(|e| CliError::new(e.to_string()))?
}

fn plural(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}
