//! Names that always compile, end to end on every available backend: a fixture of every hard
//! identifier case (cli/tests/names/*.sql) generates without a panic, compiles in a crate
//! depending only on duetto, and a row round-trips through every entity under its real names.

#[path = "../../tests/common/mod.rs"]
mod common;
mod support;

use common::{backends, Kind, TestDb};
use support::{generate, url_env, with_fixture, Throwaway};

fn fixture(kind: Kind) -> &'static str {
    match kind {
        Kind::Sqlite => include_str!("names/sqlite.sql"),
        Kind::Postgres => include_str!("names/postgres.sql"),
        Kind::Mysql => include_str!("names/mysql.sql"),
    }
}

#[test]
fn every_identifier_generates_compiles_and_round_trips() {
    let dbs: Vec<TestDb> = backends()
        .into_iter()
        .map(|kind| with_fixture(kind, fixture(kind)))
        .collect();
    let krate = Throwaway::new("duetto-names-check");
    for t in &dbs {
        let kind = t.kind.name();
        let dir = krate.src().join(kind);
        let run = generate(&t.url, &dir, &[]);
        assert_eq!(run.code, 0, "{kind}: {}", run.stderr);
        // Thirteen tables, thirteen entity files: none overwrote another.
        let summary = run.stderr.lines().last().unwrap_or_default();
        assert!(
            summary.starts_with("Generated 15 files for 13 tables"),
            "{kind}: {summary}"
        );
    }
    let modules: String = dbs
        .iter()
        .map(|t| format!("mod {};\n", t.kind.name()))
        .collect();
    let calls: String = dbs
        .iter()
        .map(|t| format!("    names_round_trip!({});\n", t.kind.name()))
        .collect();
    krate.write("round_trip.rs", include_str!("names/round_trip.rs.in"));
    krate.write(
        "main.rs",
        &include_str!("names/main.rs.in")
            .replace("{{MODULES}}", &modules)
            .replace("{{CALLS}}", &calls),
    );
    let stdout = krate.run(&url_env(&dbs, "URL_"));
    for t in &dbs {
        assert!(
            stdout.contains(&format!("{}: ok", t.kind.name())),
            "{stdout}"
        );
    }
}
