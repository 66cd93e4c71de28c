//! `duetto generate entity` on the demo schema: migrate a database with the demo migrations,
//! generate entities from the live schema into a temp dir, show one, then `--check` it (exit 0
//! when up to date, 1 on drift).
//!
//! ```text
//! cargo run -p duetto-cli --example generate [-- --database-url URL] [--short]
//! ```
//!
//! The same as the shell command:
//! `cargo run -p duetto-cli -- generate entity --database-url URL -o DIR --lib`.

use std::process::ExitCode;

use clap::Parser;
use duetto::Db;
use duetto_cli::{run, Cli};
use migration::{Migrator, MigratorTrait};

/// The example's own flags.
#[derive(Parser)]
struct Args {
    /// Database to migrate and read; a fresh SQLite file in a temp dir when absent.
    #[arg(long)]
    database_url: Option<String>,
    /// Accepted for CI, which runs every example with it; this example is short anyway.
    #[arg(long)]
    short: bool,
}

fn generate(url: &str, dir: &std::path::Path, check: bool) -> ExitCode {
    let mut argv = vec![
        "duetto".to_owned(),
        "generate".into(),
        "entity".into(),
        "--database-url".into(),
        url.to_owned(),
        "-o".into(),
        dir.display().to_string(),
        "--lib".into(),
    ];
    if check {
        argv.push("--check".into());
    }
    run(Cli::parse_from(argv))
}

fn main() -> duetto::Result<ExitCode> {
    let args = Args::parse();
    let out = tempfile::tempdir().map_err(duetto::Error::other)?;
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", out.path().join("demo.db").display()));
    let db = Db::connect_blocking(&url)?;
    db.run(|conn| async move { Migrator::up(&conn, None).await })?;
    db.close_blocking()?;

    let dir = out.path().join("entity");
    if generate(&url, &dir, false) != ExitCode::SUCCESS {
        return Ok(ExitCode::FAILURE);
    }
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .map_err(duetto::Error::other)?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    files.sort();
    println!("generated: {}", files.join(", "));
    let user = std::fs::read_to_string(dir.join("user.rs")).map_err(duetto::Error::other)?;
    println!("--- user.rs (first 25 lines)");
    for line in user.lines().take(25) {
        println!("{line}");
    }
    let status = generate(&url, &dir, true);
    println!("--- --check right after generating: {status:?} (0 = up to date)");
    Ok(status)
}
