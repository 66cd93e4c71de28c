//! Observability on every backend: a `tracing` span per statement with its fields, nested under
//! the caller's span in both voices and across the bridge; captures isolated between concurrent
//! tasks; `assert_num_queries!`; the N+1 detector on `examples/user_detail.rs`; the rollback
//! fixture; connection settings (`application_name`, session settings).

mod common;

#[allow(dead_code)]
#[path = "../examples/user_detail.rs"]
mod user_detail;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use common::faults::watchdog;
use common::Kind;
use duetto::bridge::{async_to_sync, sync_to_async};
use duetto::observe::{acapture_queries, capture_queries, Voice};
use duetto::prelude::*;
use duetto::sea_orm::{ColumnTrait, ConnectionTrait, Set};
use entity::{post, user};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Instrument, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

// ---------------------------------------------------------------------------------------------
// A test subscriber: every span and event, with its fields and the test case it descends from.

#[derive(Debug, Clone, Default)]
struct Rec {
    name: String,
    target: String,
    fields: HashMap<String, String>,
    /// The `case` field of the nearest ancestor (or itself) that has one.
    case: Option<u64>,
}

#[derive(Default)]
struct Recorded {
    live: HashMap<u64, Rec>,
    /// Statement spans as they were when their statement ended (`elapsed_us` recorded). Not
    /// when they closed: a driver may keep a statement's span a while (sqlx's SQLite worker
    /// holds the last command's span until the next command).
    finished: Vec<Rec>,
    events: Vec<Rec>,
}

fn recorded() -> &'static Mutex<Recorded> {
    static RECORDED: OnceLock<Mutex<Recorded>> = OnceLock::new();
    RECORDED.get_or_init(|| {
        let subscriber = tracing_subscriber::registry().with(Recorder);
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber per binary");
        Mutex::default()
    })
}

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

struct Recorder;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut rec = Rec {
            name: attrs.metadata().name().to_owned(),
            target: attrs.metadata().target().to_owned(),
            ..Rec::default()
        };
        attrs.record(&mut Fields(&mut rec.fields));
        let parent = if attrs.is_root() {
            None
        } else {
            attrs
                .parent()
                .cloned()
                .or_else(|| ctx.current_span().id().cloned())
        };
        let mut all = recorded().lock().unwrap();
        rec.case = rec
            .fields
            .get("case")
            .and_then(|c| c.parse().ok())
            .or_else(|| parent.and_then(|p| all.live.get(&p.into_u64()).and_then(|r| r.case)));
        all.live.insert(id.into_u64(), rec);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        let mut all = recorded().lock().unwrap();
        let Some(rec) = all.live.get_mut(&id.into_u64()) else {
            return;
        };
        let mut fresh = HashMap::new();
        values.record(&mut Fields(&mut fresh));
        let ended = fresh.contains_key("elapsed_us");
        rec.fields.extend(fresh);
        if ended {
            let done = rec.clone();
            all.finished.push(done);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut rec = Rec {
            name: event.metadata().name().to_owned(),
            target: event.metadata().target().to_owned(),
            ..Rec::default()
        };
        event.record(&mut Fields(&mut rec.fields));
        let parent = event
            .parent()
            .cloned()
            .or_else(|| ctx.current_span().id().cloned());
        let mut all = recorded().lock().unwrap();
        rec.case = parent.and_then(|p| all.live.get(&p.into_u64()).and_then(|r| r.case));
        all.events.push(rec);
    }

    fn on_close(&self, id: Id, _ctx: Context<'_, S>) {
        recorded().lock().unwrap().live.remove(&id.into_u64());
    }
}

/// A new test case: a root span whose descendants the assertions look at.
fn case() -> (u64, tracing::Span) {
    recorded();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    (id, tracing::info_span!(parent: None, "case", case = id))
}

/// The finished `duetto::query` spans of a case, in finishing order.
fn query_spans(case: u64) -> Vec<Rec> {
    recorded()
        .lock()
        .unwrap()
        .finished
        .iter()
        .filter(|r| r.case == Some(case) && r.target == "duetto::query" && r.name == "query")
        .cloned()
        .collect()
}

fn events(case: u64, target: &str) -> Vec<Rec> {
    recorded()
        .lock()
        .unwrap()
        .events
        .iter()
        .filter(|r| r.case == Some(case) && r.target == target)
        .cloned()
        .collect()
}

// ---------------------------------------------------------------------------------------------

