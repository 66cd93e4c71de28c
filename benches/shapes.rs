//! Query shapes against SeaORM called directly and raw sqlx, on the same pool: a grouped
//! aggregation (`values(status).annotate(n, big = Count(filter), total = Sum)` over 20,000
//! orders) and an upsert (1,000 users, every one colliding on its e-mail, names updated). On
//! embedded SQLite always, and on PostgreSQL / MySQL when `DUETTO_BENCH_POSTGRES_URL` /
//! `DUETTO_BENCH_MYSQL_URL` are set (their tables are dropped and recreated).
//!
//! ```text
//! cargo bench --bench shapes
//! ```
//!
//! Target: duetto ≤ 1.10× SeaORM.

use criterion::{criterion_group, criterion_main, Criterion};
use duetto::prelude::*;
use duetto::sea_orm::prelude::Decimal;
use duetto::sea_orm::sea_query::{Expr, Func, OnConflict};
use duetto::sea_orm::sqlx::{self, AssertSqlSafe};
use duetto::sea_orm::{ColumnTrait, EntityTrait, FromQueryResult, QuerySelect, Set};
use duetto::{agg, Backend, BulkCreate, Db};
use entity::{order, user};
use migration::{Migrator, MigratorTrait};
use tokio::runtime::Runtime;

const USERS: usize = 1_000;
const ORDERS_PER_USER: usize = 20;

#[allow(dead_code)]
#[derive(Debug, FromQueryResult)]
struct PerStatus {
    status: String,
    n: i64,
    big: i64,
    total: Option<Decimal>,
}

struct Fixture {
    name: &'static str,
    db: Db,
    _dir: Option<tempfile::TempDir>,
}

fn fixtures() -> Vec<Fixture> {
    let dir = tempfile::tempdir().unwrap();
    let mut targets = vec![(
        "SQLite",
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("shapes.db").display()
        ),
        Some(dir),
    )];
    for (name, var) in [
        ("PostgreSQL", "DUETTO_BENCH_POSTGRES_URL"),
        ("MySQL", "DUETTO_BENCH_MYSQL_URL"),
    ] {
        if let Ok(url) = std::env::var(var) {
            targets.push((name, url, None));
        }
    }
    targets
        .into_iter()
        .map(|(name, url, dir)| {
            let db =
                Db::connect_with_blocking(ConnectOptions::new(&url).max_connections(8)).unwrap();
            db.run(|conn| async move { Migrator::fresh(&conn).await })
                .unwrap();
            user::Entity::objects()
                .using(&db)
                .bulk_create((0..USERS).map(upsert_row))
                .unwrap();
            let statuses = ["pending", "paid", "shipped"];
            order::Entity::objects()
                .using(&db)
                .bulk_create((0..USERS * ORDERS_PER_USER).map(|i| order::ActiveModel {
                    user_id: Set((i % USERS) as i64 + 1),
                    total: Set(Decimal::new((i % 97) as i64 * 100, 2)),
                    status: Set(statuses[i % 3].into()),
                    ..Default::default()
                }))
                .unwrap();
            Fixture {
                name,
                db,
                _dir: dir,
            }
        })
        .collect()
}

