//! The 5-query dashboard behind a simulated network: one-way latency 0, 1, 5 and 20 ms (the
//! latency proxy in front of PostgreSQL, and MySQL when configured). For each: one query's round
//! trip (the physical limit for any dashboard), blocking serial, async serial, async concurrent
//! (five pooled connections at once), async batched (one connection, one round trip).
//!
//! ```text
//! DUETTO_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1/duetto_bench cargo bench --bench dashboard
//! ```
//!
//! Prints a table and writes `target/bench-results/dashboard_latency.csv`, which
//! `scripts/plot_dashboard.py` turns into `docs/dashboard_latency.svg`. Without a server URL it
//! says so and exits: a network is what this benchmark is about.

#[path = "../examples/support/mod.rs"]
mod support;

use std::io::Write;
use std::time::{Duration, Instant};

use duetto::prelude::*;
use support::dashboards::{full_async_serial, full_batched, full_blocking, full_concurrent};
use support::{median, Args, Demo, Size};

const LATENCIES_MS: [u64; 4] = [0, 1, 5, 20];
const WARM_RUNS: usize = 20;

fn main() -> duetto::Result<()> {
    let servers: Vec<(&str, String)> = [
        ("PostgreSQL", "DUETTO_BENCH_POSTGRES_URL"),
        ("MySQL", "DUETTO_BENCH_MYSQL_URL"),
    ]
    .into_iter()
    .filter_map(|(name, var)| std::env::var(var).ok().map(|url| (name, url)))
    .collect();
    if servers.is_empty() {
        eprintln!("dashboard bench: set DUETTO_BENCH_POSTGRES_URL and/or DUETTO_BENCH_MYSQL_URL");
        return Ok(());
    }
    let runs: usize = std::env::var("DUETTO_BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(15);
    let rt = tokio::runtime::Runtime::new().map_err(duetto::Error::other)?;
    duetto::runtime::adopt(rt.handle().clone())?;

    std::fs::create_dir_all("target/bench-results").map_err(duetto::Error::other)?;
    let mut csv = std::fs::File::create("target/bench-results/dashboard_latency.csv")
        .map_err(duetto::Error::other)?;
    writeln!(
        csv,
        "backend,latency_ms,one_query_ms,blocking_serial_ms,async_serial_ms,async_concurrent_ms"
    )
    .map_err(duetto::Error::other)?;

    println!(
        "{:<11} {:>8} {:>11} {:>16} {:>14} {:>17} {:>14} {:>12} {:>13} {:>12}",
        "backend",
        "latency",
        "one query",
        "blocking serial",
        "async serial",
        "async concurrent",
        "async batched",
        "conc/1 query",
        "batch/1 query",
        "serial/conc"
    );
    for (name, url) in servers {
        for latency in LATENCIES_MS {
            let args = Args {
                database_url: Some(url.clone()),
                latency_ms: latency,
                short: true,
                runs: Some(runs),
                rest: Vec::new(),
            };
            let demo = Demo::setup(&args, Size::realistic(true))?;
            let users = demo.size.users as i64;
            let id = |run: usize| (run as i64 * 7919) % users + 1;
            // Open the pool's connections before measuring.
            for run in 0..3 {
                rt.block_on(full_concurrent(id(run)))?;
            }
            // Each pooled connection prepares a statement the first time it runs it (one more
            // round trip), and the pool hands out its connections in turn: warm every variant
            // on every connection before measuring, or the first runs measure preparation.
            let measure = |f: &dyn Fn(i64) -> duetto::Result<()>| -> duetto::Result<Duration> {
                for run in 0..WARM_RUNS {
                    f(id(run))?;
                }
                let mut samples = Vec::new();
                for run in 0..runs {
                    let started = Instant::now();
                    f(id(run))?;
                    samples.push(started.elapsed());
                }
                Ok(median(samples))
            };
            let one = measure(&|id| {
                rt.block_on(entity::user::Entity::objects().aget_pk(id))
                    .map(drop)
            })?;
            let serial = measure(&|id| full_blocking(id).map(drop))?;
            let aserial = measure(&|id| rt.block_on(full_async_serial(id)).map(drop))?;
            let concurrent = measure(&|id| rt.block_on(full_concurrent(id)).map(drop))?;
            let batched = measure(&|id| rt.block_on(full_batched(id)).map(drop))?;
            let msf = |d: Duration| d.as_secs_f64() * 1e3;
            println!(
                "{:<11} {:>5} ms {:>8.2} ms {:>13.2} ms {:>11.2} ms {:>14.2} ms {:>11.2} ms {:>11.2}× {:>12.2}× {:>11.2}×",
                name,
                latency,
                msf(one),
                msf(serial),
                msf(aserial),
                msf(concurrent),
                msf(batched),
                msf(concurrent) / msf(one),
                msf(batched) / msf(one),
                msf(serial) / msf(concurrent)
            );
            writeln!(
                csv,
                "{name},{latency},{:.3},{:.3},{:.3},{:.3}",
                msf(one),
                msf(serial),
                msf(aserial),
                msf(concurrent)
            )
            .map_err(duetto::Error::other)?;
            demo.db.close_blocking()?;
            demo.direct.close_blocking()?;
        }
    }
    Ok(())
}
