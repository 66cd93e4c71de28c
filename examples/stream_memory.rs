//! Peak memory of reading 1,000,000 rows: `aiterator(2000)` (streamed in chunks) against `alist`
//! (everything at once). Each mode runs in a fresh child process that reports its own peak RSS
//! (`VmHWM` from /proc/self/status), so the figures are measured, not estimated.
//!
//! ```text
//! cargo run --release --example stream_memory            # 1,000,000 rows on a SQLite file
//! cargo run --release --example stream_memory -- 200000  # fewer rows
//! ```

use std::process::Command;
use std::time::Instant;

use duetto::prelude::*;
use duetto::sea_orm::Set;
use entity::{notification, user};
use futures_util::TryStreamExt;
use migration::{Migrator, MigratorTrait};

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

fn child(mode: &str, url: &str) -> duetto::Result<()> {
    let db = Db::connect_blocking(url)?;
    let rows = notification::Entity::objects().using(&db);
    let baseline = peak_rss_kib();
    let started = Instant::now();
    let streamed = mode == "aiterator(2000)";
    let seen = async_to_sync(async move {
        match streamed {
            true => {
                let mut stream = rows.aiterator(2000);
                let mut n = 0u64;
                while let Some(row) = stream.try_next().await? {
                    std::hint::black_box(&row);
                    n += 1;
                }
                Ok::<_, duetto::Error>(n)
            }
            false => Ok(rows.alist().await?.len() as u64),
        }
    })??;
    println!(
        "{mode}\t{seen}\t{:.1}\t{:.1}\t{:.2}",
        baseline as f64 / 1024.0,
        peak_rss_kib() as f64 / 1024.0,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() -> duetto::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 4 && args[1] == "--child" {
        return child(&args[2], &args[3]);
    }
    let total: usize = args
        .get(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile_dir();
    let url = format!("sqlite://{dir}/stream.db?mode=rwc");

    let db = Db::connect_blocking(&url)?;
    db.run(|conn| async move { Migrator::fresh(&conn).await })?;
    user::Entity::objects()
        .using(&db)
        .create(user::ActiveModel {
            name: Set("owner".into()),
            email: Set("owner@example.com".into()),
            ..Default::default()
        })?;
    let seeded = Instant::now();
    for start in (0..total).step_by(100_000) {
        let batch = (start..(start + 100_000).min(total)).map(|i| notification::ActiveModel {
            user_id: Set(1),
            message: Set(format!("notification number {i} for the dashboard")),
            read: Set(i % 3 == 0),
            ..Default::default()
        });
        notification::Entity::objects()
            .using(&db)
            .bulk_create(batch)?;
    }
    db.close_blocking()?;
    eprintln!(
        "seeded {total} rows in {:.1}s",
        seeded.elapsed().as_secs_f64()
    );

    println!("mode\trows\tRSS before (MiB)\tpeak RSS (MiB)\tseconds");
    for mode in ["aiterator(2000)", "alist"] {
        let out = Command::new(&args[0])
            .args(["--child", mode, &url])
            .output()
            .expect("run child");
        print!("{}", String::from_utf8_lossy(&out.stdout));
        if !out.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn tempfile_dir() -> String {
    let dir = std::env::temp_dir().join(format!("duetto-stream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.display().to_string()
}
