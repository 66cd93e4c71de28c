//! A plain loop of `aget_pk` calls on PostgreSQL, for counting duetto's client-side cost in
//! instructions (`valgrind --tool=callgrind`), which unlike wall time repeats exactly from run to
//! run. BENCHMARKS.md's observability-overhead row compares two builds with it:
//!
//! ```text
//! DUETTO_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/duetto_bench \
//!   cargo bench --bench pk_loop --no-run
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/pk.out target/release/deps/pk_loop-* 20000
//! ```
//!
//! Prints the wall time per call too; the instruction count is the figure that matters. With
//! `--subscriber` a `tracing` subscriber that records every `duetto::query` span is installed
//! first, to price the spans when someone is listening.

use std::time::Instant;

use duetto::prelude::*;
use duetto::sea_orm::Set;
use entity::user;
use migration::{Migrator, MigratorTrait};

fn main() -> duetto::Result<()> {
    let calls: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20_000);
    if std::env::args().any(|a| a == "--subscriber") {
        use tracing_subscriber::layer::SubscriberExt;
        let only_queries = tracing_subscriber::filter::Targets::new()
            .with_target("duetto::query", tracing::Level::DEBUG);
        let subscriber = tracing_subscriber::registry().with(only_queries);
        tracing::subscriber::set_global_default(subscriber).map_err(duetto::Error::other)?;
    }
    let url = std::env::var("DUETTO_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/duetto_bench".into());
    let db = Db::connect_blocking(&url)?;
    duetto::set_default(db.clone());
    db.run(|conn| async move { Migrator::fresh(&conn).await })?;
    let ada = user::ActiveModel {
        name: Set("Ada".into()),
        email: Set("ada@example.com".into()),
        created_at: Set(chrono::Utc::now().into()),
        ..Default::default()
    }
    .save()?;
    let users = user::Entity::objects();
    let started = Instant::now();
    async_to_sync(async move {
        for _ in 0..calls {
            users.aget_pk(ada.id).await?;
        }
        Ok::<_, duetto::Error>(())
    })??;
    let per_call = started.elapsed().as_secs_f64() * 1e6 / calls as f64;
    println!("{calls} aget_pk calls: {per_call:.1} µs per call");
    Ok(())
}
