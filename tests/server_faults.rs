//! The server goes away, and duetto survives it: restarts and stops under load, crashes, killed
//! sessions and a network that stalls, on PostgreSQL and MariaDB.
//!
//! These tests restart, stop and kill database servers, so they never touch the main ones: they
//! run against instances of their own made by `scripts/fault-servers.sh` (a PostgreSQL cluster
//! on port 5434, a second `mariadbd` on 3307), named by `DUETTO_TEST_FAULT_POSTGRES_URL`,
//! `DUETTO_TEST_FAULT_MYSQL_URL` and `DUETTO_TEST_FAULT_SCRIPT` (`scripts/fault-servers.sh
//! --env` prints them). Without them the tests say so and pass, unless
//! `DUETTO_TEST_REQUIRE_FAULTS=1` (set by `.ci/run`) makes that a failure. They run one at a
//! time, since they share the servers.
//!
//! The pass criteria, for every fault:
//! - every call returns `Ok` or an error within its deadline: nothing hangs;
//! - calls succeed again within 1 s of the server accepting connections, and reads issued after
//!   it is back never fail;
//! - no acknowledged write is lost, and a write reported as lost with
//!   `might_have_committed: false` did not commit;
//! - `pool_status` matches the sessions the server sees afterwards.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use duetto::prelude::*;
use duetto::sea_orm::{ColumnTrait, Set};
use duetto::testing::TestDatabase;
use duetto::{Backend, ConnectOptions, Db};
use entity::user;
use migration::{Migrator, MigratorTrait};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How long any one call may take before the test calls it a hang.
const CALL_DEADLINE: Duration = Duration::from_secs(15);
/// How soon after the server accepts connections every call must succeed again.
const RECOVERY: Duration = Duration::from_secs(1);

/// The tests share the fault servers: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A database server of the tests' own, which they may restart, stop and kill.
#[derive(Clone)]
struct FaultServer {
    backend: Backend,
    url: String,
    script: String,
}

impl FaultServer {
    fn name(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => "postgres",
            _ => "mysql",
        }
    }

    /// Runs `scripts/fault-servers.sh <action> <server>`, which returns once it is done (the
    /// server ready, or fully down).
    async fn act(&self, action: &str) {
        let (script, name) = (self.script.clone(), self.name());
        let action = action.to_owned();
        let status = tokio::task::spawn_blocking(move || {
            std::process::Command::new("bash")
                .arg(&script)
                .arg(&action)
                .arg(name)
                .stdout(std::process::Stdio::null())
                .status()
        })
        .await
        .unwrap()
        .expect("run scripts/fault-servers.sh");
        assert!(status.success(), "fault-servers.sh failed on {name}");
    }
}

/// The fault servers this run has.
fn fault_servers() -> Vec<FaultServer> {
    let required = std::env::var("DUETTO_TEST_REQUIRE_FAULTS").is_ok_and(|v| v == "1");
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let Some(script) = var("DUETTO_TEST_FAULT_SCRIPT") else {
        assert!(
            !required,
            "DUETTO_TEST_REQUIRE_FAULTS=1 but DUETTO_TEST_FAULT_SCRIPT is not set \
             (run scripts/fault-servers.sh --env)"
        );
        eprintln!("no fault servers (scripts/fault-servers.sh --env): skipped");
        return Vec::new();
    };
    let mut servers = Vec::new();
    for (backend, name) in [
        (Backend::Postgres, "DUETTO_TEST_FAULT_POSTGRES_URL"),
        (Backend::MySql, "DUETTO_TEST_FAULT_MYSQL_URL"),
    ] {
        match var(name) {
            Some(url) => servers.push(FaultServer {
                backend,
                url,
                script: script.clone(),
            }),
            None => assert!(
                !required,
                "DUETTO_TEST_REQUIRE_FAULTS=1 but {name} is not set"
            ),
        }
    }
    servers
}

/// A fresh, migrated database on `server`.
async fn fresh(server: &FaultServer) -> TestDatabase {
    TestDatabase::create_on(server.backend, &server.url)
        .await
        .unwrap()
        .migrate(|conn| async move { Migrator::up(&conn, None).await })
        .await
        .unwrap()
}

