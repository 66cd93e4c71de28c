//! A list page: N posts with their author and their comments, loaded three ways on the same pool —
//! the N+1 loop (`related()` / `aget_pk` per post), duetto's `prefetch`, and SeaORM 2's own loader
//! (`load_one` / `load_many` on the posts) — for N = 20 and 200. On embedded SQLite always, and on
//! PostgreSQL (and MySQL) behind the latency proxy at 1 ms each way when their URL is set.
//!
//! ```text
//! DUETTO_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1/duetto_bench cargo bench --bench relations
//! ```
//!
//! Prints a table of medians and the ratios the targets are about: prefetch / SeaORM loader
//! (≤ 1.10×) and N+1 loop / prefetch (≥ 10× at 200 posts on PostgreSQL at 1 ms).

#[path = "../examples/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use duetto::prefetch::{many, one};
use duetto::prelude::*;
use duetto::sea_orm::{EntityTrait, LoaderTrait, QueryOrder, QuerySelect};
use entity::{comment, post, user};
use support::{median, Args, Demo, Size};

const PAGES: [u64; 2] = [20, 200];

async fn n_plus_one(n: u64) -> duetto::Result<usize> {
    let posts = post::Entity::objects()
        .order_by_asc(post::Column::Id)
        .limit(n)
        .alist()
        .await?;
    let mut loaded = 0;
    for post in &posts {
        let author = user::Entity::objects().aget_pk(post.user_id).await?;
        let comments = post.related::<comment::Entity>().alist().await?;
        loaded += comments.len() + usize::from(author.id > 0);
    }
    Ok(loaded)
}

async fn prefetched(n: u64) -> duetto::Result<usize> {
    let page = post::Entity::objects()
        .order_by_asc(post::Column::Id)
        .limit(n)
        .prefetch((one::<user::Entity>(), many::<comment::Entity>()))
        .alist()
        .await?;
    Ok(page
        .iter()
        .map(|(_, (author, comments))| comments.len() + usize::from(author.is_some()))
        .sum())
}

async fn seaorm_loader(db: Db, n: u64) -> duetto::Result<usize> {
    duetto::runtime::on_home(async move {
        // The SeaORM baseline on the same pool, outside duetto's accounting on purpose.
        #[allow(deprecated)]
        let conn = db.conn();
        let posts = post::Entity::find()
            .order_by_asc(post::Column::Id)
            .limit(n)
            .all(conn)
            .await?;
        let authors = posts.load_one(user::Entity, conn).await?;
        let comments = posts.load_many(comment::Entity, conn).await?;
        Ok::<_, duetto::Error>(
            comments.iter().map(Vec::len).sum::<usize>()
                + authors.iter().filter(|a| a.is_some()).count(),
        )
    })
    .await?
}

fn main() -> duetto::Result<()> {
    let mut targets: Vec<(&str, Option<String>, u64)> = vec![("SQLite", None, 0)];
    for (name, var) in [
        ("PostgreSQL", "DUETTO_BENCH_POSTGRES_URL"),
        ("MySQL", "DUETTO_BENCH_MYSQL_URL"),
    ] {
        if let Ok(url) = std::env::var(var) {
            targets.push((name, Some(url), 1));
        }
    }
    let runs: usize = std::env::var("DUETTO_BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(15);
    let rt = tokio::runtime::Runtime::new().map_err(duetto::Error::other)?;
    duetto::runtime::adopt(rt.handle().clone())?;
    println!(
        "{:<11} {:>7} {:>6} {:>12} {:>12} {:>12} {:>14} {:>13}",
        "backend",
        "latency",
        "posts",
        "N+1 loop",
        "prefetch",
        "SeaORM",
        "prefetch/SeaORM",
        "N+1/prefetch"
    );
    for (name, url, latency) in targets {
        let args = Args {
            database_url: url,
            latency_ms: latency,
            short: true,
            runs: Some(runs),
            rest: Vec::new(),
        };
        let demo = Demo::setup(&args, Size::realistic(true))?;
        for n in PAGES {
            let measure = |f: &dyn Fn() -> duetto::Result<usize>| -> duetto::Result<Duration> {
                let expected = f()?; // warm: connections opened, statements prepared
                for _ in 0..2 {
                    f()?;
                }
                let mut samples = Vec::new();
                for _ in 0..runs {
                    let started = Instant::now();
                    assert_eq!(f()?, expected);
                    samples.push(started.elapsed());
                }
                Ok(median(samples))
            };
            let db = demo.db.clone();
            let loop_time = measure(&|| rt.block_on(n_plus_one(n)))?;
            let prefetch_time = measure(&|| rt.block_on(prefetched(n)))?;
            let seaorm_time = measure(&|| rt.block_on(seaorm_loader(db.clone(), n)))?;
            let msf = |d: Duration| d.as_secs_f64() * 1e3;
            println!(
                "{:<11} {:>4} ms {:>6} {:>9.2} ms {:>9.2} ms {:>9.2} ms {:>14.2}× {:>12.1}×",
                name,
                latency,
                n,
                msf(loop_time),
                msf(prefetch_time),
                msf(seaorm_time),
                msf(prefetch_time) / msf(seaorm_time),
                msf(loop_time) / msf(prefetch_time),
            );
        }
        demo.db.close_blocking()?;
    }
    Ok(())
}
