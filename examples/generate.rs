//! `duetto generate entity` on the demo database: migrate, generate SeaORM entities from the live
//! schema into a temp dir, show one, then `--check` it (exit 0 when up to date, 1 on drift).
//!
//! ```text
//! cargo run --example generate [-- --database-url URL] [--short]
//! ```
//!
//! The same as the shell command:
//! `cargo run --bin duetto -- generate entity --database-url URL -o DIR --lib`.

mod support;

use std::process::ExitCode;

use clap::Parser;
use duetto::cli::{run, Cli};
use support::{Args, Demo, Size};

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
    let demo = Demo::setup(&args, Size::realistic(true))?;
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(|| demo.direct.url().to_owned());
    let out = tempfile::tempdir().map_err(duetto::Error::other)?;
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
