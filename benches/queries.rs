//! duetto's query layer against SeaORM called directly on the same pool and against raw sqlx, on
//! embedded SQLite always and on PostgreSQL / MySQL when `DUETTO_BENCH_POSTGRES_URL` /
//! `DUETTO_BENCH_MYSQL_URL` are set (their tables are dropped and recreated: point them at a
//! scratch database). `scripts/bench.sh` runs it with all three.
//!
//! ```text
//! cargo bench --bench queries
//! ```
//!
//! Targets: duetto ≤ 1.10× SeaORM; blocking twin ≤ async + 10 µs; `abulk_create` ≥ 0.8× raw sqlx
//! rows/s.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use duetto::prelude::*;
use duetto::sea_orm::sqlx::{self, AssertSqlSafe};
use duetto::sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, QueryOrder, QuerySelect, Set};
use duetto::{Backend, Db};
use entity::{notification, user};
use migration::{Migrator, MigratorTrait};
use tokio::runtime::Runtime;

const USERS: usize = 10_000;
const PK: i64 = 4_321;

struct Fixture {
    name: &'static str,
    db: Db,
    raw: Raw,
    _dir: Option<tempfile::TempDir>,
}

/// The same pool, used through plain sqlx.
enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
    MySql(sqlx::MySqlPool),
}

type UserRow = (i64, String, String, DateTime<Utc>);
type NotificationRow = (i64, String, bool);

/// One raw-sqlx statement run on whichever pool `raw` holds. Only the SQL's placeholder and
/// quoting style differ between backends.
macro_rules! on_pool {
    ($raw:expr, |$pool:ident, $q:ident| $body:expr) => {
        match $raw {
            Raw::Sqlite($pool) => {
                let $q = '"';
                $body
            }
            Raw::Postgres($pool) => {
                let $q = '"';
                $body
            }
            Raw::MySql($pool) => {
                let $q = '`';
                $body
            }
        }
    };
}

impl Raw {
    fn placeholder(&self, n: usize) -> String {
        match self {
            Raw::Postgres(_) => format!("${n}"),
            _ => "?".to_owned(),
        }
    }

    async fn get_pk(&self, id: i64) -> UserRow {
        let sql = format!(
            "SELECT id, name, email, created_at FROM {q}user{q} WHERE id = {}",
            self.placeholder(1),
            q = if matches!(self, Raw::MySql(_)) {
                '`'
            } else {
                '"'
            }
        );
        on_pool!(self, |pool, _q| sqlx::query_as::<_, UserRow>(
            AssertSqlSafe(sql)
        )
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap())
    }

    async fn list(&self, limit: usize) -> Vec<UserRow> {
        on_pool!(self, |pool, q| sqlx::query_as::<_, UserRow>(AssertSqlSafe(
            format!("SELECT id, name, email, created_at FROM {q}user{q} ORDER BY id LIMIT {limit}")
        ))
        .fetch_all(pool)
        .await
        .unwrap())
    }

    async fn count(&self) -> i64 {
        on_pool!(self, |pool, q| sqlx::query_scalar::<_, i64>(AssertSqlSafe(
            format!("SELECT COUNT(*) FROM {q}user{q}")
        ))
        .fetch_one(pool)
        .await
        .unwrap())
    }

    /// Multi-row `INSERT … VALUES (…),(…)…` chunked under the bind limit, in one transaction.
    async fn bulk_insert(&self, rows: &[NotificationRow]) {
        let per_statement = match self {
            Raw::Sqlite(_) => 32_766 / 3,
            _ => 65_535 / 3,
        };
        let statements: Vec<(String, &[NotificationRow])> = rows
            .chunks(per_statement)
            .map(|chunk| {
                let mut sql =
                    String::from("INSERT INTO notification (user_id, message, \"read\") VALUES ");
                if matches!(self, Raw::MySql(_)) {
                    sql = sql.replace('"', "`");
                }
                for i in 0..chunk.len() {
                    let p = |k: usize| self.placeholder(3 * i + k);
                    sql.push_str(&format!(
                        "{}({}, {}, {})",
                        if i == 0 { "" } else { "," },
                        p(1),
                        p(2),
                        p(3)
                    ));
                }
                (sql, chunk)
            })
            .collect();
        on_pool!(self, |pool, _q| {
            let mut tx = pool.begin().await.unwrap();
            for (sql, chunk) in statements {
                let mut query = sqlx::query(AssertSqlSafe(sql));
                for (user_id, message, read) in chunk {
                    query = query.bind(*user_id).bind(message.clone()).bind(*read);
                }
                query.execute(&mut *tx).await.unwrap();
            }
            tx.commit().await.unwrap();
        })
    }
}