static NAMES: AtomicU64 = AtomicU64::new(0);

/// A pool on `t`'s database whose sessions the server can tell apart from every other: by
/// application name on PostgreSQL, by a user of its own on MySQL (which has no application
/// name).
async fn pool(server: &FaultServer, t: &TestDatabase, max: u32) -> (Db, String) {
    let app = format!(
        "duetto_fault_{}_{}",
        std::process::id(),
        NAMES.fetch_add(1, Ordering::Relaxed)
    );
    let mut url = url::Url::parse(t.url()).unwrap();
    if server.backend == Backend::MySql {
        let admin = admin(server).await;
        let database = db_name(t.url());
        // Every host form a loopback client may be seen as, so no anonymous account wins.
        for host in ["%", "localhost", "127.0.0.1"] {
            for sql in [
                format!("CREATE USER IF NOT EXISTS '{app}'@'{host}'"),
                format!("GRANT ALL ON `{database}`.* TO '{app}'@'{host}'"),
            ] {
                duetto::raw(sql, Vec::<i64>::new())
                    .using(&admin)
                    .aexecute()
                    .await
                    .unwrap();
            }
        }
        admin.close().await.unwrap();
        url.set_username(&app).unwrap();
    }
    let db = Db::connect_with(
        ConnectOptions::new(url.as_str())
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(2))
            .application_name(&app),
    )
    .await
    .unwrap();
    (db, app)
}

/// A connection of the test's own to `server`.
async fn admin(server: &FaultServer) -> Db {
    Db::connect_with(ConnectOptions::new(&server.url).max_connections(1))
        .await
        .unwrap()
}

/// The server's session ids of the pool made by [`pool`] as `app`, from a connection of the
/// test's own.
async fn sessions(server: &FaultServer, app: &str) -> Vec<i64> {
    let sql = match server.backend {
        Backend::Postgres => {
            "SELECT pid::bigint AS id FROM pg_stat_activity WHERE application_name = $1"
        }
        _ => "SELECT CAST(id AS SIGNED) AS id FROM information_schema.processlist WHERE user = ?",
    };
    let admin = admin(server).await;
    let rows = duetto::raw(sql, [app]).using(&admin).afetch_all().await;
    admin.close().await.unwrap();
    rows.unwrap()
        .iter()
        .map(|row| row.try_get::<i64>("", "id").unwrap())
        .collect()
}

fn db_name(url: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_owned()
}

/// Kills the sessions `ids` from a connection of the test's own.
async fn kill_sessions(server: &FaultServer, ids: &[i64]) {
    let admin = admin(server).await;
    for id in ids {
        let sql = match server.backend {
            Backend::Postgres => format!("SELECT pg_terminate_backend({id})"),
            _ => format!("KILL CONNECTION {id}"),
        };
        // A session that already ended is fine.
        let _ = duetto::raw(sql, Vec::<i64>::new())
            .using(&admin)
            .aexecute()
            .await;
    }
    admin.close().await.unwrap();
}

