//! `duetto generate entity` end to end, through the built binary, on every available backend:
//! generated entities compile and answer paired queries, output is deterministic, `--check`
//! detects drift, bad input fails cleanly.

#[path = "../../tests/common/mod.rs"]
mod common;
mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use common::{backends, Kind, TestDb};
use duetto::sea_orm::sea_query::{ColumnDef, Table};
use duetto::sea_orm::DbErr;
use migration::{Migrator, MigratorTrait};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};
use support::{generate, url_env, Throwaway};

fn generate_ok(t: &TestDb, dir: &Path, extra: &[&str]) {
    let run = generate(&t.url, dir, extra);
    assert_eq!(run.code, 0, "{}: {}", t.kind.name(), run.stderr);
}

fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// Names in `parent` left by an interrupted write.
fn scratch_dirs(parent: &Path) -> Vec<String> {
    fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".duetto-generate-"))
        .collect()
}

const DEMO_FILES: [&str; 9] = [
    "comment.rs",
    "mod.rs",
    "notification.rs",
    "order.rs",
    "post.rs",
    "post_tag.rs",
    "prelude.rs",
    "tag.rs",
    "user.rs",
];

#[test]
fn output_is_byte_identical_across_runs() {
    for kind in backends() {
        let t = common::migrated_blocking(kind);
        let tmp = tempfile::tempdir().unwrap();
        let (first, second) = (tmp.path().join("first"), tmp.path().join("second"));
        generate_ok(&t, &first, &[]);
        generate_ok(&t, &second, &[]);
        let (a, b) = (contents(&first), contents(&second));
        assert_eq!(a.keys().map(String::as_str).collect::<Vec<_>>(), DEMO_FILES);
        assert_eq!(a, b, "{}: two runs differ", kind.name());
        for (name, text) in &a {
            let text = std::str::from_utf8(text).unwrap();
            let first_line = text.lines().next().unwrap();
            assert!(first_line.contains("@generated"), "{name}: {first_line}");
            assert!(
                text.contains("#![cfg_attr(rustfmt, rustfmt::skip)]"),
                "{name}"
            );
        }
    }
}

struct AddNickname;

impl MigrationName for AddNickname {
    fn name(&self) -> &str {
        "m29990101_000001_add_user_nickname"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AddNickname {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("user")
                    .add_column(ColumnDef::new("nickname").string_len(50).null())
                    .to_owned(),
            )
            .await
    }
}

/// The demo migrations plus one that adds a column.
struct Evolved;

impl MigratorTrait for Evolved {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut migrations = Migrator::migrations();
        migrations.push(Box::new(AddNickname));
        migrations
    }
}

#[test]
fn check_passes_on_fresh_output_and_fails_after_a_migration_adds_a_column() {
    for kind in backends() {
        let t = common::migrated_blocking(kind);
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("entities");
        generate_ok(&t, &dir, &[]);
        let before = contents(&dir);

        let check = generate(&t.url, &dir, &["--check"]);
        assert_eq!(check.code, 0, "{}: {}", kind.name(), check.stderr);
        assert!(
            check.stderr.contains("is up to date (9 files)"),
            "{}",
            check.stderr
        );

        t.db.run(|conn| async move { Evolved::up(&conn, None).await })
            .unwrap();
        let check = generate(&t.url, &dir, &["--check"]);
        assert_eq!(check.code, 1, "{}: {}", kind.name(), check.stderr);
        assert!(
            check.stderr.contains("is out of date (1 changed)"),
            "{}",
            check.stderr
        );
        assert!(
            check.stderr.contains("  changed  user.rs"),
            "{}",
            check.stderr
        );
        assert!(
            check.stderr.contains("+    pub nickname: Option<String>,"),
            "{}: the report shows the new field:\n{}",
            kind.name(),
            check.stderr
        );
        assert_eq!(contents(&dir), before, "--check writes nothing");

        generate_ok(&t, &dir, &[]);
        assert_eq!(generate(&t.url, &dir, &["--check"]).code, 0);
    }
}

#[test]
fn writing_removes_stale_generated_files_and_check_reports_them() {
    let t = common::migrated_blocking(Kind::Sqlite);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("entities");
    generate_ok(&t, &dir, &["--tables", "user,post"]);
    assert!(dir.join("post.rs").exists());

    let write = generate(&t.url, &dir, &["--tables", "user"]);
    assert_eq!(write.code, 0, "{}", write.stderr);
    assert!(
        !dir.join("post.rs").exists(),
        "the dropped table's file is gone"
    );

    fs::write(dir.join("legacy.rs"), "//! @generated by hand\n").unwrap();
    let check = generate(&t.url, &dir, &["--tables", "user", "--check"]);
    assert_eq!(check.code, 1, "{}", check.stderr);
    assert!(
        check.stderr.contains("  removed  legacy.rs"),
        "{}",
        check.stderr
    );
    assert!(check.stderr.contains("(1 removed)"), "{}", check.stderr);
}