fn fixtures() -> Vec<Fixture> {
    let mut out = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    out.push(("SQLite", sqlite, Some(dir)));
    for (name, var) in [
        ("PostgreSQL", "DUETTO_BENCH_POSTGRES_URL"),
        ("MySQL", "DUETTO_BENCH_MYSQL_URL"),
    ] {
        if let Ok(url) = std::env::var(var) {
            out.push((name, url, None));
        }
    }
    out.into_iter()
        .map(|(name, url, dir)| {
            let db =
                Db::connect_with_blocking(ConnectOptions::new(&url).max_connections(8)).unwrap();
            db.run(|conn| async move { Migrator::fresh(&conn).await })
                .unwrap();
            let rows = (0..USERS).map(|i| user::ActiveModel {
                name: Set(format!("user {i}")),
                email: Set(format!("user{i}@example.com")),
                ..Default::default()
            });
            user::Entity::objects()
                .using(&db)
                .bulk_create(rows)
                .unwrap();
            // The SeaORM baseline on the same pool, outside duetto's accounting on purpose.
            #[allow(deprecated)]
            let conn = db.conn();
            let raw = match db.backend() {
                Backend::Sqlite => Raw::Sqlite(conn.get_sqlite_connection_pool().clone()),
                Backend::Postgres => Raw::Postgres(conn.get_postgres_connection_pool().clone()),
                _ => Raw::MySql(conn.get_mysql_connection_pool().clone()),
            };
            Fixture {
                name,
                db,
                raw,
                _dir: dir,
            }
        })
        .collect()
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn reads(c: &mut Criterion) {
    let rt = runtime();
    for f in fixtures() {
        // The SeaORM baseline on the same pool, outside duetto's accounting on purpose.
        #[allow(deprecated)]
        let conn = f.db.conn().clone();
        let users = user::Entity::objects().using(&f.db);

        let mut group = c.benchmark_group(format!("get by pk/{}", f.name));
        group.bench_function("raw sqlx", |b| b.to_async(&rt).iter(|| f.raw.get_pk(PK)));
        group.bench_function("SeaORM", |b| {
            b.to_async(&rt).iter(|| {
                let conn = conn.clone();
                async move { user::Entity::find_by_id(PK).one(&conn).await.unwrap() }
            })
        });
        group.bench_function("duetto aget_pk", |b| {
            b.to_async(&rt)
                .iter(|| async { users.aget_pk(PK).await.unwrap() })
        });
        group.bench_function("duetto get_pk (blocking)", |b| {
            b.iter(|| users.get_pk(PK).unwrap())
        });
        group.finish();

        let mut group = c.benchmark_group(format!("first/{}", f.name));
        group.bench_function("SeaORM", |b| {
            b.to_async(&rt).iter(|| {
                let conn = conn.clone();
                async move {
                    user::Entity::find()
                        .order_by_asc(user::Column::Id)
                        .one(&conn)
                        .await
                        .unwrap()
                }
            })
        });
        group.bench_function("duetto afirst", |b| {
            b.to_async(&rt)
                .iter(|| async { users.afirst().await.unwrap() })
        });
        group.bench_function("duetto first (blocking)", |b| {
            b.iter(|| users.first().unwrap())
        });
        group.finish();

        let mut group = c.benchmark_group(format!("count/{}", f.name));
        group.bench_function("raw sqlx", |b| b.to_async(&rt).iter(|| f.raw.count()));
        group.bench_function("SeaORM", |b| {
            b.to_async(&rt).iter(|| {
                let conn = conn.clone();
                async move { user::Entity::find().count(&conn).await.unwrap() }
            })
        });
        group.bench_function("duetto acount", |b| {
            b.to_async(&rt)
                .iter(|| async { users.acount().await.unwrap() })
        });
        group.bench_function("duetto count (blocking)", |b| {
            b.iter(|| users.count().unwrap())
        });
        group.finish();

        let mut group = c.benchmark_group(format!("list/{}", f.name));
        for n in [1usize, 100, 10_000] {
            group.throughput(Throughput::Elements(n as u64));
            if n == 10_000 {
                group.sample_size(20);
            }
            let limited = users.clone().order_by_asc(user::Column::Id).limit(n as u64);
            group.bench_with_input(BenchmarkId::new("raw sqlx", n), &n, |b, &n| {
                b.to_async(&rt).iter(|| f.raw.list(n))
            });
            group.bench_with_input(BenchmarkId::new("SeaORM", n), &n, |b, &n| {
                b.to_async(&rt).iter(|| {
                    let conn = conn.clone();
                    async move {
                        user::Entity::find()
                            .order_by_asc(user::Column::Id)
                            .limit(n as u64)
                            .all(&conn)
                            .await
                            .unwrap()
                    }
                })
            });
            group.bench_with_input(BenchmarkId::new("duetto alist", n), &n, |b, _| {
                b.to_async(&rt)
                    .iter(|| async { limited.alist().await.unwrap() })
            });
            group.bench_with_input(BenchmarkId::new("duetto list (blocking)", n), &n, |b, _| {
                b.iter(|| limited.list().unwrap())
            });
        }
        group.finish();
    }
}

fn notification_rows(n: usize) -> Vec<notification::ActiveModel> {
    (0..n)
        .map(|i| notification::ActiveModel {
            user_id: Set(1),
            message: Set(format!("message {i}")),
            read: Set(i % 2 == 0),
            ..Default::default()
        })
        .collect()
}

/// Times only `insert`: rows are prepared before the clock starts and the table is emptied after
/// it stops, every iteration.
fn timed_inserts<T>(
    f: &Fixture,
    rt: &Runtime,
    iters: u64,
    n: usize,
    prepare: impl Fn(usize) -> T,
    insert: impl Fn(T),
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let rows = prepare(n);
        let started = Instant::now();
        insert(rows);
        total += started.elapsed();
        let db = f.db.clone();
        rt.block_on(
            db.arun(
                |conn| async move { conn.execute_unprepared("DELETE FROM notification").await },
            ),
        )
        .unwrap();
    }
    total
}