fn upsert_row(i: usize) -> user::ActiveModel {
    user::ActiveModel {
        name: Set(format!("user {i}")),
        email: Set(format!("user{i}@example.com")),
        ..Default::default()
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn raw_group_sql(backend: Backend) -> String {
    let q = if backend == Backend::MySql { '`' } else { '"' };
    format!(
        "SELECT status, COUNT(id) AS n, COUNT(CASE WHEN total > 40 THEN id END) AS big, \
         SUM(total) AS total FROM {q}order{q} GROUP BY status"
    )
}

fn raw_upsert_sql(backend: Backend) -> String {
    let mut sql = String::from("INSERT INTO ");
    let (q, conflict) = match backend {
        Backend::MySql => (
            '`',
            " ON DUPLICATE KEY UPDATE `name` = VALUES(`name`)".to_owned(),
        ),
        _ => (
            '"',
            " ON CONFLICT (\"email\") DO UPDATE SET \"name\" = EXCLUDED.\"name\"".to_owned(),
        ),
    };
    sql.push_str(&format!("{q}user{q} ({q}name{q}, {q}email{q}) VALUES "));
    for i in 0..USERS {
        let (a, b) = match backend {
            Backend::Postgres => (format!("${}", 2 * i + 1), format!("${}", 2 * i + 2)),
            _ => ("?".to_owned(), "?".to_owned()),
        };
        sql.push_str(&format!("{}({a}, {b})", if i == 0 { "" } else { ", " }));
    }
    sql + &conflict
}

fn shapes(c: &mut Criterion) {
    let rt = runtime();
    for f in fixtures() {
        // The SeaORM baseline on the same pool, outside duetto's accounting on purpose.
        #[allow(deprecated)]
        let conn = f.db.conn().clone();
        let backend = f.db.backend();

        let mut group = c.benchmark_group(format!("grouped aggregation/{}", f.name));
        let grouped = order::Entity::objects()
            .using(&f.db)
            .values([order::Column::Status])
            .annotate("n", agg::count(order::Column::Id))
            .annotate(
                "big",
                agg::count(order::Column::Id).filter(order::Column::Total.gt(Decimal::new(40, 0))),
            )
            .annotate("total", agg::sum(order::Column::Total));
        group.bench_function("duetto values().annotate()", |b| {
            b.to_async(&rt)
                .iter(|| async { grouped.alist_as::<PerStatus>().await.unwrap() })
        });
        group.bench_function("SeaORM", |b| {
            b.to_async(&rt).iter(|| async {
                let conn = conn.clone();
                duetto::runtime::on_home(async move {
                    order::Entity::find()
                        .select_only()
                        .column(order::Column::Status)
                        .expr_as(Func::count(Expr::col(order::Column::Id)), "n")
                        .expr_as(
                            Func::count(Expr::expr(
                                duetto::sea_orm::sea_query::CaseStatement::new().case(
                                    order::Column::Total.gt(Decimal::new(40, 0)),
                                    Expr::col(order::Column::Id),
                                ),
                            )),
                            "big",
                        )
                        .expr_as(Func::sum(Expr::col(order::Column::Total)), "total")
                        .group_by(order::Column::Status)
                        .into_model::<PerStatus>()
                        .all(&conn)
                        .await
                        .unwrap()
                })
                .await
                .unwrap()
            })
        });
        let sql = raw_group_sql(backend);
        group.bench_function("raw sqlx", |b| {
            b.to_async(&rt).iter(|| async {
                match backend {
                    Backend::Postgres => sqlx::query(AssertSqlSafe(sql.clone()))
                        .fetch_all(conn.get_postgres_connection_pool())
                        .await
                        .unwrap()
                        .len(),
                    Backend::MySql => sqlx::query(AssertSqlSafe(sql.clone()))
                        .fetch_all(conn.get_mysql_connection_pool())
                        .await
                        .unwrap()
                        .len(),
                    _ => sqlx::query(AssertSqlSafe(sql.clone()))
                        .fetch_all(conn.get_sqlite_connection_pool())
                        .await
                        .unwrap()
                        .len(),
                }
            })
        });
        group.finish();

        let mut group = c.benchmark_group(format!("upsert 1000 rows/{}", f.name));
        group.sample_size(20);
        let users = user::Entity::objects().using(&f.db);
        group.bench_function("duetto abulk_create_with", |b| {
            b.to_async(&rt).iter(|| async {
                users
                    .abulk_create_with(
                        (0..USERS).map(upsert_row),
                        BulkCreate::new()
                            .update_conflicts([user::Column::Email], [user::Column::Name]),
                    )
                    .await
                    .unwrap()
            })
        });
        group.bench_function("SeaORM", |b| {
            b.to_async(&rt).iter(|| async {
                let conn = conn.clone();
                duetto::runtime::on_home(async move {
                    use duetto::sea_orm::TransactionTrait;
                    let tx = conn.begin().await.unwrap();
                    user::Entity::insert_many((0..USERS).map(upsert_row))
                        .on_conflict(
                            OnConflict::column(user::Column::Email)
                                .update_column(user::Column::Name)
                                .to_owned(),
                        )
                        .exec_without_returning(&tx)
                        .await
                        .unwrap();
                    tx.commit().await.unwrap();
                })
                .await
                .unwrap()
            })
        });
        let sql = raw_upsert_sql(backend);
        group.bench_function("raw sqlx", |b| {
            b.to_async(&rt).iter(|| async {
                macro_rules! upsert {
                    ($pool:expr) => {{
                        let mut tx = $pool.begin().await.unwrap();
                        let mut query = sqlx::query(AssertSqlSafe(sql.clone()));
                        for i in 0..USERS {
                            query = query
                                .bind(format!("user {i}"))
                                .bind(format!("user{i}@example.com"));
                        }
                        query.execute(&mut *tx).await.unwrap();
                        tx.commit().await.unwrap();
                    }};
                }
                match backend {
                    Backend::Postgres => upsert!(conn.get_postgres_connection_pool()),
                    Backend::MySql => upsert!(conn.get_mysql_connection_pool()),
                    _ => upsert!(conn.get_sqlite_connection_pool()),
                }
            })
        });
        group.finish();
    }
}

criterion_group!(benches, shapes);
criterion_main!(benches);