#[test]
fn the_committed_entity_crate_is_what_the_migrations_generate() {
    // The same check CI runs in .ci/check-entities, so plain `cargo test` catches drift too.
    let t = common::migrated_blocking(Kind::Sqlite);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../entity/src");
    let check = generate(&t.url, &dir, &["--lib", "--check"]);
    assert_eq!(
        check.code, 0,
        "entity/src has drifted; regenerate it (see .ci/check-entities):\n{}",
        check.stderr
    );
}

#[test]
fn bad_input_fails_with_one_line_and_leaves_nothing_behind() {
    let t = common::migrated_blocking(Kind::Sqlite);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("entities");
    let missing_db = format!("sqlite://{}", tmp.path().join("nope.db").display());
    let cases: Vec<(String, Vec<&str>, &str)> = vec![
        (
            "postgres://postgres@127.0.0.1:1/nope".into(),
            vec![],
            "error: could not connect to `postgres://postgres@127.0.0.1:1/nope`",
        ),
        (
            "mysql://root:secret@127.0.0.1:1/nope".into(),
            vec![],
            "error: could not connect to `mysql://root:***@127.0.0.1:1/nope`",
        ),
        (missing_db.clone(), vec![], "error: could not connect to"),
        (
            "oracle://scott:tiger@db/orcl".into(),
            vec![],
            "error: unsupported database scheme `oracle` in `oracle://scott:***@db/orcl`",
        ),
        (
            t.url.clone(),
            vec!["--tables", "users"],
            "error: --tables names a table the database does not have: users (it has: comment, \
             notification, order, post, post_tag, seaql_migrations, tag, user)",
        ),
        (
            t.url.clone(),
            vec!["--tables", "seaql_migrations"],
            "error: no table left to generate after --tables/--ignore-tables",
        ),
    ];
    for (url, extra, want) in cases {
        for check in [false, true] {
            let mut extra = extra.clone();
            if check {
                extra.push("--check");
            }
            let run = generate(&url, &dir, &extra);
            assert_eq!(run.code, 2, "{url} {extra:?}: {}", run.stderr);
            let line = run.error_line();
            assert!(
                line.starts_with(want),
                "{url} {extra:?}: got {line}\nwant {want}"
            );
            assert!(!dir.exists(), "{url} {extra:?}: nothing written");
            assert_eq!(scratch_dirs(tmp.path()), Vec::<String>::new());
        }
    }
    assert!(
        !tmp.path().join("nope.db").exists(),
        "a missing SQLite file is not created"
    );

    // An output "directory" that is a file: refused before the database is contacted.
    let file = tmp.path().join("file.rs");
    fs::write(&file, "fn main() {}\n").unwrap();
    for extra in [&[][..], &["--check"][..]] {
        let run = generate(&t.url, &file, extra);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert_eq!(
            run.error_line(),
            format!("error: output directory `{}` is a file", file.display())
        );
        assert!(!run.stderr.contains("Connecting"), "{}", run.stderr);
    }
    assert_eq!(fs::read_to_string(&file).unwrap(), "fn main() {}\n");

    // A directory of hand-written code is never replaced.
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("main.rs"), "fn main() {}\n").unwrap();
    let run = generate(&t.url, &src, &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.error_line().starts_with(&format!(
            "error: refusing to replace `{}`: it holds files that were not generated (main.rs)",
            src.display()
        )),
        "{}",
        run.stderr
    );
    assert_eq!(contents(&src).len(), 1);
    assert_eq!(scratch_dirs(tmp.path()), Vec::<String>::new());
}

