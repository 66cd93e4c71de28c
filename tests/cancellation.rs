//! Cancellation: a future dropped at any point (a timeout, a `select!`, a client gone) must leave
//! the pool as it found it — no transaction left open on a pooled connection, no acknowledged
//! write lost, no connection broken for the next caller.
//!
//! `cancellation_storm` prints its PRNG seed; rerun a failure with `DUETTO_STORM_SEED=<seed>`
//! (which operations run and their deadlines are reproduced; thread timing is not).

mod common;

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use common::faults::{
    assert_no_idle_transaction, cancel_after_polls, cancel_at, close_quietly, count_emails,
    email_exists, kill_other_sessions, kill_sessions_on_panic, new_user, no_idle_transaction,
    panic_text, users, watchdog,
};
use common::{backends, Kind};
use duetto::prelude::*;
use duetto::sea_orm::ColumnTrait;
use duetto::{ConnectOptions, Db};
use entity::user;
use futures_util::{StreamExt, TryStreamExt};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The acknowledged emails that `db` cannot see (at most `limit` of them).
async fn missing_emails(db: &Db, emails: &[String], limit: usize) -> Vec<String> {
    let mut missing = Vec::new();
    for email in emails {
        if !email_exists(db, email).await {
            missing.push(email.clone());
            if missing.len() == limit {
                break;
            }
        }
    }
    missing
}

/// How a call is cancelled.
#[derive(Debug, Clone, Copy)]
enum Cancel {
    /// `tokio::time::timeout` with this deadline (tokio's timer has 1 ms resolution: 0 cancels
    /// after the first poll, anything else at the next tick after the deadline).
    Timeout(Duration),
    /// Dropped at the first poll at or after this deadline, the caller polling it continuously
    /// (like a `select!` whose other branch keeps waking): microsecond precision, so the drop
    /// lands between any two steps of the call (mid-BEGIN, mid-statement, mid-COMMIT).
    Spin(Duration),
    /// Dropped at the n-th wake-up: a precise stage of the call (or after 50 ms).
    AfterPolls(u32),
}

/// Runs `fut`, cancelling it as `cancel` says; `None` when it was cancelled.
async fn cancellable<F: Future>(cancel: Cancel, fut: F) -> Option<F::Output> {
    match cancel {
        Cancel::Timeout(deadline) => tokio::time::timeout(deadline, fut).await.ok(),
        Cancel::Spin(deadline) => cancel_at(deadline, fut).await,
        Cancel::AfterPolls(polls) => cancel_after_polls(polls, fut).await,
    }
}

