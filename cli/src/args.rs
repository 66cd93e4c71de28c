//! The command line, as clap parses it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// duetto's command line: generates SeaORM entities, which get duetto's paired API, from an
/// existing database.
///
/// ```
/// use clap::Parser;
/// use duetto_cli::{Cli, Command, Generate};
///
/// let cli = Cli::parse_from(["duetto", "generate", "entity", "-u", "sqlite://app.db", "-o", "src/entities"]);
/// let Command::Generate(Generate::Entity(args)) = cli.command;
/// assert_eq!(args.output_dir, std::path::Path::new("src/entities"));
/// assert!(!args.allow_unmapped);
/// ```
#[derive(Debug, Parser)]
#[command(name = "duetto", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The top-level commands. See [`Cli`]'s example.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate code from a database.
    #[command(subcommand)]
    Generate(Generate),
}

/// What `duetto generate` can produce. See [`Cli`]'s example.
#[derive(Debug, Subcommand)]
pub enum Generate {
    /// Generate SeaORM 2 entities from an existing database's schema.
    ///
    /// The entities are plain SeaORM entities, so duetto's paired API (`objects()`, `aget`/`get`,
    /// `acount`/`count`, …) works on them with no extra code.
    #[command(after_long_help = ENTITY_AFTER_HELP)]
    Entity(EntityArgs),
}

const ENTITY_AFTER_HELP: &str = "\
OUTPUT DIRECTORY:
  DIR belongs to the generator. Writing replaces it as a whole: everything is generated in a
  temporary directory next to DIR first, which then takes DIR's place, so an error never leaves
  partial files behind. Files in DIR that the generator no longer produces (e.g. for a dropped
  table) are removed. To protect hand-written code, writing refuses to start if DIR holds anything
  other than generated `.rs` files (first line containing `@generated`).

  Every file is formatted in-process with prettyplease and starts with
  `#![cfg_attr(rustfmt, rustfmt::skip)]`, so `cargo fmt` leaves it alone and `--check` stays exact.

CHECK MODE:
  `--check` writes nothing. It compares DIR with what would be generated and lists each file as
  added (missing from DIR), removed (in DIR but not generated) or changed (with its first
  differing lines). Line endings (CRLF/LF) are ignored.

TYPES:
  Every column gets a Rust type that round-trips (insert, read back, filter), possibly through SQL
  casts (PostgreSQL money as numeric, interval as text, ...), or is reported on stderr as
  `unmapped: table.column (type): why` and the run fails with exit status 2. --allow-unmapped
  generates anyway, leaving those columns out of their entities. Tables without a primary key
  are skipped with a `skipped:` line. The full map is in duetto-cli's docs (duetto_cli::type_map).

OUTPUT STREAMS:
  Progress, the report, the summary and the --check report go to stderr; stdout stays empty.
  The last line is a summary (tables, files, seconds, what was skipped) or an `error:` line.

EXIT STATUS:
  0  generated, or --check found DIR up to date
  1  --check found DIR out of date
  2  error (bad arguments, unreachable database, unknown table, unusable DIR, unmapped columns
     without --allow-unmapped, ...)

EXAMPLES:
  duetto generate entity -u sqlite://app.db -o entity/src --lib
  duetto generate entity -u postgres://me@localhost/shop -s sales -o src/entities
  duetto generate entity -u mysql://root@localhost/shop -o src/entities --tables user,post
  duetto generate entity -u sqlite://app.db -o entity/src --lib --check";

/// Options of `duetto generate entity`. See [`Cli`]'s example.
#[derive(Debug, Clone, Args)]
pub struct EntityArgs {
    /// Database to read the schema from: sqlite:PATH, postgres://…, postgresql://…, mysql://… or
    /// mariadb://…
    #[arg(
        short = 'u',
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_url: String,

    /// PostgreSQL schema to read [default: public]; ignored for SQLite and MySQL. When given, the
    /// entities name it (`schema_name = "…"`).
    #[arg(
        short = 's',
        long,
        env = "DATABASE_SCHEMA",
        hide_env_values = true,
        value_name = "SCHEMA"
    )]
    pub database_schema: Option<String>,

    /// Directory to write the entity files into (created if missing; see OUTPUT DIRECTORY).
    #[arg(short = 'o', long, value_name = "DIR")]
    pub output_dir: PathBuf,

    /// Only these tables (comma separated). Naming a table the database does not have is an error.
    #[arg(short = 't', long, value_delimiter = ',', value_name = "TABLES")]
    pub tables: Vec<String>,

    /// Skip these tables (comma separated); `--ignore-tables ''` skips none.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "seaql_migrations",
        value_name = "TABLES"
    )]
    pub ignore_tables: Vec<String>,

    /// Also generate tables whose name starts with an underscore.
    #[arg(long)]
    pub include_hidden_tables: bool,

    /// Derive serde's Serialize and/or Deserialize on models (the crate then needs `serde` with
    /// the `derive` feature).
    #[arg(long, value_enum, default_value_t = Serde::None, value_name = "WHICH")]
    pub with_serde: Serde,

    /// Crate for date and time columns.
    #[arg(long, value_enum, default_value_t = DateTimeCrate::Chrono, value_name = "CRATE")]
    pub date_time_crate: DateTimeCrate,

    /// Shape of the generated entities.
    #[arg(long, value_enum, default_value_t = EntityFormat::Dense, value_name = "FORMAT")]
    pub entity_format: EntityFormat,

    /// Name the index file `lib.rs` instead of `mod.rs` (DIR is then a crate's `src`).
    #[arg(short = 'l', long)]
    pub lib: bool,

    /// Generate `prelude.rs`, re-exporting every `Entity` under its table's CamelCase name.
    #[arg(long, value_enum, default_value_t = Prelude::All, value_name = "WHICH")]
    pub with_prelude: Prelude,

    /// Write nothing; exit 1 and list the differences if DIR is not what would be generated.
    #[arg(long)]
    pub check: bool,

    /// Generate even when some columns have no Rust type (see TYPES): they are left out of their
    /// entities, and still listed on stderr.
    #[arg(long)]
    pub allow_unmapped: bool,
}

/// `--with-serde`. See [`Cli`]'s example.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Serde {
    /// No serde derives.
    None,
    /// `Serialize` only.
    Serialize,
    /// `Deserialize` only.
    Deserialize,
    /// `Serialize` and `Deserialize`.
    Both,
}

/// `--date-time-crate`. See [`Cli`]'s example.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DateTimeCrate {
    /// `chrono` (SeaORM's `with-chrono` feature).
    Chrono,
    /// `time` (SeaORM's `with-time` feature).
    Time,
}

/// `--entity-format`. See [`Cli`]'s example.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EntityFormat {
    /// SeaORM 2's `#[sea_orm::model]` with relation fields.
    Dense,
    /// `DeriveEntityModel` with a `Relation` enum (SeaORM 1's default).
    Compact,
    /// Hand-expanded `EntityTrait`, `ColumnTrait`, … impls.
    Expanded,
    /// Plain model structs for frontends, without SeaORM derives.
    Frontend,
}

/// `--with-prelude`. See [`Cli`]'s example.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Prelude {
    /// Generate `prelude.rs` (with `#![allow(unused_imports)]`, so that a bin crate using only
    /// some of its re-exports does not warn).
    All,
    /// No prelude.
    None,
    /// The same as `all`; kept for sea-orm-cli's spelling.
    AllAllowUnusedImports,
}