#[test]
fn help_documents_every_flag() {
    let out = Command::new(env!("CARGO_BIN_EXE_duetto"))
        .args(["generate", "entity", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--database-url",
        "--database-schema",
        "--output-dir",
        "--tables",
        "--ignore-tables",
        "--include-hidden-tables",
        "--with-serde",
        "--date-time-crate",
        "--entity-format",
        "--lib",
        "--with-prelude",
        "--check",
        "--allow-unmapped",
        "TYPES",
        "EXIT STATUS",
        "OUTPUT DIRECTORY",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
}

/// One crate for all backends, built once per target directory (the first build compiles duetto's
/// dependencies; later ones only this crate): each backend's entities are generated into a module
/// of it, then it runs a paired query through each.
#[test]
fn generated_entities_compile_and_answer_paired_queries() {
    let dbs: Vec<TestDb> = backends()
        .into_iter()
        .map(common::migrated_blocking)
        .collect();
    let krate = Throwaway::new("duetto-generate-check");
    for t in &dbs {
        generate_ok(t, &krate.src().join(t.kind.name()), &[]);
    }

    let modules: String = dbs
        .iter()
        .map(|t| format!("mod {};\n", t.kind.name()))
        .collect();
    let calls: String = dbs
        .iter()
        .map(|t| format!("    exercise!({});\n", t.kind.name()))
        .collect();
    let main = include_str!("generate/main.rs.in")
        .replace("{{MODULES}}", &modules)
        .replace("{{CALLS}}", &calls);
    krate.write("main.rs", &main);
    let stdout = krate.run(&url_env(&dbs, "GENERATED_URL_"));
    for t in &dbs {
        assert!(
            stdout.contains(&format!("{}: ok", t.kind.name())),
            "{stdout}"
        );
    }
}

/// PostgreSQL discovery reads the catalog in a fixed number of ordered queries: the output does
/// not depend on the planner's choices, and relations that get no entity are each reported.
#[test]
fn postgres_discovery_reports_every_skipped_relation_and_ignores_the_plan() {
    use duetto::sea_orm::ConnectionTrait;

    if !backends().contains(&Kind::Postgres) {
        return;
    }
    let t = common::migrated_blocking(Kind::Postgres);
    t.db.run(|conn| async move {
        for sql in [
            "CREATE VIEW paid_order AS SELECT * FROM \"order\" WHERE status = 'paid'",
            "CREATE TABLE event (id bigint NOT NULL, at date NOT NULL, PRIMARY KEY (id, at)) \
             PARTITION BY RANGE (at)",
            "CREATE TABLE event_2026 PARTITION OF event FOR VALUES FROM ('2026-01-01') TO \
             ('2027-01-01')",
            "CREATE TABLE archived_tag (archived_at date) INHERITS (tag)",
            "ALTER TABLE archived_tag ADD PRIMARY KEY (id)",
            "ALTER TABLE tag ADD COLUMN shout text GENERATED ALWAYS AS (upper(name)) STORED",
            "CREATE SCHEMA elsewhere",
            "CREATE TABLE elsewhere.owner (id integer PRIMARY KEY)",
            "ALTER TABLE tag ADD COLUMN owner_id integer REFERENCES elsewhere.owner (id)",
        ] {
            conn.execute_unprepared(sql).await?;
        }
        Ok::<_, DbErr>(())
    })
    .unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let (plain, no_nestloop) = (tmp.path().join("plain"), tmp.path().join("no-nestloop"));
    let run = generate(&t.url, &plain, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.lines_starting("skipped: "),
        [
            "skipped: event_2026 (a partition of event, whose entity reads it)",
            "skipped: paid_order (a view)",
        ],
        "{}",
        run.stderr
    );
    assert_eq!(
        run.lines_starting("note: "),
        [
            "note: archived_tag inherits from tag; its entity has the inherited columns too",
            "note: archived_tag.shout is a generated column: left out of the entity, which would \
             otherwise write it",
            "note: tag(owner_id) references elsewhere.owner, in another schema: the relation is \
             left out",
            "note: tag.shout is a generated column: left out of the entity, which would otherwise \
             write it",
        ],
        "{}",
        run.stderr
    );
    assert!(plain.join("event.rs").exists() && plain.join("archived_tag.rs").exists());

    let separator = if t.url.contains('?') { '&' } else { '?' };
    let url = format!("{}{separator}options=-c%20enable_nestloop%3Doff", t.url);
    let run = generate(&url, &no_nestloop, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        contents(&plain),
        contents(&no_nestloop),
        "the output depends on the plan"
    );
}

/// MySQL/MariaDB discovery reads `information_schema` in a fixed number of queries; views are
/// reported, and generated columns are left out with a note.
#[test]
fn mysql_discovery_reports_views_and_generated_columns() {
    use duetto::sea_orm::ConnectionTrait;

    if !backends().contains(&Kind::Mysql) {
        return;
    }
    let t = common::migrated_blocking(Kind::Mysql);
    t.db.run(|conn| async move {
        for sql in [
            "CREATE VIEW paid_order AS SELECT * FROM `order` WHERE status = 'paid'",
            "ALTER TABLE tag ADD COLUMN shout varchar(100) AS (upper(name)) VIRTUAL",
        ] {
            conn.execute_unprepared(sql).await?;
        }
        Ok::<_, DbErr>(())
    })
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let run = generate(&t.url, &tmp.path().join("entities"), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.lines_starting("skipped: "),
        ["skipped: paid_order (a view)"],
        "{}",
        run.stderr
    );
    assert_eq!(
        run.lines_starting("note: "),
        [
            "note: tag.shout is a generated column: left out of the entity, which would otherwise \
          write it"
        ],
        "{}",
        run.stderr
    );
}

/// SQLite: views are reported, generated columns left out with a note.
#[test]
fn sqlite_discovery_reports_views_and_generated_columns() {
    use duetto::sea_orm::ConnectionTrait;

    let t = common::migrated_blocking(Kind::Sqlite);
    t.db.run(|conn| async move {
        for sql in [
            "CREATE VIEW paid_order AS SELECT * FROM \"order\" WHERE status = 'paid'",
            "ALTER TABLE tag ADD COLUMN shout text AS (upper(name)) VIRTUAL",
        ] {
            conn.execute_unprepared(sql).await?;
        }
        Ok::<_, DbErr>(())
    })
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let run = generate(&t.url, &tmp.path().join("entities"), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.lines_starting("skipped: "),
        ["skipped: paid_order (a view)"],
        "{}",
        run.stderr
    );
    assert_eq!(
        run.lines_starting("note: "),
        [
            "note: tag.shout is a generated column: left out of the entity, which would otherwise \
          write it"
        ],
        "{}",
        run.stderr
    );
}

/// `--tables` applies before discovery, and a foreign key to a table left out is left out too
/// (its relation would name an entity that does not exist), with a note.
#[test]
fn a_foreign_key_to_a_table_not_generated_is_left_out_with_a_note() {
    let t = common::migrated_blocking(Kind::Sqlite);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("entities");
    let run = generate(&t.url, &dir, &["--tables", "post,tag"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.lines_starting("note: "),
        ["note: post(user_id) references user, which gets no entity: the relation is left out"],
        "{}",
        run.stderr
    );
    let post = fs::read_to_string(dir.join("post.rs")).unwrap();
    assert!(!post.contains("super::user::"), "{post}");
}

/// Sakila on PostgreSQL, a schema nobody here wrote: views and partitions reported, entities that
/// compile with duetto alone and take rows, `--check` clean until an `ALTER TABLE`, and the same
/// output whatever the planner does.
#[test]
fn sakila_on_postgres_generates_compiles_and_checks() {
    use duetto::sea_orm::ConnectionTrait;

    if !backends().contains(&Kind::Postgres) {
        return;
    }
    let t = common::empty_blocking(Kind::Postgres);
    t.db.run(|conn| async move {
        conn.execute_unprepared(include_str!("schemas/sakila-postgres.sql"))
            .await
    })
    .unwrap();
    let krate = Throwaway::new("duetto-sakila-check");
    let dir = krate.src().join("sakila");
    let run = generate(&t.url, &dir, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.lines_starting("unmapped: ").is_empty(),
        "{}",
        run.stderr
    );
    let skipped = run.lines_starting("skipped: ");
    for want in [
        "skipped: actor_info (a view)",
        "skipped: film_1000 (a partition of film, whose entity reads it)",
        "skipped: payment_p2007_01 (no primary key)",
    ] {
        assert!(skipped.contains(&want), "{want}:\n{}", run.stderr);
    }
    let summary = run.stderr.lines().last().unwrap_or_default();
    assert!(
        summary.starts_with("Generated 18 files for 15 tables"),
        "{summary}"
    );

    let separator = if t.url.contains('?') { '&' } else { '?' };
    let no_nestloop = format!("{}{separator}options=-c%20enable_nestloop%3Doff", t.url);
    let check = generate(&no_nestloop, &dir, &["--check"]);
    assert_eq!(
        check.code, 0,
        "same output without nested loops:\n{}",
        check.stderr
    );

    krate.write("main.rs", include_str!("sakila/main.rs.in"));
    let stdout = krate.run(&[("URL_sakila".to_owned(), t.url.clone())]);
    assert!(stdout.contains("sakila: ok"), "{stdout}");

    t.db.run(|conn| async move {
        conn.execute_unprepared("ALTER TABLE actor ADD COLUMN nickname text")
            .await
    })
    .unwrap();
    let check = generate(&t.url, &dir, &["--check"]);
    assert_eq!(check.code, 1, "{}", check.stderr);
    assert!(
        check.stderr.contains("  changed  actor.rs"),
        "{}",
        check.stderr
    );
}
