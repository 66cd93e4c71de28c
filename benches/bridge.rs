//! Per-call cost of the sync↔async bridge (target ≤ 10 µs each; Django's asgiref hop measures
//! ~90 µs), beside the raw tokio primitives and the machine's thread round trip.
//!
//! ```text
//! cargo bench --bench bridge
//! ```
//!
//! Each group puts duetto's call beside the raw tokio primitive it is built on, so the ratio shows
//! what the bridge adds.

use criterion::{criterion_group, criterion_main, Criterion};
use duetto::bridge::{async_to_sync, sync_to_async, sync_to_async_thread_sensitive};
use duetto::runtime::{self, on_home};
use tokio::runtime::Builder;

fn async_to_sync_from_a_plain_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("async_to_sync from a plain thread");
    let home = runtime::handle().unwrap();
    group.bench_function("duetto async_to_sync(async { 1 })", |b| {
        b.iter(|| async_to_sync(async { std::hint::black_box(1) }).unwrap())
    });
    group.bench_function("tokio Handle::block_on(spawn(async { 1 }))", |b| {
        b.iter(|| {
            home.block_on(home.spawn(async { std::hint::black_box(1) }))
                .unwrap()
        })
    });
    group.finish();
}

fn sync_to_async_from_a_task(c: &mut Criterion) {
    let mut group = c.benchmark_group("sync_to_async from a task");
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    group.bench_function("duetto sync_to_async(|| 1)", |b| {
        b.to_async(&rt)
            .iter(|| sync_to_async(|| std::hint::black_box(1)))
    });
    group.bench_function("duetto sync_to_async_thread_sensitive(|| 1)", |b| {
        b.to_async(&rt)
            .iter(|| sync_to_async_thread_sensitive(|| std::hint::black_box(1)))
    });
    group.bench_function("tokio spawn_blocking(|| 1)", |b| {
        b.to_async(&rt).iter(|| async {
            tokio::task::spawn_blocking(|| std::hint::black_box(1))
                .await
                .unwrap()
        })
    });
    group.finish();
}

fn physical_limit(c: &mut Criterion) {
    // Any call that crosses threads pays at least one wake-up each way; this is that floor on the
    // machine running the benchmark.
    let mut group = c.benchmark_group("physical limit");
    let (to_echo, echo_in) = std::sync::mpsc::channel::<u64>();
    let (echo_out, from_echo) = std::sync::mpsc::channel::<u64>();
    std::thread::spawn(move || {
        for v in echo_in {
            if echo_out.send(v).is_err() {
                break;
            }
        }
    });
    group.bench_function("std thread round trip (two mpsc channels)", |b| {
        b.iter(|| {
            to_echo.send(std::hint::black_box(1)).unwrap();
            from_echo.recv().unwrap()
        })
    });
    group.finish();
}

fn async_call_from_a_foreign_runtime(c: &mut Criterion) {
    let mut group = c.benchmark_group("async call from a foreign runtime");
    let foreign = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    group.bench_function("duetto on_home(async { 1 })", |b| {
        b.to_async(&foreign)
            .iter(|| async { on_home(async { std::hint::black_box(1) }).await.unwrap() })
    });
    group.bench_function("in place (no hop)", |b| {
        b.to_async(&foreign)
            .iter(|| async { std::hint::black_box(1) })
    });
    group.finish();
}

criterion_group!(
    benches,
    async_to_sync_from_a_plain_thread,
    sync_to_async_from_a_task,
    async_call_from_a_foreign_runtime,
    physical_limit
);
criterion_main!(benches);
