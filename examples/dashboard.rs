//! The README's main example: the seed article's user dashboards, run serially with the blocking
//! voice and concurrently with the async voice, on real data, with timings.
//!
//! It migrates a fresh database, seeds thousands of users and tens of thousands of orders, prints
//! one dashboard as JSON, then the median time of each variant and the speed-up.
//!
//! ```text
//! cargo run --example dashboard                                   # embedded SQLite
//! cargo run --example dashboard -- --database-url postgres://postgres@127.0.0.1/test --latency-ms 5
//! cargo run --example dashboard -- --short                        # small and quick (CI)
//! ```
//!
//! On embedded SQLite a query costs microseconds of CPU and there is no network to overlap, so the
//! concurrent variants gain little there; behind a network round trip (`--latency-ms`, or a real
//! remote server) five concurrent queries cost about one round trip instead of five.

mod support;

use std::time::{Duration, Instant};

use support::dashboards::{
    full_async_serial, full_blocking, full_concurrent, small_blocking, small_concurrent,
};
use support::{median, ms, Args, Demo, Size};

fn main() -> duetto::Result<()> {
    let args = Args::parse();
    // The application's runtime becomes duetto's home: async calls on it never hop.
    let rt = tokio::runtime::Runtime::new().map_err(duetto::Error::other)?;
    duetto::runtime::adopt(rt.handle().clone())?;

    let demo = Demo::setup(&args, Size::realistic(args.short))?;
    let runs = args.runs(21);
    let users = demo.size.users as i64;
    let user_id = |run: usize| (run as i64 * 7919) % users + 1;

    println!(
        "{}",
        serde_json::to_string_pretty(&full_blocking(1)?).map_err(duetto::Error::other)?
    );
    // The voices must agree before their timings mean anything.
    assert_eq!(full_blocking(2)?, rt.block_on(full_concurrent(2))?);
    assert_eq!(small_blocking(2)?, rt.block_on(small_concurrent(2))?);

    // Warm the pool up (connections, prepared statements) before measuring.
    for run in 0..3 {
        rt.block_on(full_concurrent(user_id(run)))?;
        full_blocking(user_id(run))?;
    }

    let time = |f: &mut dyn FnMut(i64) -> duetto::Result<()>| -> duetto::Result<Duration> {
        let mut samples = Vec::with_capacity(runs);
        for run in 0..runs {
            let started = Instant::now();
            f(user_id(run))?;
            samples.push(started.elapsed());
        }
        Ok(median(samples))
    };
    let small_serial = time(&mut |id| small_blocking(id).map(drop))?;
    let small_conc = time(&mut |id| rt.block_on(small_concurrent(id)).map(drop))?;
    let full_serial = time(&mut |id| full_blocking(id).map(drop))?;
    let full_aserial = time(&mut |id| rt.block_on(full_async_serial(id)).map(drop))?;
    let full_conc = time(&mut |id| rt.block_on(full_concurrent(id)).map(drop))?;

    println!();
    println!(
        "{:?}{} — median of {runs} runs",
        demo.db.backend(),
        demo.proxy
            .as_ref()
            .map(|p| format!(" behind +{} ms one-way latency", p.delay().as_millis()))
            .unwrap_or_default()
    );
    println!(
        "{:<20} {:<26} {:>12} {:>9}",
        "dashboard", "voice", "median", "speed-up"
    );
    let row = |name: &str, voice: &str, d: Duration, base: Duration| {
        println!(
            "{:<20} {:<26} {:>12} {:>8.2}×",
            name,
            voice,
            ms(d),
            base.as_secs_f64() / d.as_secs_f64()
        );
    };
    row("3 queries", "blocking, serial", small_serial, small_serial);
    row("3 queries", "async, concurrent", small_conc, small_serial);
    row("5 queries", "blocking, serial", full_serial, full_serial);
    row("5 queries", "async, serial", full_aserial, full_serial);
    row("5 queries", "async, concurrent", full_conc, full_serial);
    Ok(())
}