async fn seed(db: &Db, users: usize, posts_each: usize) {
    for u in 0..users {
        let author = user::ActiveModel {
            name: Set(format!("User {u}")),
            email: Set(format!("user{u}@example.com")),
            created_at: Set(chrono::Utc::now().into()),
            ..Default::default()
        }
        .asave_using(db)
        .await
        .unwrap();
        for p in 0..posts_each {
            post::ActiveModel {
                user_id: Set(author.id),
                title: Set(format!("Post {p} by {u}")),
                body: Set(String::new()),
                published: Set(p % 2 == 0),
                created_at: Set(chrono::Utc::now().into()),
                ..Default::default()
            }
            .asave_using(db)
            .await
            .unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_span_per_statement_with_its_fields_nested_under_the_caller_in_both_voices() {
    // The test subscriber is installed before this test sends anything, so it sees every
    // statement of the test.
    recorded();
    watchdog(120, "spans", async {
        for kind in common::backends() {
            let t = common::migrated(kind).await;
            seed(&t.db, 2, 1).await;
            let users = user::Entity::objects().using(&t.db);
            let name = kind.name();

            // Async voice, awaited under the caller's span.
            let (id, span) = case();
            let n = users.acount().instrument(span).await.unwrap();
            let spans = query_spans(id);
            assert_eq!(spans.len(), 1, "{name}: {spans:?}");
            let f = &spans[0].fields;
            assert_eq!(f["alias"], "default", "{name}");
            assert_eq!(f["backend"], name);
            assert!(f["sql"].starts_with("SELECT COUNT"), "{name}: {f:?}");
            assert_eq!(f["rows"], "1", "{name}");
            assert!(f["elapsed_us"].parse::<u64>().is_ok(), "{name}: {f:?}");
            assert_eq!(f["voice"], "async");
            assert_eq!(f["in_transaction"], "false");
            assert!(f["site"].starts_with("tests/observe.rs:"), "{name}: {f:?}");
            assert!(
                !f.contains_key("values"),
                "values are not logged by default"
            );
            assert!(!f.contains_key("error"));
            assert_eq!(n, 2);

            // Blocking voice on a plain thread, under a span entered there.
            let (id, span) = case();
            let blocking = users.clone();
            std::thread::spawn(move || span.in_scope(|| blocking.count().unwrap()))
                .join()
                .unwrap();
            let spans = query_spans(id);
            assert_eq!(spans.len(), 1, "{name}");
            assert_eq!(spans[0].fields["voice"], "blocking");

            // Across sync_to_async: the closure's blocking call still nests under the caller.
            let (id, span) = case();
            let hop = users.clone();
            sync_to_async(move || hop.count().unwrap())
                .instrument(span)
                .await;
            assert_eq!(query_spans(id).len(), 1, "{name}: sync_to_async");

            // Across async_to_sync: a sync thread's span reaches the async calls it bridges to.
            let (id, span) = case();
            let bridged = users.clone();
            std::thread::spawn(move || {
                span.in_scope(|| async_to_sync(async move { bridged.acount().await }))
            })
            .join()
            .unwrap()
            .unwrap()
            .unwrap();
            let spans = query_spans(id);
            assert_eq!(spans.len(), 1, "{name}: async_to_sync");
            assert_eq!(spans[0].fields["voice"], "async");

            // Inside a transaction: BEGIN, the statement and COMMIT, flagged; an error recorded.
            let (id, span) = case();
            let db = t.db.clone();
            let inner = users.clone();
            db.aatomic(async move { inner.acount().await })
                .instrument(span.clone())
                .await
                .unwrap();
            let duplicate = user::ActiveModel {
                name: Set("Twin".into()),
                email: Set("user0@example.com".into()),
                created_at: Set(chrono::Utc::now().into()),
                ..Default::default()
            };
            let failed = duplicate.asave_using(&t.db).instrument(span).await;
            assert!(failed.is_err(), "{name}: the e-mail is unique");
            let spans = query_spans(id);
            let sql: Vec<&str> = spans.iter().map(|s| s.fields["sql"].as_str()).collect();
            let count = spans
                .iter()
                .find(|s| s.fields["sql"].starts_with("SELECT COUNT"))
                .unwrap_or_else(|| panic!("{name}: {sql:?}"));
            assert_eq!(count.fields["in_transaction"], "true", "{name}");
            assert!(
                sql.iter().any(|s| s.starts_with("COMMIT")),
                "{name}: {sql:?}"
            );
            assert!(
                spans.iter().any(|s| s.fields.contains_key("error")),
                "{name}: the failed statement records its error: {spans:?}"
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_are_logged_only_on_request_and_slow_queries_warn() {
    // The test subscriber is installed before this test sends anything, so it sees every
    // statement of the test.
    recorded();
    watchdog(60, "values", async {
        let t = common::migrated(Kind::Sqlite).await;
        let db = Db::connect_with(
            duetto::ConnectOptions::new(&t.url)
                .log_values(true)
                .slow_query_threshold(Some(Duration::ZERO)),
        )
        .await
        .unwrap();
        let (id, span) = case();
        user::Entity::objects()
            .using(&db)
            .filter(user::Column::Email.eq("secret@example.com"))
            .acount()
            .instrument(span)
            .await
            .unwrap();
        let spans = query_spans(id);
        assert_eq!(spans.len(), 1);
        assert!(spans[0].fields["values"].contains("secret@example.com"));
        let slow = events(id, "duetto::query");
        assert_eq!(slow.len(), 1, "one slow-query warning: {slow:?}");
        assert!(slow[0].fields["message"].starts_with("slow query"));
        assert!(slow[0].fields["sql"].starts_with("SELECT COUNT"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_captures_each_see_only_their_own_statements() {
    // The test subscriber is installed before this test sends anything, so it sees every
    // statement of the test.
    recorded();
    watchdog(120, "captures", async {
        for kind in common::backends() {
            let t = common::migrated(kind).await;
            seed(&t.db, 3, 0).await;
            let mut tasks = Vec::new();
            for task in 0..50usize {
                let db = t.db.clone();
                tasks.push(tokio::spawn(async move {
                    let statements = task % 4 + 1;
                    let marker = format!("task{task}@example.com");
                    let (_, captured) = acapture_queries(async {
                        for _ in 0..statements {
                            user::Entity::objects()
                                .using(&db)
                                .filter(user::Column::Email.eq(marker.as_str()))
                                .aexists()
                                .await
                                .unwrap();
                            tokio::task::yield_now().await;
                        }
                        // A task it spawns through the bridge is part of its capture.
                        let child = db.clone();
                        duetto::bridge::spawn(async move {
                            user::Entity::objects().using(&child).acount().await
                        })
                        .await
                        .unwrap()
                        .unwrap();
                    })
                    .await;
                    (task, statements, marker, captured)
                }));
            }
            for task in tasks {
                let (task, statements, marker, captured) = task.await.unwrap();
                assert_eq!(
                    captured.len(),
                    statements + 1,
                    "{}: task {task} captured\n{captured}",
                    kind.name()
                );
                for query in &captured[..statements] {
                    let values = format!("{:?}", query.values);
                    assert!(values.contains(&marker), "task {task} saw {values}");
                    assert_eq!(query.voice, Voice::Async);
                    assert!(query.rows.is_some());
                }
                assert!(captured[statements].sql.starts_with("SELECT COUNT"));
            }
        }
    })
    .await;
}

#[test]
fn assert_num_queries_passes_on_the_count_and_fails_with_the_statements() {
    recorded();
    let t = common::migrated_blocking(Kind::Sqlite);
    let users = user::Entity::objects().using(&t.db);
    let n = duetto::assert_num_queries!(1, || users.count().unwrap());
    assert_eq!(n, 0);
    let again = users.clone();
    let failure = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        duetto::assert_num_queries!(1, || {
            again.count().unwrap();
            again.exists().unwrap();
        })
    }))
    .expect_err("two statements where one was expected");
    let message = failure
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        message.contains("expected 1 statement, 2 ran:"),
        "{message}"
    );
    assert!(message.contains("  1. SELECT COUNT"), "{message}");
    assert!(message.contains("  2. SELECT"), "{message}");
    assert!(
        message.contains("tests/observe.rs:"),
        "names the call sites: {message}"
    );

    // The async form, on a blocking capture's thread: bridged statements are counted too.
    let n = async_to_sync(async move {
        duetto::assert_num_queries!(2, async {
            users.acount().await.unwrap() + users.acount().await.unwrap()
        })
        .await
    })
    .unwrap();
    assert_eq!(n, 0);
    let (_, captured) = capture_queries(|| ());
    assert!(captured.is_empty());
}

/// The line of `examples/user_detail.rs` holding `marker`.
fn example_line(marker: &str) -> u32 {
    let source = include_str!("../examples/user_detail.rs");
    source
        .lines()
        .position(|l| l.contains(marker))
        .map(|i| i as u32 + 1)
        .expect("marker in the example")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_n_plus_one_detector_names_the_examples_loop_and_stays_silent_when_prefetched() {
    // The test subscriber is installed before this test sends anything, so it sees every
    // statement of the test.
    recorded();
    watchdog(120, "n+1", async {
        let loop_line = example_line("// N+1: one query per user");
        for kind in common::backends() {
            let t = common::migrated(kind).await;
            seed(&t.db, 6, 2).await;
            duetto::register("default", t.db.clone());
            let users = user::Entity::objects().alist().await.unwrap();

            let (counts, captured) =
                acapture_queries(user_detail::post_counts_n_plus_one(&users)).await;
            assert!(counts.unwrap().iter().all(|(_, n)| *n == 2));
            let reports = captured.repeated(3);
            assert_eq!(reports.len(), 1, "{}: {reports:?}", kind.name());
            let report = &reports[0];
            assert_eq!(report.count, 6);
            let site = report.site.expect("call site known");
            // Included through `#[path]`, the file reads `tests/../examples/user_detail.rs`.
            assert!(site.file().ends_with("examples/user_detail.rs"), "{site}");
            assert_eq!(site.line(), loop_line, "{report}");
            let hint = report.hint.as_deref().expect("a relation hint");
            assert!(hint.contains("`related::<post>()`"), "{hint}");
            assert!(hint.contains("post.user_id"), "{hint}");
            assert!(hint.contains("prefetch::many::<post::Entity>()"), "{hint}");

            let (counts, captured) =
                acapture_queries(user_detail::post_counts_prefetched(&users)).await;
            assert!(counts.unwrap().iter().all(|(_, n)| *n == 2));
            assert_eq!(captured.len(), 1);
            assert!(captured.repeated(3).is_empty(), "{}", kind.name());
        }
        duetto::unregister("default");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_detection_warns_once_per_request_scope_naming_the_line() {
    // The test subscriber is installed before this test sends anything, so it sees every
    // statement of the test.
    recorded();
    watchdog(60, "live n+1", async {
        let t = common::migrated(Kind::Sqlite).await;
        seed(&t.db, 5, 1).await;
        let users = user::Entity::objects().using(&t.db).alist().await.unwrap();
        duetto::observe::detect_n_plus_one(Some(3));
        let (id, span) = case();
        let posts_seen = Arc::new(AtomicUsize::new(0));
        let seen = posts_seen.clone();
        let db = t.db.clone();
        duetto::arequest_scope(async move {
            for user in &users {
                let posts = post::Entity::objects()
                    .using(&db)
                    .filter(post::Column::UserId.eq(user.id))
                    .alist() // the loop line
                    .await
                    .unwrap();
                seen.fetch_add(posts.len(), Ordering::Relaxed);
            }
        })
        .instrument(span)
        .await;
        duetto::observe::detect_n_plus_one(None);
        assert_eq!(posts_seen.load(Ordering::Relaxed), 5);
        let warnings = events(id, "duetto::n_plus_one");
        assert_eq!(
            warnings.len(),
            1,
            "warned once, at the 4th run: {warnings:?}"
        );
        let source = include_str!("observe.rs");
        let line = source
            .lines()
            .position(|l| l.contains(".alist() // the loop line"))
            .unwrap()
            + 1;
        let site = &warnings[0].fields["site"];
        assert!(
            site.starts_with(&format!("tests/observe.rs:{line}:")),
            "{site} (expected line {line})"
        );
        assert_eq!(warnings[0].fields["count"], "4");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rollback_fixture_leaves_the_database_unchanged_and_holds_on_commit_callbacks() {
    // The test subscriber is installed before this test sends anything, so it sees every
    // statement of the test.
    recorded();
    watchdog(120, "rollback fixture", async {
        for kind in common::backends() {
            let t = common::migrated(kind).await;
            seed(&t.db, 2, 1).await;
            let db = t.db.clone();
            let ran = Arc::new(AtomicUsize::new(0));
            let counter = ran.clone();
            let inner_db = db.clone();
            duetto::testing::atest_transaction(&db, |callbacks| async move {
                // The code's own committed scope, with an on_commit callback.
                inner_db
                    .aatomic(async {
                        user::ActiveModel {
                            name: Set("Inside".into()),
                            email: Set("inside@example.com".into()),
                            created_at: Set(chrono::Utc::now().into()),
                            ..Default::default()
                        }
                        .asave_using(&inner_db)
                        .await?;
                        let counter = counter.clone();
                        inner_db.on_commit(move || {
                            counter.fetch_add(1, Ordering::SeqCst);
                        });
                        duetto::Result::Ok(())
                    })
                    .await
                    .unwrap();
                // A scope that fails rolls back its own work and drops its callback.
                let dropped = counter.clone();
                let _ = inner_db
                    .aatomic(async {
                        inner_db.on_commit(move || {
                            dropped.fetch_add(100, Ordering::SeqCst);
                        });
                        post::Entity::objects().using(&inner_db).adelete().await?;
                        Err::<(), _>(duetto::Error::other("changed my mind"))
                    })
                    .await;
                assert_eq!(
                    user::Entity::objects()
                        .using(&inner_db)
                        .acount()
                        .await
                        .unwrap(),
                    3
                );
                assert_eq!(
                    post::Entity::objects()
                        .using(&inner_db)
                        .acount()
                        .await
                        .unwrap(),
                    2
                );
                assert_eq!(callbacks.pending(), 1);
                assert_eq!(callbacks.run(), 1);
            })
            .await
            .unwrap();
            assert_eq!(ran.load(Ordering::SeqCst), 1, "{}", kind.name());
            // Unchanged after the test, seen from a new connection too.
            let fresh = Db::connect(&t.url).await.unwrap();
            assert_eq!(
                user::Entity::objects()
                    .using(&fresh)
                    .acount()
                    .await
                    .unwrap(),
                2,
                "{}",
                kind.name()
            );
            fresh.close().await.unwrap();

            // The blocking voice.
            let blocking = db.clone();
            tokio::task::spawn_blocking(move || {
                duetto::testing::test_transaction(&blocking, |_| {
                    user::Entity::objects().using(&blocking).delete().unwrap();
                    assert_eq!(user::Entity::objects().using(&blocking).count().unwrap(), 0);
                })
                .unwrap();
                assert_eq!(user::Entity::objects().using(&blocking).count().unwrap(), 2);
            })
            .await
            .unwrap();
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_carry_application_name_and_session_settings() {
    // The test subscriber is installed before this test sends anything, so it sees every
    // statement of the test.
    recorded();
    watchdog(60, "settings", async {
        for kind in common::backends() {
            let t = common::empty(kind).await;
            let (options, check, expected) = match kind {
                Kind::Postgres => (
                    duetto::ConnectOptions::new(&t.url)
                        .application_name("duetto-observe-test")
                        .session_setting("statement_timeout", "4321"),
                    "SELECT application_name || ' ' || current_setting('statement_timeout') \
                     FROM pg_stat_activity WHERE pid = pg_backend_pid()",
                    "duetto-observe-test 4321ms",
                ),
                Kind::Mysql => (
                    duetto::ConnectOptions::new(&t.url)
                        .application_name("ignored on MySQL")
                        .session_setting("wait_timeout", "4321")
                        .session_setting("time_zone", "+02:00"),
                    "SELECT CONCAT(@@session.wait_timeout, ' ', @@session.time_zone)",
                    "4321 +02:00",
                ),
                Kind::Sqlite => (
                    duetto::ConnectOptions::new(&t.url).session_setting("cache_size", "-4321"),
                    "SELECT CAST(cache_size AS TEXT) FROM pragma_cache_size",
                    "-4321",
                ),
            };
            let db = Db::connect_with(options).await.unwrap();
            let got: String = db
                .arun(move |conn| async move {
                    let row = conn
                        .query_one_raw(duetto::sea_orm::Statement::from_string(
                            conn.get_database_backend(),
                            check,
                        ))
                        .await?
                        .expect("one row");
                    row.try_get_by_index::<String>(0)
                })
                .await
                .unwrap();
            assert_eq!(got, expected, "{}", kind.name());
            db.close().await.unwrap();

            let bad = Db::connect_with(
                duetto::ConnectOptions::new(&t.url).session_setting("x; DROP TABLE y", "1"),
            )
            .await
            .unwrap_err();
            assert!(
                matches!(
                    bad,
                    duetto::Error::InvalidOption {
                        option: "session_setting",
                        ..
                    }
                ),
                "{bad}"
            );
        }
    })
    .await;
}