/// xorshift64: a tiny PRNG, so a failing storm can be replayed from its seed.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        XorShift(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn storm_seed() -> u64 {
    if let Some(seed) = std::env::var("DUETTO_STORM_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
    {
        return seed;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    (nanos ^ 0x9E37_79B9_7F4A_7C15).max(1)
}

// ---------------------------------------------------------------------------------------------
// Defect 1: a cancelled scope must not leak an open transaction into the pool.
// ---------------------------------------------------------------------------------------------

/// The scopes cancelled by the defect-1 test.
#[derive(Debug, Clone, Copy)]
enum ScopeShape {
    /// `aatomic { acreate }`
    Create,
    /// `aatomic { acreate; aatomic { acreate } }` (a savepoint)
    Nested,
    /// `aatomic { acreate; read two rows of aiterator(1) }`
    WithStream,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_aatomic_does_not_leak_its_transaction_into_the_pool() {
    const ROUNDS: u32 = 240;
    for kind in backends() {
        let t = common::migrated(kind).await;
        let _kill = kill_sessions_on_panic(&t);
        // One connection: whatever a cancelled scope leaves on it, the next call gets.
        let db = Db::connect_with(
            ConnectOptions::new(&t.url)
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(5)),
        )
        .await
        .unwrap();
        let fresh = Db::connect(&t.url).await.unwrap();
        users(&db).acreate(new_user("seed@x")).await.unwrap();

        watchdog(
            40,
            &format!("{kind:?}: {ROUNDS} cancelled aatomic scopes on a 1-connection pool"),
            async {
                for i in 0..ROUNDS {
                    let shape = match i % 3 {
                        0 => ScopeShape::Create,
                        1 => ScopeShape::Nested,
                        _ => ScopeShape::WithStream,
                    };
                    // Deadlines from 0 to ~300 µs, mostly at microsecond precision.
                    let micros = u64::from(i % 101) * 3;
                    let cancel = match i % 4 {
                        0 | 1 => Cancel::Spin(Duration::from_micros(micros)),
                        2 => Cancel::Timeout(Duration::from_micros(micros)),
                        _ => Cancel::AfterPolls(1 + (i / 4) % 8),
                    };
                    let (email, inner) = (format!("c{i}@x"), format!("c{i}-inner@x"));
                    let scope = db.aatomic(async {
                        users(&db).acreate(new_user(&email)).await?;
                        match shape {
                            ScopeShape::Create => {}
                            ScopeShape::Nested => {
                                db.aatomic(async {
                                    users(&db).acreate(new_user(&inner)).await?;
                                    Ok(())
                                })
                                .await?
                            }
                            ScopeShape::WithStream => {
                                let mut rows = users(&db).aiterator(1);
                                rows.try_next().await?;
                                rows.try_next().await?;
                            }
                        }
                        Ok(())
                    });
                    let _ = cancellable(cancel, scope).await;

                    // A plain write after the cancelled scope must succeed and be committed.
                    let marker = format!("m{i}@x");
                    if let Err(e) = users(&db).acreate(new_user(&marker)).await {
                        panic!(
                            "{kind:?}: a plain acreate after cancelled scope #{i} ({shape:?}, \
                             {cancel:?}) failed: {e} (the cancelled scope kept the only \
                             connection)"
                        );
                    }
                    assert!(
                        email_exists(&fresh, &marker).await,
                        "{kind:?}: an acreate that returned Ok after cancelled scope #{i} \
                         ({shape:?}, {cancel:?}) is not visible from a fresh pool: it ran inside \
                         a transaction the cancelled scope left open"
                    );
                }
            },
        )
        .await;

        assert_no_idle_transaction(kind, &fresh, "after the cancelled scopes").await;
        close_quietly(&db).await;
        close_quietly(&fresh).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The storm: every kind of call, cancelled at random points, with concurrency.
// ---------------------------------------------------------------------------------------------

const STORM_CALLS: usize = 2_000;
const STORM_CONCURRENCY: usize = 8;
const AFTER_STORM_CALLS: usize = 200;
const SEEDED_USERS: usize = 6;

#[derive(Debug, Clone, Copy)]
enum Op {
    GetPk,
    Count,
    ListLimited,
    Exists,
    Create,
    /// `aatomic` creating one user, with a nested savepoint creating another when `true`.
    Scope {
        nested: bool,
    },
    /// A request scope: a read, a create and a read on the connection it keeps, and a
    /// transaction inside it when `with_scope`.
    Request {
        with_scope: bool,
    },
    /// Three reads sent as one batch (one round trip on one connection).
    Batch,
    /// `aiterator(3)` reading `take` rows, inside an `aatomic` that also creates a user when
    /// `in_scope` (before or after reading, by `write_first`).
    Stream {
        take: usize,
        in_scope: bool,
        write_first: bool,
    },
}

#[derive(Debug, Clone, Copy)]
struct Planned {
    op: Op,
    pick: u64,
    cancel: Option<Cancel>,
}

fn plan_op(rng: &mut XorShift, cancel: bool) -> Planned {
    let op = match rng.below(19) {
        0..=1 => Op::GetPk,
        2..=3 => Op::Count,
        4 => Op::ListLimited,
        5 => Op::Exists,
        6..=8 => Op::Create,
        9..=12 => Op::Scope {
            nested: rng.below(2) == 0,
        },
        13..=14 => Op::Request {
            with_scope: rng.below(2) == 0,
        },
        15 => Op::Batch,
        _ => Op::Stream {
            take: 1 + rng.below(5) as usize,
            in_scope: rng.below(2) == 0,
            write_first: rng.below(2) == 0,
        },
    };
    let cancel = if cancel {
        match rng.below(100) {
            // Dropped at a precise wake-up.
            0..=14 => Some(Cancel::AfterPolls(1 + rng.below(10) as u32)),
            // 0 to 2 ms at microsecond precision: cancelled while queued for a connection,
            // mid-BEGIN, mid-statement, mid-COMMIT…
            15..=49 => Some(Cancel::Spin(Duration::from_micros(rng.below(2_001)))),
            // 0 to 3 ms on tokio's timer.
            50..=79 => Some(Cancel::Timeout(Duration::from_micros(rng.below(3_001)))),
            // 3 to 100 ms: mostly completes, even behind a reconnect.
            80..=94 => Some(Cancel::Timeout(Duration::from_micros(
                3_000 + rng.below(97_001),
            ))),
            // Not cancelled: must succeed in the middle of the storm.
            _ => None,
        }
    } else {
        None
    };
    Planned {
        op,
        pick: rng.next(),
        cancel,
    }
}

/// What one call ended with.
enum Outcome {
    /// Returned `Ok`; these emails were written and acknowledged.
    Acknowledged(Vec<String>),
    Cancelled,
    Failed(String),
}

/// Reads up to `take` rows of `qs.aiterator(3)`, then drops the stream.
async fn read_some(qs: QuerySet<user::Entity>, take: usize) -> duetto::Result<()> {
    let mut rows = qs.aiterator(3);
    for _ in 0..take {
        if rows.try_next().await?.is_none() {
            break;
        }
    }
    Ok(())
}

/// Runs one planned call on `db`. Emails are `{tag}-{i}[-inner]@x`.
async fn run_call(db: Db, seeded: Vec<i64>, plan: Planned, tag: String, i: usize) -> Outcome {
    let email = format!("{tag}-{i}@x");
    let inner = format!("{tag}-{i}-inner@x");
    let qs = users(&db);
    let work: Pin<Box<dyn Future<Output = duetto::Result<Vec<String>>> + Send>> = match plan.op {
        Op::GetPk => {
            let pk = seeded[(plan.pick % seeded.len() as u64) as usize];
            Box::pin(async move { qs.aget_pk(pk).await.map(|_| vec![]) })
        }
        Op::Count => Box::pin(async move { qs.acount().await.map(|_| vec![]) }),
        Op::ListLimited => Box::pin(async move { qs.limit(3).alist().await.map(|_| vec![]) }),
        Op::Exists => Box::pin(async move {
            qs.filter(user::Column::Email.eq("seed-1@x"))
                .aexists()
                .await
                .map(|_| vec![])
        }),
        Op::Create => Box::pin(async move {
            qs.acreate(new_user(&email)).await?;
            Ok(vec![email])
        }),
        Op::Request { with_scope } => Box::pin(async move {
            duetto::arequest_scope(async {
                qs.acount().await?;
                qs.acreate(new_user(&email)).await?;
                if with_scope {
                    db.aatomic(async {
                        qs.acreate(new_user(&inner)).await?;
                        Ok(())
                    })
                    .await?;
                }
                qs.limit(2).alist().await?;
                Ok(if with_scope {
                    vec![email, inner]
                } else {
                    vec![email]
                })
            })
            .await
        }),
        Op::Batch => Box::pin(async move {
            duetto::abatch((qs.batch_count(), qs.batch_first(), qs.limit(3).batch_list()))
                .await
                .map(|_| vec![])
        }),
        Op::Scope { nested } => Box::pin(async move {
            db.aatomic(async {
                qs.acreate(new_user(&email)).await?;
                if nested {
                    db.aatomic(async {
                        qs.acreate(new_user(&inner)).await?;
                        Ok(())
                    })
                    .await?;
                }
                Ok(())
            })
            .await?;
            Ok(if nested {
                vec![email, inner]
            } else {
                vec![email]
            })
        }),
        Op::Stream {
            take,
            in_scope,
            write_first,
        } => Box::pin(async move {
            if !in_scope {
                read_some(qs, take).await?;
                return Ok(vec![]);
            }
            db.aatomic(async {
                if write_first {
                    qs.acreate(new_user(&email)).await?;
                    read_some(qs.clone(), take).await?;
                } else {
                    read_some(qs.clone(), take).await?;
                    qs.acreate(new_user(&email)).await?;
                }
                Ok(())
            })
            .await?;
            Ok(vec![email])
        }),
    };
    let finished = match plan.cancel {
        Some(cancel) => cancellable(cancel, work).await,
        None => Some(work.await),
    };
    match finished {
        None => Outcome::Cancelled,
        Some(Ok(emails)) => Outcome::Acknowledged(emails),
        Some(Err(e)) => Outcome::Failed(format!("call {i} ({:?}): {e}", plan.op)),
    }
}

/// Runs `plans` on `db`, `STORM_CONCURRENCY` at a time, each in its own task (a panic, also one
/// raised while dropping a cancelled call, is reported as a failure of that call).
async fn run_calls(
    db: &Db,
    seeded: &[i64],
    plans: Vec<Planned>,
    tag: &str,
) -> (Vec<String>, usize, Vec<String>) {
    let outcomes: Vec<Outcome> = futures_util::stream::iter(plans.into_iter().enumerate())
        .map(|(i, plan)| {
            let task = tokio::spawn(run_call(
                db.clone(),
                seeded.to_vec(),
                plan,
                tag.to_owned(),
                i,
            ));
            async move {
                match task.await {
                    Ok(outcome) => outcome,
                    Err(e) if e.is_panic() => {
                        let panic = e.into_panic();
                        let message = panic_text(&*panic).unwrap_or_default();
                        Outcome::Failed(format!("call {i} ({:?}) panicked: {message}", plan.op))
                    }
                    Err(e) => Outcome::Failed(format!("call {i} ({:?}): {e}", plan.op)),
                }
            }
        })
        .buffer_unordered(STORM_CONCURRENCY)
        .collect()
        .await;
    let mut acknowledged = Vec::new();
    let mut cancelled = 0;
    let mut failed = Vec::new();
    for outcome in outcomes {
        match outcome {
            Outcome::Acknowledged(emails) => acknowledged.extend(emails),
            Outcome::Cancelled => cancelled += 1,
            Outcome::Failed(message) => failed.push(message),
        }
    }
    (acknowledged, cancelled, failed)
}

async fn storm(kind: Kind, pool_size: u32, seed: u64) -> Vec<String> {
    let started = Instant::now();
    let t = common::migrated(kind).await;
    let _kill = kill_sessions_on_panic(&t);
    let db = Db::connect_with(
        ConnectOptions::new(&t.url)
            .max_connections(pool_size)
            .acquire_timeout(Duration::from_secs(5)),
    )
    .await
    .unwrap();
    let mut seeded = Vec::new();
    for i in 0..SEEDED_USERS {
        seeded.push(
            users(&db)
                .acreate(new_user(&format!("seed-{i}@x")))
                .await
                .unwrap()
                .id,
        );
    }
    let mut rng = XorShift::new(seed);
    let plans: Vec<Planned> = (0..STORM_CALLS).map(|_| plan_op(&mut rng, true)).collect();
    let after: Vec<Planned> = (0..AFTER_STORM_CALLS)
        .map(|_| plan_op(&mut rng, false))
        .collect();
    let label = format!("{kind:?}, pool of {pool_size}, seed {seed}");
    let fresh = Db::connect(&t.url).await.unwrap();

    let mut problems = Vec::new();
    let checks = async {
        let (acknowledged, cancelled, failed) = run_calls(&db, &seeded, plans, "s").await;
        eprintln!(
            "storm {label}: {} writes acknowledged, {cancelled} of {STORM_CALLS} calls cancelled, \
             {} failed, {:.1?}",
            acknowledged.len(),
            failed.len(),
            started.elapsed()
        );
        if !failed.is_empty() {
            problems.push(format!(
                "storm {label}: {} call(s) that were not cancelled returned an error or \
                 panicked; first: {:#?}",
                failed.len(),
                &failed[..failed.len().min(5)]
            ));
        }

        // (a) Every acknowledged write is durable: visible from a pool that did not make it.
        let visible = count_emails(&fresh, &acknowledged).await;
        if visible != acknowledged.len() as u64 {
            let missing = missing_emails(&fresh, &acknowledged, 5).await;
            problems.push(format!(
                "storm {label}: {} of {} acknowledged writes are not visible from a fresh pool \
                 (e.g. {missing:?})",
                acknowledged.len() as u64 - visible,
                acknowledged.len()
            ));
        }

        // (b) No pooled connection was left inside a transaction.
        if let Err(problem) = no_idle_transaction(kind, &fresh).await {
            problems.push(format!("storm {label}: {problem}"));
        }

        // (c) The stormed pool still serves every call.
        if let Err(e) = users(&db).acount().await {
            problems.push(format!(
                "storm {label}: the stormed pool no longer serves calls: {e}"
            ));
            return;
        }
        let (after_acknowledged, _, after_failed) = run_calls(&db, &seeded, after, "a").await;
        if !after_failed.is_empty() {
            problems.push(format!(
                "storm {label}: {} of {AFTER_STORM_CALLS} calls after the storm failed; \
                 first: {:#?}",
                after_failed.len(),
                &after_failed[..after_failed.len().min(5)]
            ));
        }
        let visible = count_emails(&fresh, &after_acknowledged).await;
        if visible != after_acknowledged.len() as u64 {
            problems.push(format!(
                "storm {label}: {} of {} writes made after the storm are not visible from a \
                 fresh pool",
                after_acknowledged.len() as u64 - visible,
                after_acknowledged.len()
            ));
        }
    };
    if tokio::time::timeout(Duration::from_secs(STORM_WATCHDOG_SECS), checks)
        .await
        .is_err()
    {
        problems.push(format!(
            "watchdog: cancellation storm ({label}) did not finish in {STORM_WATCHDOG_SECS} s \
             (deadlock?)"
        ));
    }
    if !problems.is_empty() {
        // A connection left inside a transaction would keep MySQL from dropping the database.
        kill_other_sessions(kind, &t.url);
    }
    close_quietly(&db).await;
    close_quietly(&fresh).await;
    eprintln!("storm {label}: done in {:.1?}", started.elapsed());
    problems
}

const STORM_WATCHDOG_SECS: u64 = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_storm() {
    let seed = storm_seed();
    eprintln!("cancellation_storm: seed {seed} (rerun with DUETTO_STORM_SEED={seed})");
    let mut problems = Vec::new();
    let mut run = 0u64;
    for kind in backends() {
        for pool_size in [1, 4] {
            // One seed per run, derived from the printed one.
            let run_seed = seed
                .wrapping_add(run.wrapping_mul(0x9E37_79B9_7F4A_7C15))
                .max(1);
            run += 1;
            problems.extend(storm(kind, pool_size, run_seed).await);
        }
    }
    assert!(
        problems.is_empty(),
        "cancellation storm (seed {seed}, rerun with DUETTO_STORM_SEED={seed}) found {} \
         problem(s):\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}
