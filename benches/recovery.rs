//! What a server going away costs: time to recovery after a restart under load, and the
//! reconnects that cancelled requests cause. It runs against the fault servers of
//! `scripts/fault-servers.sh` (never the main ones: it restarts them).
//!
//! ```text
//! set -a; eval "$(scripts/fault-servers.sh --env)"; set +a
//! cargo bench --bench recovery
//! ```
//!
//! - **Time to recovery**: 32 tasks count rows back to back on a pool of 8; the server is
//!   restarted (`fault-servers.sh restart`, which returns once it accepts connections again).
//!   Recovery is the time from then until every task has had a call succeed, median of 5
//!   restarts (10 s when it never recovers).
//! - **Reconnects per 1,000 cancelled requests**: rounds of 64 concurrent reads on a warm pool
//!   of 64, each cancelled 5 ms into a 20 ms statement (as when wrk stops with requests in
//!   flight); a reconnect is a server session the pool had not had before.
//!
//! Prints a markdown table and writes it to `target/bench-results/recovery.md`.

use std::collections::HashSet;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use duetto::{ConnectOptions, Db};

/// Longest wait for recovery before calling it "never".
const GIVE_UP: Duration = Duration::from_secs(10);

fn main() -> duetto::Result<()> {
    let (Ok(script), Ok(pg), Ok(my)) = (
        std::env::var("DUETTO_TEST_FAULT_SCRIPT"),
        std::env::var("DUETTO_TEST_FAULT_POSTGRES_URL"),
        std::env::var("DUETTO_TEST_FAULT_MYSQL_URL"),
    ) else {
        eprintln!(
            "recovery bench: run `set -a; eval \"$(scripts/fault-servers.sh --env)\"; set +a` first"
        );
        return Ok(());
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut table = String::from("| backend | measure | result |\n|---|---|---:|\n");
    for (name, url) in [("postgres", &pg), ("mysql", &my)] {
        let recoveries = rt.block_on(recovery_times(&script, name, url))?;
        let mut sorted = recoveries.clone();
        sorted.sort();
        let median = sorted[sorted.len() / 2];
        table.push_str(&format!(
            "| {name} | time to recovery after a restart under load, median of 5 (each: {}) | {} |\n",
            recoveries.iter().map(|d| ms(*d)).collect::<Vec<_>>().join(", "),
            ms(median)
        ));
        let reconnects = rt.block_on(reconnects_per_1000(name, url))?;
        table.push_str(&format!(
            "| {name} | reconnects per 1,000 cancelled requests | {reconnects} |\n"
        ));
    }
    println!("{table}");
    std::fs::create_dir_all("target/bench-results").map_err(duetto::Error::other)?;
    std::fs::File::create("target/bench-results/recovery.md")
        .and_then(|mut f| f.write_all(table.as_bytes()))
        .map_err(duetto::Error::other)?;
    Ok(())
}

fn ms(d: Duration) -> String {
    if d >= GIVE_UP {
        format!("≥ {} s (never)", GIVE_UP.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

fn table_sql(name: &str) -> (&'static str, &'static str) {
    match name {
        "postgres" => (
            "CREATE TABLE IF NOT EXISTS recovery_bench (id SERIAL PRIMARY KEY)",
            "SELECT COUNT(*) AS n FROM recovery_bench",
        ),
        _ => (
            "CREATE TABLE IF NOT EXISTS recovery_bench (id INT AUTO_INCREMENT PRIMARY KEY)",
            "SELECT COUNT(*) AS n FROM recovery_bench",
        ),
    }
}

async fn restart(script: &str, name: &str) {
    let (script, server) = (script.to_owned(), name.to_owned());
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .args([&script, "restart", &server])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
    })
    .await
    .unwrap()
    .expect("fault-servers.sh");
    assert!(status.success(), "restart {name} failed");
}

/// Five restarts under a 32-task load; for each, the time from the server accepting
/// connections until every task has had a call succeed.
async fn recovery_times(script: &str, name: &str, url: &str) -> duetto::Result<Vec<Duration>> {
    let db = Db::connect_with(
        ConnectOptions::new(url)
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(2)),
    )
    .await?;
    let (create, count) = table_sql(name);
    duetto::raw(create, Vec::<i64>::new())
        .using(&db)
        .aexecute()
        .await?;
    let mut times = Vec::new();
    for _ in 0..5 {
        let stop = Arc::new(AtomicBool::new(false));
        let back: Arc<std::sync::Mutex<Option<Instant>>> = Arc::default();
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let (db, stop, back) = (db.clone(), stop.clone(), back.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let ok = duetto::raw(count, Vec::<i64>::new())
                            .using(&db)
                            .afetch_all()
                            .await
                            .is_ok();
                        let since = *back.lock().unwrap();
                        if let (true, Some(back)) = (ok, since) {
                            return back.elapsed();
                        }
                        if !ok {
                            tokio::time::sleep(Duration::from_millis(2)).await;
                        }
                    }
                    GIVE_UP
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(500)).await;
        restart(script, name).await;
        *back.lock().unwrap() = Some(Instant::now());
        let stopper = {
            let stop = stop.clone();
            tokio::spawn(async move {
                tokio::time::sleep(GIVE_UP).await;
                stop.store(true, Ordering::Relaxed);
            })
        };
        let mut worst = Duration::ZERO;
        for task in tasks {
            worst = worst.max(task.await.unwrap().min(GIVE_UP));
        }
        stopper.abort();
        times.push(worst);
        // Let the pool settle before the next restart.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    db.close().await?;
    Ok(times)
}

/// The server session ids the pool `app` has now.
async fn sessions(admin: &Db, name: &str, app: &str) -> duetto::Result<HashSet<i64>> {
    let sql = match name {
        "postgres" => "SELECT pid::bigint AS id FROM pg_stat_activity WHERE application_name = $1",
        _ => "SELECT CAST(id AS SIGNED) AS id FROM information_schema.processlist WHERE user = ?",
    };
    let rows = duetto::raw(sql, [app]).using(admin).afetch_all().await?;
    rows.iter()
        .map(|row| row.try_get::<i64>("", "id").map_err(Into::into))
        .collect()
}

/// 16 rounds of 64 concurrent reads cancelled mid-statement on a warm pool of 64; the new
/// sessions the pool needed, scaled to 1,000 cancelled requests.
async fn reconnects_per_1000(name: &str, url: &str) -> duetto::Result<u64> {
    let admin = Db::connect_with(ConnectOptions::new(url).max_connections(1)).await?;
    let app = format!("duetto_recovery_{}", std::process::id());
    let mut pool_url = url::Url::parse(url).map_err(duetto::Error::other)?;
    if name == "mysql" {
        // MySQL has no application name: the pool gets a user of its own.
        let database = pool_url.path().trim_start_matches('/').to_owned();
        for host in ["%", "localhost", "127.0.0.1"] {
            for sql in [
                format!("CREATE USER IF NOT EXISTS '{app}'@'{host}'"),
                format!("GRANT ALL ON `{database}`.* TO '{app}'@'{host}'"),
            ] {
                duetto::raw(sql, Vec::<i64>::new())
                    .using(&admin)
                    .aexecute()
                    .await?;
            }
        }
        pool_url
            .set_username(&app)
            .map_err(|()| duetto::Error::other("user"))?;
    }
    let db = Db::connect_with(
        ConnectOptions::new(pool_url.as_str())
            .max_connections(64)
            .application_name(&app),
    )
    .await?;
    let sleep = match name {
        "postgres" => "SELECT pg_sleep(0.02)",
        _ => "SELECT SLEEP(0.02)",
    };
    // Warm: 64 connections open, each having completed an exchange.
    let warm = (0..64).map(|_| {
        duetto::raw(sleep, Vec::<i64>::new())
            .using(&db)
            .afetch_all()
    });
    for result in futures_util::future::join_all(warm).await {
        result?;
    }
    let mut seen = sessions(&admin, name, &app).await?;
    let first = seen.len();
    let rounds = 16;
    for _ in 0..rounds {
        let reads = (0..64).map(|_| {
            let read = duetto::raw(sleep, Vec::<i64>::new())
                .using(&db)
                .afetch_all();
            tokio::time::timeout(Duration::from_millis(5), read)
        });
        futures_util::future::join_all(reads).await;
        // The next round's requests arrive once the drains (≤ 1 s) have had their chance.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let done = (0..64).map(|_| {
            duetto::raw("SELECT 1", Vec::<i64>::new())
                .using(&db)
                .afetch_all()
        });
        for result in futures_util::future::join_all(done).await {
            result?;
        }
        seen.extend(sessions(&admin, name, &app).await?);
    }
    db.close().await?;
    admin.close().await?;
    let new = (seen.len() - first) as u64;
    Ok(new * 1000 / (rounds * 64))
}
