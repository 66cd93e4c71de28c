//! The sync↔async bridge both ways: `async_to_sync` from plain sync code, `sync_to_async` from async
//! code (blocking calls and CPU-bound work moved off the executor), the thread-sensitive variant
//! returning to the caller's thread, and nesting.
//!
//! ```text
//! cargo run --example bridge [-- --short]
//! ```

mod support;

use std::time::{Duration, Instant};

use duetto::bridge::{async_to_sync, sync_to_async, sync_to_async_thread_sensitive};
use duetto::prelude::*;
use entity::user;
use support::{Args, Demo, Size};

/// Something CPU-bound: it never awaits, so run inline it would hold an executor thread.
fn fib(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

fn main() -> duetto::Result<()> {
    let args = Args::parse();
    let _demo = Demo::setup(&args, Size::realistic(true))?;

    // 1. Sync code calling async code.
    let n = async_to_sync(user::Entity::objects().acount())??;
    println!("async_to_sync: {n} users counted by the async voice from plain sync code");

    let rt = tokio::runtime::Runtime::new().map_err(duetto::Error::other)?;
    rt.block_on(async {
        // 2. Async code calling sync code: the blocking voice runs on the blocking pool.
        let names = sync_to_async(|| {
            user::Entity::objects()
                .order_by_asc(user::Column::Id)
                .limit(3)
                .values_list::<String>([user::Column::Name])
        })
        .await?;
        println!("sync_to_async: blocking values_list from async code -> {names:?}");

        // 3. CPU-bound work: moved off the executor, a heartbeat task keeps ticking.
        let beats = tokio::spawn(async {
            let mut worst = Duration::ZERO;
            for _ in 0..20 {
                let t = Instant::now();
                tokio::time::sleep(Duration::from_millis(5)).await;
                worst = worst.max(t.elapsed());
            }
            worst
        });
        let answer = sync_to_async(|| fib(32)).await;
        println!(
            "sync_to_async: fib(32) = {answer} computed off the executor; worst heartbeat {:?}",
            beats.await.map_err(duetto::Error::other)?
        );

        // 4. Thread-sensitive: one dedicated thread for code that must stay on one thread.
        let a = sync_to_async_thread_sensitive(|| std::thread::current().id()).await;
        let b = sync_to_async_thread_sensitive(|| std::thread::current().id()).await;
        println!("thread-sensitive: two calls, same thread: {}", a == b);
        Ok::<(), duetto::Error>(())
    })?;

    // 5. Nesting: sync -> async -> sync -> async, back on the caller's thread at every sync step.
    let me = std::thread::current().id();
    let depth_ok = async_to_sync(async move {
        sync_to_async_thread_sensitive(move || {
            let inner = async_to_sync(async move {
                sync_to_async_thread_sensitive(move || std::thread::current().id() == me).await
            });
            inner.map(|same| same && std::thread::current().id() == me)
        })
        .await
    })??;
    println!("nesting sync→async→sync→async→sync stays on the caller's thread: {depth_ok}");

    // 6. What the bridge costs per hop (Django's asgiref: ~90 µs).
    let calls = if args.short { 1_000 } else { 100_000 };
    let started = Instant::now();
    for i in 0..calls {
        async_to_sync(async move { i })?;
    }
    println!(
        "async_to_sync(async {{ .. }}): {:.2} µs per call",
        started.elapsed().as_secs_f64() * 1e6 / calls as f64
    );
    Ok(())
}