/// Waits (up to 10 s) until `db`'s pool and the server agree on how many sessions it has.
async fn assert_pool_matches_server(server: &FaultServer, db: &Db, app: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = db.pool_status();
        let seen = sessions(server, app).await.len() as u32;
        if seen == status.open && status.idle as u32 <= status.open {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: pool_status says {status:?} but the server sees {seen} sessions",
            server.name(),
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Read,
    Write,
}

/// One call of the load and how it ended.
#[derive(Debug)]
struct Call {
    op: Op,
    started: Instant,
    ended: Instant,
    /// `None` when it succeeded.
    error: Option<String>,
    /// For writes: the email it created.
    email: Option<String>,
    /// For writes that failed with `ConnectionLost`: whether they might have committed.
    might_have_committed: Option<bool>,
    hung: bool,
}

/// `tasks` tasks calling reads and writes on `db` back to back until `stop`.
fn start_load(
    db: &Db,
    tasks: usize,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Vec<Call>>> {
    (0..tasks)
        .map(|task| {
            let (db, stop) = (db.clone(), stop.clone());
            tokio::spawn(async move {
                let mut calls = Vec::new();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let op = if n.is_multiple_of(3) {
                        Op::Write
                    } else {
                        Op::Read
                    };
                    let email = format!("t{task}-{n}@load");
                    let started = Instant::now();
                    let users = user::Entity::objects().using(&db);
                    let outcome = tokio::time::timeout(CALL_DEADLINE, async {
                        match op {
                            Op::Read => users
                                .filter(user::Column::Id.gt(0))
                                .acount()
                                .await
                                .map(drop),
                            Op::Write => users
                                .acreate(user::ActiveModel {
                                    name: Set("load".to_owned()),
                                    email: Set(email.clone()),
                                    ..Default::default()
                                })
                                .await
                                .map(drop),
                        }
                    })
                    .await;
                    let ended = Instant::now();
                    let (error, might_have_committed, hung) = match outcome {
                        Ok(Ok(())) => (None, None, false),
                        Ok(Err(e)) => {
                            let might = match &e {
                                duetto::Error::ConnectionLost {
                                    might_have_committed,
                                    ..
                                } => Some(*might_have_committed),
                                _ => None,
                            };
                            (Some(e.to_string()), might, false)
                        }
                        Err(_) => (Some("hung".to_owned()), None, true),
                    };
                    let failed = error.is_some();
                    calls.push(Call {
                        op,
                        started,
                        ended,
                        error,
                        email: (op == Op::Write).then_some(email),
                        might_have_committed,
                        hung,
                    });
                    if failed {
                        // During an outage errors come at once; don't spin.
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
                calls
            })
        })
        .collect()
}

async fn stop_load(
    stop: &Arc<AtomicBool>,
    load: Vec<tokio::task::JoinHandle<Vec<Call>>>,
) -> Vec<Call> {
    stop.store(true, Ordering::Relaxed);
    let mut calls = Vec::new();
    for task in load {
        calls.extend(task.await.unwrap());
    }
    calls
}

/// Checks the pass criteria on the calls of a load during which the server came back at `back`.
async fn judge(what: &str, server: &FaultServer, t: &TestDatabase, calls: &[Call], back: Instant) {
    let name = server.name();
    let hung: Vec<_> = calls.iter().filter(|c| c.hung).collect();
    assert!(
        hung.is_empty(),
        "{name} {what}: {} calls hung, e.g. {:?}",
        hung.len(),
        hung[0]
    );
    let failed_reads: Vec<_> = calls
        .iter()
        .filter(|c| c.op == Op::Read && c.started >= back && c.error.is_some())
        .collect();
    assert!(
        failed_reads.is_empty(),
        "{name} {what}: {} reads issued after the server was back failed, e.g. {:?}",
        failed_reads.len(),
        failed_reads.first()
    );
    let late_failures: Vec<_> = calls
        .iter()
        .filter(|c| c.started >= back + RECOVERY && c.error.is_some())
        .collect();
    assert!(
        late_failures.is_empty(),
        "{name} {what}: {} calls issued more than {RECOVERY:?} after the server was back \
         failed, e.g. {:?}",
        late_failures.len(),
        late_failures.first()
    );
    let after = calls.iter().filter(|c| c.started >= back).count();
    assert!(
        after > 0,
        "{name} {what}: no call ran after the server was back"
    );
    // Every acknowledged write is there; every write reported as surely not committed is not.
    let stored: std::collections::HashSet<String> = user::Entity::objects()
        .using(t.db())
        .alist()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.email)
        .collect();
    for call in calls.iter().filter(|c| c.op == Op::Write) {
        let email = call.email.as_deref().unwrap();
        let present = stored.contains(email);
        if call.error.is_none() {
            assert!(
                present,
                "{name} {what}: the acknowledged write of {email} was lost"
            );
        }
        if call.might_have_committed == Some(false) {
            assert!(
                !present,
                "{name} {what}: {email} was reported as not committed, yet it is there: {:?}",
                call.error
            );
        }
    }
}

/// Runs a 32-task load on a pool of 8, applies `fault` (which returns once the server is
/// accepting connections again), keeps the load up 3 s more, and checks the pass criteria.
async fn outage_under_load<F, Fut>(server: &FaultServer, what: &str, fault: F)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let t = fresh(server).await;
    let (db, app) = pool(server, &t, 8).await;
    let stop = Arc::new(AtomicBool::new(false));
    let load = start_load(&db, 32, &stop);
    tokio::time::sleep(Duration::from_millis(700)).await;
    fault().await;
    let back = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let calls = stop_load(&stop, load).await;
    let first_ok = calls
        .iter()
        .filter(|c| c.started >= back && c.error.is_none())
        .map(|c| c.ended.duration_since(back))
        .min();
    eprintln!(
        "{} {what}: {} calls, {} failed; first success {:?} after the server was back",
        server.name(),
        calls.len(),
        calls.iter().filter(|c| c.error.is_some()).count(),
        first_ok
    );
    judge(what, server, &t, &calls, back).await;
    assert_pool_matches_server(server, &db, &app).await;
    db.close().await.unwrap();
}

/// Runs `body` for every fault server, one test at a time, under a watchdog.
async fn each_server<F, Fut>(test: &str, body: F)
where
    F: Fn(FaultServer) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let _serial = SERIAL.lock().await;
    for server in fault_servers() {
        let name = server.name();
        common::faults::watchdog(180, &format!("{test} on {name}"), body(server)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The faults
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_under_load() {
    each_server("restart under load", |server| async move {
        outage_under_load(&server, "restart", || server.act("restart")).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_wait_three_seconds_start() {
    each_server("stop, 3 s, start", |server| async move {
        outage_under_load(&server, "stop/3 s/start", || async {
            server.act("stop").await;
            tokio::time::sleep(Duration::from_secs(3)).await;
            server.act("start").await;
        })
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_and_start() {
    each_server("crash, start", |server| async move {
        outage_under_load(&server, "crash/start", || async {
            server.act("kill").await;
            server.act("start").await;
        })
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_session_killed_under_load() {
    each_server("every session killed", |server| async move {
        let t = fresh(&server).await;
        let (db, app) = pool(&server, &t, 8).await;
        let stop = Arc::new(AtomicBool::new(false));
        let load = start_load(&db, 32, &stop);
        tokio::time::sleep(Duration::from_millis(700)).await;
        let ids = sessions(&server, &app).await;
        assert!(!ids.is_empty(), "the load opened no session");
        kill_sessions(&server, &ids).await;
        let back = Instant::now();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let calls = stop_load(&stop, load).await;
        judge("every session killed", &server, &t, &calls, back).await;
        assert_pool_matches_server(&server, &db, &app).await;
        db.close().await.unwrap();
    })
    .await;
}

/// The outside suite's case: one killed session on a pool of one gave 30 failed calls over 3 s
/// and a pool that worked again only after 61 s idle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_session_killed_on_a_pool_of_one() {
    each_server("one session killed", |server| async move {
        let t = fresh(&server).await;
        let (db, app) = pool(&server, &t, 1).await;
        let users = user::Entity::objects().using(&db);
        users.acount().await.unwrap();
        let ids = sessions(&server, &app).await;
        assert_eq!(ids.len(), 1, "a pool of one has one session");
        kill_sessions(&server, &ids).await;
        // Reads never see it.
        for _ in 0..5 {
            users.acount().await.unwrap();
        }
        assert_ne!(
            sessions(&server, &app).await,
            ids,
            "the dead session is gone"
        );
        db.aping().await.unwrap();
        // A write whose connection is lost is never repeated: it fails with a clear,
        // matchable error, and the next one succeeds.
        let ids = sessions(&server, &app).await;
        kill_sessions(&server, &ids).await;
        let created = users
            .acreate(user::ActiveModel {
                name: Set("w".to_owned()),
                email: Set("w1@x".to_owned()),
                ..Default::default()
            })
            .await;
        match created {
            Ok(_) => {}
            Err(duetto::Error::ConnectionLost { alias, .. }) => assert_eq!(alias, "default"),
            Err(other) => panic!("{}: expected ConnectionLost, got {other}", server.name()),
        }
        users
            .acreate(user::ActiveModel {
                name: Set("w".to_owned()),
                email: Set("w2@x".to_owned()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_pool_matches_server(&server, &db, &app).await;
        db.close().await.unwrap();
    })
    .await;
}

/// A write inside a scope whose connection is lost fails with `ConnectionLost`, the scope
/// does not commit, and the pool goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_whose_connection_is_lost_rolls_back() {
    each_server("lost scope", |server| async move {
        let t = fresh(&server).await;
        let (db, app) = pool(&server, &t, 2).await;
        let users = user::Entity::objects().using(&db);
        let (server2, app2) = (server.clone(), app.clone());
        let outcome = db
            .aatomic(async {
                users
                    .acreate(user::ActiveModel {
                        name: Set("s".to_owned()),
                        email: Set("in-scope@x".to_owned()),
                        ..Default::default()
                    })
                    .await?;
                let ids = sessions(&server2, &app2).await;
                kill_sessions(&server2, &ids).await;
                users.acount().await
            })
            .await;
        let err = outcome.expect_err("the scope lost its connection");
        assert!(
            matches!(
                &err,
                duetto::Error::ConnectionLost {
                    might_have_committed: false,
                    ..
                } | duetto::Error::Transaction {
                    problem: duetto::TransactionProblem::ConnectionLost,
                    ..
                }
            ),
            "{}: {err}",
            server.name()
        );
        assert!(!users
            .filter(user::Column::Email.eq("in-scope@x"))
            .aexists()
            .await
            .unwrap());
        assert_pool_matches_server(&server, &db, &app).await;
        db.close().await.unwrap();
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// A network that stalls
// ---------------------------------------------------------------------------------------------

/// A TCP proxy to a server that, while stalled, accepts connections and keeps every socket
/// open but forwards nothing either way: a server that accepts TCP and never answers.
struct StallProxy {
    addr: std::net::SocketAddr,
    stalled: watch::Sender<bool>,
    accept: tokio::task::JoinHandle<()>,
}

impl StallProxy {
    async fn start(upstream: std::net::SocketAddr) -> StallProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stalled, watching) = watch::channel(false);
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let watching = watching.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::join!(forward(cr, sw, watching.clone()), forward(sr, cw, watching));
                });
            }
        });
        StallProxy {
            addr,
            stalled,
            accept,
        }
    }

    fn stall(&self, stalled: bool) {
        self.stalled.send_replace(stalled);
    }

    fn url_for(&self, url: &str) -> String {
        let mut url = url::Url::parse(url).unwrap();
        url.set_port(Some(self.addr.port())).unwrap();
        url.to_string()
    }
}

impl Drop for StallProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Copies `from` to `to`, holding what it read while the proxy is stalled.
async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut stalled: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while *stalled.borrow_and_update() {
            if stalled.changed().await.is_err() {
                return;
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Through a network that stalls for 3 s (established sockets and new ones alike), callers with
/// a deadline get their answer or their error in time, and once the network is back every call
/// succeeds within a second, with no connection of the stalled ones left in the pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_that_stalls() {
    each_server("stall", |server| async move {
        let t = fresh(&server).await;
        let upstream = {
            let url = url::Url::parse(&server.url).unwrap();
            let host = (url.host_str().unwrap().to_owned(), url.port().unwrap());
            tokio::net::lookup_host(host).await.unwrap().next().unwrap()
        };
        let proxy = StallProxy::start(upstream).await;
        let db = Db::connect_with(
            ConnectOptions::new(proxy.url_for(t.url()))
                .max_connections(4)
                .acquire_timeout(Duration::from_secs(2))
                .connect_timeout(Duration::from_secs(1)),
        )
        .await
        .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let deadline = Duration::from_millis(1500);
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (db, stop) = (db.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut calls = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let started = Instant::now();
                        let users = user::Entity::objects().using(&db);
                        let outcome = tokio::time::timeout(deadline, users.acount()).await;
                        let ended = Instant::now();
                        let ok = matches!(outcome, Ok(Ok(_)));
                        calls.push((started, ended, ok));
                        if !ok {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                    }
                    calls
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(500)).await;
        proxy.stall(true);
        let stalled_at = Instant::now();
        // A caller with no deadline of its own that needs a new connection gets a clear error
        // within the connect timeout: the handshake is never answered.
        let connecting = Db::connect_with(
            ConnectOptions::new(proxy.url_for(t.url())).connect_timeout(Duration::from_secs(1)),
        );
        let refused = tokio::time::timeout(Duration::from_secs(5), connecting)
            .await
            .unwrap_or_else(|_| panic!("{}: connecting to a stalled server hung", server.name()));
        assert!(
            matches!(refused, Err(duetto::Error::Connect { .. })),
            "{}: connecting to a stalled server: {:?}",
            server.name(),
            refused.map(|_| ())
        );
        tokio::time::sleep(Duration::from_secs(3).saturating_sub(stalled_at.elapsed())).await;
        proxy.stall(false);
        let back = Instant::now();
        tokio::time::sleep(Duration::from_secs(3)).await;
        stop.store(true, Ordering::Relaxed);
        let mut calls = Vec::new();
        for task in tasks {
            calls.extend(task.await.unwrap());
        }
        let name = server.name();
        let slack = Duration::from_millis(500);
        let late: Vec<_> = calls
            .iter()
            .filter(|(started, ended, _)| ended.duration_since(*started) > deadline + slack)
            .collect();
        assert!(
            late.is_empty(),
            "{name}: {} calls overran their deadline",
            late.len()
        );
        let failed_after: Vec<_> = calls
            .iter()
            .filter(|(started, _, ok)| *started >= back + RECOVERY && !ok)
            .collect();
        assert!(
            failed_after.is_empty(),
            "{name}: {} calls failed more than {RECOVERY:?} after the network was back",
            failed_after.len()
        );
        assert!(calls.iter().any(|(started, _, ok)| *started >= back && *ok));
        db.close().await.unwrap();
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Draining instead of closing
// ---------------------------------------------------------------------------------------------

/// A read cancelled mid-statement outside a transaction costs no connection on PostgreSQL:
/// the abandoned reply is drained in the background and the connection pooled again. On MySQL
/// the connection is closed (sqlx cannot find its place in a half-read reply), and the pool
/// replaces it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_reads_keep_their_connections_on_postgres() {
    each_server("cancelled reads", |server| async move {
        let t = fresh(&server).await;
        let (db, app) = pool(&server, &t, 2).await;
        db.aping().await.unwrap();
        let before = sessions(&server, &app).await;
        let sleep = match server.backend {
            Backend::Postgres => "SELECT pg_sleep(0.05)",
            _ => "SELECT SLEEP(0.05)",
        };
        for _ in 0..10 {
            let read = duetto::raw(sleep, Vec::<i64>::new())
                .using(&db)
                .afetch_all();
            assert!(
                tokio::time::timeout(Duration::from_millis(10), read)
                    .await
                    .is_err(),
                "the read was meant to be cancelled mid-statement"
            );
        }
        // Drains finish within a second; the pool answers meanwhile.
        tokio::time::sleep(Duration::from_millis(300)).await;
        user::Entity::objects().using(&db).acount().await.unwrap();
        let after = sessions(&server, &app).await;
        if server.backend == Backend::Postgres {
            assert!(
                after.iter().all(|id| before.contains(id)),
                "cancelled reads cost connections: sessions {before:?} became {after:?}"
            );
        }
        assert_pool_matches_server(&server, &db, &app).await;
        // The drained connections are in step: every later answer is the right one.
        for i in 0..20i64 {
            let sql = match server.backend {
                Backend::Postgres => "SELECT 1 + $1 AS n",
                _ => "SELECT 1 + ? AS n",
            };
            let rows = duetto::raw(sql, [i]).using(&db).afetch_all().await.unwrap();
            let n = rows[0].try_get::<i64>("", "n").unwrap();
            assert_eq!(n, 1 + i);
        }
        db.close().await.unwrap();
    })
    .await;
}
