//! `duetto-cli`: the `duetto` command line, a crate of its own so that applications depending on
//! `duetto` never compile clap, sea-schema, sea-orm-codegen or a formatter.
//!
//! ```text
//! cargo install --path cli            # or, inside this workspace:
//! cargo run -p duetto-cli -- generate entity -u sqlite://app.db -o entity/src --lib
//! ```
//!
//! `duetto generate entity` reads the schema of an existing SQLite, PostgreSQL or MySQL/MariaDB
//! database (sea-schema discovery), turns it into SeaORM 2 entities (sea-orm-codegen) and formats
//! them in-process (prettyplease), so the same schema always yields the same bytes on every machine.
//! The entities are plain SeaORM entities: duetto's paired API (`objects()`, `aget`/`get`, …)
//! applies to them with no extra code. `--check` compares instead of writing, for CI.
//!
//! The binary is a thin wrapper: parse with [`Cli`], hand it to [`run`].
//!
//! ```no_run
//! use clap::Parser;
//!
//! let code = duetto_cli::run(duetto_cli::Cli::parse());
//! # let _ = code;
//! ```

mod args;
mod check;
mod connect;
mod discover;
mod error;
mod field_patches;
mod generate;
mod mysql_catalog;
mod names;
mod output;
mod pg_catalog;
mod render;
mod select;
pub mod type_map;

use std::process::ExitCode;

pub use args::{Cli, Command, DateTimeCrate, EntityArgs, EntityFormat, Generate, Prelude, Serde};

/// Exit status when `--check` finds the output directory out of date.
///
/// ```
/// // CI scripts tell "regenerate" from "broken" by it.
/// assert_eq!((duetto_cli::EXIT_DRIFT, duetto_cli::EXIT_ERROR), (1, 2));
/// ```
pub const EXIT_DRIFT: u8 = 1;
/// Exit status for any error (bad arguments, unreachable database, unwritable directory, columns
/// without a Rust type when `--allow-unmapped` is not given, …). See [`EXIT_DRIFT`]'s example.
pub const EXIT_ERROR: u8 = 2;

/// Runs a parsed command line and returns the process exit status: 0 on success, [`EXIT_DRIFT`]
/// when `--check` found differences, [`EXIT_ERROR`] after printing a one-line `error: …` to
/// stderr.
///
/// ```
/// use clap::Parser;
/// use duetto_cli::{run, Cli};
///
/// let dir = tempfile::tempdir()?;
/// let db = dir.path().join("app.db");
/// let url = format!("sqlite://{}?mode=rwc", db.display());
/// let db = duetto::Db::connect_blocking(&url)?;
/// db.run(|conn| async move {
///     use duetto::sea_orm::ConnectionTrait;
///     conn.execute_unprepared("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
///         .await
/// })?;
/// let out = dir.path().join("entities");
/// let argv = ["duetto", "generate", "entity", "-u", &url, "-o", out.to_str().unwrap()];
/// assert_eq!(run(Cli::parse_from(argv)), std::process::ExitCode::SUCCESS);
/// assert!(out.join("note.rs").exists());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn run(cli: Cli) -> ExitCode {
    let outcome = match cli.command {
        Command::Generate(Generate::Entity(args)) => generate::entity(&args),
    };
    match outcome {
        Ok(generate::Outcome::Done) => ExitCode::SUCCESS,
        Ok(generate::Outcome::Drifted) => ExitCode::from(EXIT_DRIFT),
        Err(err) => {
            eprintln!("error: {}", err.one_line());
            ExitCode::from(EXIT_ERROR)
        }
    }
}
