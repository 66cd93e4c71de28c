//! The type map, end to end on every available backend: a fixture schema holding every column
//! type the map knows (cli/tests/type_map/*.sql) generates entities that compile in a crate
//! depending only on duetto; a row per entity round-trips and every mapped column filters; the
//! columns without a Rust type and the table without a primary key are reported, and fail the run
//! unless `--allow-unmapped` is given.

#[path = "../../tests/common/mod.rs"]
mod common;
mod support;

use common::{backends, Kind, TestDb};
use support::{generate, url_env, with_fixture, Throwaway};

fn fixture(kind: Kind) -> &'static str {
    match kind {
        Kind::Sqlite => include_str!("type_map/sqlite.sql"),
        Kind::Postgres => include_str!("type_map/postgres.sql"),
        Kind::Mysql => include_str!("type_map/mysql.sql"),
    }
}

fn round_trips(kind: Kind) -> &'static str {
    match kind {
        Kind::Sqlite => include_str!("type_map/sqlite.rs.in"),
        Kind::Postgres => include_str!("type_map/postgres.rs.in"),
        Kind::Mysql => include_str!("type_map/mysql.rs.in"),
    }
}

/// What each backend's fixture must report, in the order the report lists it.
fn expected_unmapped(kind: Kind) -> Vec<&'static str> {
    match kind {
        Kind::Sqlite => vec![
            "unmapped: odd_key.id (no type): ",
            "unmapped: untyped.anything (no type): ",
        ],
        Kind::Postgres => vec![
            "unmapped: reported.spot (point): PostgreSQL has no `=` operator",
            "unmapped: reported.markup (xml): PostgreSQL has no `=` operator",
            "unmapped: reported.both_ends (pair): a composite, extension or other type",
            "unmapped: reported.spans (interval[]): arrays map only when",
        ],
        Kind::Mysql => vec!["unmapped: places.spot (point): SeaORM has no Rust type"],
    }
}

/// The tables each fixture must skip, as the report lists them.
fn expected_skipped(kind: Kind) -> Vec<&'static str> {
    match kind {
        Kind::Sqlite => vec![
            "skipped: keyless (no primary key)",
            "skipped: odd_key (its primary key has no Rust type)",
        ],
        _ => vec!["skipped: keyless (no primary key)"],
    }
}

#[test]
fn every_column_is_typed_and_round_trips_or_is_reported() {
    let dbs: Vec<TestDb> = backends()
        .into_iter()
        .map(|kind| with_fixture(kind, fixture(kind)))
        .collect();
    let krate = Throwaway::new("duetto-type-map-check");

    for t in &dbs {
        let kind = t.kind.name();
        let dir = krate.src().join(kind);

        // Without --allow-unmapped: the report, then an error; nothing written.
        let refused = generate(&t.url, &dir, &[]);
        assert_eq!(refused.code, 2, "{kind}: {}", refused.stderr);
        let unmapped = refused.lines_starting("unmapped: ");
        let expected = expected_unmapped(t.kind);
        assert_eq!(
            unmapped.len(),
            expected.len(),
            "{kind}:\n{}",
            refused.stderr
        );
        for (line, want) in unmapped.iter().zip(&expected) {
            assert!(line.starts_with(want), "{kind}: got {line}\nwant {want}…");
        }
        assert_eq!(
            refused.lines_starting("skipped: "),
            expected_skipped(t.kind),
            "{kind}:\n{}",
            refused.stderr
        );
        let n = expected.len();
        assert!(
            refused.error_line().starts_with(&format!(
                "error: {} no Rust type (listed above)",
                if n == 1 {
                    "1 column has".to_owned()
                } else {
                    format!("{n} columns have")
                }
            )),
            "{kind}: {}",
            refused.stderr
        );

        // With it: the same report, the entities without those columns, and a summary last.
        let allowed = generate(&t.url, &dir, &["--allow-unmapped"]);
        assert_eq!(allowed.code, 0, "{kind}: {}", allowed.stderr);
        assert_eq!(allowed.lines_starting("unmapped: "), unmapped, "{kind}");
        // An enum label that is no identifier is said on stderr; stdout stays empty (`generate`
        // asserts it), though codegen itself would print there.
        if t.kind != Kind::Sqlite {
            assert!(
                allowed
                    .stderr
                    .contains("label \"n/a\" is no Rust identifier"),
                "{kind}:\n{}",
                allowed.stderr
            );
        }
        let summary = allowed.stderr.lines().last().unwrap_or_default();
        assert!(
            summary.starts_with("Generated ") && summary.contains(" files for 2 tables in "),
            "{kind}: {summary}"
        );
        let skips = expected_skipped(t.kind);
        assert!(
            summary.contains(&format!(
                "; skipped {} ",
                if skips.len() == 1 {
                    "1 table".to_owned()
                } else {
                    format!("{} tables", skips.len())
                }
            )) && summary.contains("keyless: no primary key")
                && summary.contains(&format!(
                    "; left out {n} column{} without a Rust type",
                    if n == 1 { "" } else { "s" }
                )),
            "{kind}: {summary}"
        );
        assert!(!dir.join("keyless.rs").exists(), "{kind}: keyless skipped");
        let typed = std::fs::read_to_string(dir.join("typed.rs")).unwrap();
        assert!(
            !typed.contains("ignore"),
            "{kind}: no ignored field:\n{typed}"
        );

        krate.write(&format!("{kind}_round_trip.rs"), round_trips(t.kind));
    }

    let modules: String = dbs
        .iter()
        .map(|t| format!("mod {0};\nmod {0}_round_trip;\n", t.kind.name()))
        .collect();
    let calls: String = dbs
        .iter()
        .map(|t| {
            format!(
                "    {0}_round_trip::run(&std::env::var(\"URL_{0}\").unwrap())?;\n",
                t.kind.name()
            )
        })
        .collect();
    krate.write("checks.rs", include_str!("type_map/common.rs.in"));
    krate.write(
        "main.rs",
        &include_str!("type_map/main.rs.in")
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
