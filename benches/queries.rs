//! duetto's query layer against SeaORM called directly on the same pool, and bulk insert against a
//! raw sqlx multi-row insert. Embedded SQLite (a WAL file), so the figures measure the layers, not
//! a network.
//!
//! ```text
//! cargo bench --bench queries
//! ```
//!
//! Targets: `aget_pk`/`alist` ≤ 1.10× SeaORM; blocking `get_pk` ≤ `aget_pk` + 10 µs;
//! `abulk_create` ≥ 0.8× raw sqlx rows/s.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use duetto::prelude::*;
use duetto::sea_orm::{ConnectionTrait, EntityTrait, Set};
use entity::{notification, user};
use migration::{Migrator, MigratorTrait};
use tokio::runtime::Runtime;

struct Fixture {
    _dir: tempfile::TempDir,
    db: Db,
    rt: Runtime,
}

fn fixture(users: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    let db = Db::connect_blocking(&url).unwrap();
    db.run(|conn| async move { Migrator::up(&conn, None).await })
        .unwrap();
    let rows = (0..users).map(|i| user::ActiveModel {
        name: Set(format!("user {i}")),
        email: Set(format!("user{i}@example.com")),
        ..Default::default()
    });
    user::Entity::objects()
        .using(&db)
        .bulk_create(rows)
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    Fixture { _dir: dir, db, rt }
}

fn get_by_primary_key(c: &mut Criterion) {
    let f = fixture(10_000);
    let conn = f.db.conn().clone();
    let users = user::Entity::objects().using(&f.db);
    let mut group = c.benchmark_group("get by primary key (SQLite)");
    group.bench_function("SeaORM find_by_id().one()", |b| {
        b.to_async(&f.rt).iter(|| {
            let conn = conn.clone();
            async move { user::Entity::find_by_id(4_321).one(&conn).await.unwrap() }
        })
    });
    group.bench_function("duetto aget_pk (from a foreign runtime)", |b| {
        b.to_async(&f.rt)
            .iter(|| async { users.aget_pk(4_321).await.unwrap() })
    });
    group.bench_function("duetto get_pk (blocking, plain thread)", |b| {
        b.iter(|| users.get_pk(4_321).unwrap())
    });
    group.finish();
}

fn list_ten_thousand(c: &mut Criterion) {
    let f = fixture(10_000);
    let conn = f.db.conn().clone();
    let users = user::Entity::objects().using(&f.db);
    let mut group = c.benchmark_group("list 10,000 rows (SQLite)");
    group.throughput(Throughput::Elements(10_000));
    group.sample_size(30);
    group.bench_function("SeaORM find().all()", |b| {
        b.to_async(&f.rt).iter(|| {
            let conn = conn.clone();
            async move { user::Entity::find().all(&conn).await.unwrap() }
        })
    });
    group.bench_function("duetto alist", |b| {
        b.to_async(&f.rt)
            .iter(|| async { users.alist().await.unwrap() })
    });
    group.bench_function("duetto list (blocking)", |b| {
        b.iter(|| users.list().unwrap())
    });
    group.finish();
}

const BULK_ROWS: usize = 100_000;

fn notifications() -> Vec<notification::ActiveModel> {
    (0..BULK_ROWS)
        .map(|i| notification::ActiveModel {
            user_id: Set(1),
            message: Set(format!("message {i}")),
            read: Set(i % 2 == 0),
            ..Default::default()
        })
        .collect()
}

/// The hand-written baseline: multi-row `INSERT … VALUES (?,?,?),(?,?,?)…` with sqlx, chunked
/// under SQLite's bind limit, in one transaction.
async fn raw_sqlx_insert(pool: &duetto::sea_orm::sqlx::SqlitePool, rows: &[(i64, String, bool)]) {
    let mut tx = pool.begin().await.unwrap();
    for chunk in rows.chunks(32_766 / 3) {
        let mut sql = String::from("INSERT INTO notification (user_id, message, read) VALUES ");
        for i in 0..chunk.len() {
            sql.push_str(if i == 0 { "(?,?,?)" } else { ",(?,?,?)" });
        }
        // Only placeholders are formatted into the SQL; every value is bound.
        let mut query = duetto::sea_orm::sqlx::query(duetto::sea_orm::sqlx::AssertSqlSafe(sql));
        for (user_id, message, read) in chunk {
            query = query.bind(user_id).bind(message).bind(read);
        }
        query.execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
}

fn bulk_insert(c: &mut Criterion) {
    let f = fixture(1);
    let pool = f.db.conn().get_sqlite_connection_pool().clone();
    let notifications_qs = notification::Entity::objects().using(&f.db);
    let clear = || {
        f.db.run(|conn| async move { conn.execute_unprepared("DELETE FROM notification").await })
            .unwrap();
    };
    let mut group = c.benchmark_group("bulk insert 100,000 rows (SQLite)");
    group.throughput(Throughput::Elements(BULK_ROWS as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("raw sqlx multi-row INSERT", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let rows: Vec<(i64, String, bool)> = (0..BULK_ROWS)
                    .map(|i| (1, format!("message {i}"), i % 2 == 0))
                    .collect();
                let started = Instant::now();
                f.rt.block_on(raw_sqlx_insert(&pool, &rows));
                total += started.elapsed();
                clear();
            }
            total
        })
    });
    group.bench_function("duetto abulk_create", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let rows = notifications();
                let started = Instant::now();
                f.rt.block_on(notifications_qs.abulk_create(rows)).unwrap();
                total += started.elapsed();
                clear();
            }
            total
        })
    });
    group.bench_function(
        "SeaORM insert_many (one statement per bind-limit chunk)",
        |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let rows = notifications();
                    let conn = f.db.conn().clone();
                    let started = Instant::now();
                    f.rt.block_on(async move {
                        use duetto::sea_orm::TransactionTrait;
                        let txn = conn.begin().await.unwrap();
                        let mut rows = rows.into_iter().peekable();
                        while rows.peek().is_some() {
                            let chunk: Vec<_> = rows.by_ref().take(32_766 / 3).collect();
                            notification::Entity::insert_many(chunk)
                                .exec_without_returning(&txn)
                                .await
                                .unwrap();
                        }
                        txn.commit().await.unwrap();
                    });
                    total += started.elapsed();
                    clear();
                }
                total
            })
        },
    );
    group.finish();
}

criterion_group!(benches, get_by_primary_key, list_ten_thousand, bulk_insert);
criterion_main!(benches);