fn bulk(c: &mut Criterion) {
    let rt = runtime();
    for f in fixtures() {
        let notifications = notification::Entity::objects().using(&f.db);
        let limit = if f.db.backend() == Backend::Sqlite {
            32_766 / 3
        } else {
            65_535 / 3
        };
        let raw_rows = |n: usize| -> Vec<NotificationRow> {
            (0..n)
                .map(|i| (1, format!("message {i}"), i % 2 == 0))
                .collect()
        };
        let mut group = c.benchmark_group(format!("bulk insert/{}", f.name));
        group.sample_size(10);
        group.warm_up_time(Duration::from_secs(1));
        for n in [100usize, 10_000, 100_000] {
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::new("raw sqlx", n), &n, |b, &n| {
                b.iter_custom(|iters| {
                    timed_inserts(&f, &rt, iters, n, raw_rows, |rows| {
                        rt.block_on(f.raw.bulk_insert(&rows))
                    })
                })
            });
            group.bench_with_input(BenchmarkId::new("SeaORM insert_many", n), &n, |b, &n| {
                b.iter_custom(|iters| {
                    timed_inserts(&f, &rt, iters, n, notification_rows, |rows| {
                        // The SeaORM baseline on the same pool, outside duetto's accounting on purpose.
                        #[allow(deprecated)]
                        let conn = f.db.conn().clone();
                        rt.block_on(async move {
                            use duetto::sea_orm::TransactionTrait;
                            let txn = conn.begin().await.unwrap();
                            let mut rows = rows.into_iter().peekable();
                            while rows.peek().is_some() {
                                let chunk: Vec<_> = rows.by_ref().take(limit).collect();
                                notification::Entity::insert_many(chunk)
                                    .exec_without_returning(&txn)
                                    .await
                                    .unwrap();
                            }
                            txn.commit().await.unwrap();
                        })
                    })
                })
            });
            group.bench_with_input(BenchmarkId::new("duetto abulk_create", n), &n, |b, &n| {
                b.iter_custom(|iters| {
                    timed_inserts(&f, &rt, iters, n, notification_rows, |rows| {
                        rt.block_on(notifications.abulk_create(rows)).unwrap();
                    })
                })
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = reads, bulk
}
criterion_main!(benches);
