//! The seed article's pitfalls, each shown and caught:
//!
//! 1. a blocking ORM call inside async code → `SynchronousOnlyOperation`, printed, not a panic,
//!    and the database untouched;
//! 2. CPU-bound work inside an async handler blocks the executor → measured, then fixed with
//!    `sync_to_async`;
//! 3. a forgotten `.await` → the query never runs (Rust futures are lazy; the compiler warns).
//!
//! ```text
//! cargo run --example pitfalls [-- --short]
//! ```

mod support;

use std::time::{Duration, Instant};

use duetto::prelude::*;
use entity::user;
use support::{Args, Demo, Size};

fn busy(ms: u64) {
    let until = Instant::now() + Duration::from_millis(ms);
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

/// How late a 1 ms timer fires while `work` runs on the same single-threaded executor.
async fn worst_timer_delay<F: std::future::Future<Output = ()>>(work: F) -> Duration {
    let probe = tokio::spawn(async {
        let mut worst = Duration::ZERO;
        for _ in 0..10 {
            let t = Instant::now();
            tokio::time::sleep(Duration::from_millis(1)).await;
            worst = worst.max(t.elapsed());
        }
        worst
    });
    tokio::task::yield_now().await; // let the probe start ticking
    work.await;
    probe.await.unwrap_or_default()
}

fn main() -> duetto::Result<()> {
    let args = Args::parse();
    let _demo = Demo::setup(&args, Size::realistic(true))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(duetto::Error::other)?;

    println!("1. A blocking call in async code");
    rt.block_on(async {
        let before = user::Entity::objects().acount().await?;
        match user::Entity::objects().delete() {
            Err(err @ duetto::Error::SynchronousOnlyOperation { .. }) => {
                println!("   caught: {err}")
            }
            other => println!("   unexpected: {other:?}"),
        }
        let after = user::Entity::objects().acount().await?;
        println!("   users before {before}, after {after}: nothing was deleted");
        println!(
            "   fix: user::Entity::objects().adelete().await, or sync_to_async(|| ...delete())"
        );
        Ok::<(), duetto::Error>(())
    })?;

    println!("2. CPU-bound work in an async handler");
    let inline = rt.block_on(worst_timer_delay(async { busy(200) }));
    let moved = rt.block_on(worst_timer_delay(async {
        sync_to_async(|| busy(200)).await;
    }));
    println!("   inline: a 1 ms timer fired up to {inline:?} late — every other request waited");
    println!("   sync_to_async: worst 1 ms timer {moved:?}");

    println!("3. A forgotten .await");
    rt.block_on(async {
        #[allow(unused_must_use, clippy::let_underscore_future)]
        let _ = user::Entity::objects().adelete(); // never awaited: nothing runs
        let left = user::Entity::objects().acount().await?;
        println!("   `let _ = qs.adelete();` without .await deleted nothing: {left} users remain");
        println!("   (rustc warns: futures do nothing unless you `.await` or poll them)");
        Ok::<(), duetto::Error>(())
    })?;
    Ok(())
}
