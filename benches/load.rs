//! Requests per second under load: the 5-query dashboard served by axum, on duetto and on raw
//! sqlx, against PostgreSQL behind the latency proxy (0, 2 and 10 ms each way), driven by wrk
//! (2 threads, 64 connections, loopback), every server with a pool of 64 connections. All
//! variants run in one process, one after another, in one run of this program.
//!
//! ```text
//! DUETTO_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1/duetto_bench cargo bench --bench load
//! ```
//!
//! Prints a markdown table and writes it to `target/bench-results/load.md`.
//! `DUETTO_LOAD_SECONDS` (default 10) sets each wrk run's length, `DUETTO_LOAD_LATENCIES_MS`
//! (default `0,2,10`) the delays. Needs `wrk` on the PATH.

#[path = "../examples/support/mod.rs"]
mod support;

use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use duetto::sea_orm::sqlx::{self, postgres::PgPoolOptions, PgPool, Row};
use duetto::testing::LatencyProxy;
use duetto::{ConnectOptions, Db};
use support::dashboards::{
    full_async_serial, full_batched, full_concurrent, Dashboard, OrderView, UserView,
};
use support::{Args, Demo, Size};

const POOL: u32 = 64;
const USER_ID: i64 = 7;
/// The first of the raw sqlx variants, which run after every duetto one.
const FIRST_RAW: &str = "raw sqlx, per-query checkout";

type Handler = Arc<
    dyn Fn(i64) -> Pin<Box<dyn Future<Output = Result<Dashboard, String>> + Send>> + Send + Sync,
>;

fn main() -> duetto::Result<()> {
    let Ok(url) = std::env::var("DUETTO_BENCH_POSTGRES_URL") else {
        eprintln!("load bench: set DUETTO_BENCH_POSTGRES_URL (a scratch PostgreSQL database)");
        return Ok(());
    };
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("load bench: wrk is not installed (apt-get install wrk)");
        return Ok(());
    }
    let seconds: u64 = env_or("DUETTO_LOAD_SECONDS", "10")
        .parse()
        .expect("seconds");
    let latencies: Vec<u64> = env_or("DUETTO_LOAD_LATENCIES_MS", "0,2,10")
        .split(',')
        .map(|ms| ms.trim().parse().expect("latency in ms"))
        .collect();
    let args = Args {
        database_url: Some(url.clone()),
        latency_ms: 0,
        short: false,
        runs: None,
        rest: Vec::new(),
    };
    let demo = Demo::setup(&args, Size::realistic(false))?;
    let upstream = {
        let parsed = url::Url::parse(&url).map_err(duetto::Error::other)?;
        format!(
            "{}:{}",
            parsed.host_str().unwrap_or("127.0.0.1"),
            parsed.port().unwrap_or(5432)
        )
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    let variants = [
        "duetto, serial",
        "duetto, serial, request scope",
        "duetto, concurrent",
        "duetto, concurrent, request scope",
        "duetto, batched",
        FIRST_RAW,
        "raw sqlx, one connection per request",
    ];
    let mut table = String::from("| variant |");
    for ms in &latencies {
        table.push_str(&format!(" {ms} ms |"));
    }
    table.push_str("\n|---|");
    table.push_str(&"---:|".repeat(latencies.len()));
    table.push('\n');
    let mut results = vec![Vec::new(); variants.len()];

    // The server allows 100 connections: one 64-connection pool at a time.
    demo.direct.close_blocking()?;
    for &ms in &latencies {
        let proxy = LatencyProxy::start_blocking(&upstream, Duration::from_millis(ms))?;
        let proxied = proxy.url_for(&url)?;
        let db = Db::connect_with_blocking(ConnectOptions::new(&proxied).max_connections(POOL))?;
        duetto::set_default(db.clone());
        let raw = {
            let _runtime = rt.enter();
            PgPoolOptions::new()
                .max_connections(POOL)
                // sqlx's default also pings each connection as it leaves the pool; the strongest
                // raw baseline does not.
                .test_before_acquire(false)
                .connect_lazy(&proxied)
                .map_err(duetto::Error::other)?
        };
        for (i, variant) in variants.iter().enumerate() {
            if *variant == FIRST_RAW {
                // The duetto variants are done: free the duetto pool's connections first.
                db.close_blocking()?;
            }
            let app = router(variant, raw.clone());
            let rps = rt.block_on(serve_and_load(app, seconds))?;
            eprintln!("{ms:>3} ms  {variant:<40} {rps:>8.0} req/s");
            results[i].push(rps);
        }
        rt.block_on(raw.close());
        drop(proxy);
    }
    for (variant, rps) in variants.iter().zip(&results) {
        table.push_str(&format!("| {variant} |"));
        for r in rps {
            table.push_str(&format!(" {r:.0} |"));
        }
        table.push('\n');
    }
    println!("\n{table}");
    std::fs::create_dir_all("target/bench-results").map_err(duetto::Error::other)?;
    std::fs::File::create("target/bench-results/load.md")
        .and_then(|mut f| f.write_all(table.as_bytes()))
        .map_err(duetto::Error::other)?;
    drop(demo);
    Ok(())
}

fn env_or(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

/// The same five queries, written for sqlx by hand, on `$conn` (re-evaluated for each query, so
/// `&pool` checks a connection out per query and `&mut *conn` reuses one).
macro_rules! raw_dashboard {
    ($conn:expr, $user_id:expr) => {{
        async move {
            let user_id: i64 = $user_id;
            let user = sqlx::query(r#"SELECT id, name, email FROM "user" WHERE id = $1"#)
                .bind(user_id)
                .fetch_one($conn)
                .await?;
            let total_orders: i64 =
                sqlx::query_scalar(r#"SELECT COUNT(*) FROM "order" WHERE user_id = $1"#)
                    .bind(user_id)
                    .fetch_one($conn)
                    .await?;
            let pending_orders: i64 = sqlx::query_scalar(
                r#"SELECT COUNT(*) FROM "order" WHERE user_id = $1 AND status = 'pending'"#,
            )
            .bind(user_id)
            .fetch_one($conn)
            .await?;
            let unread_notifications: i64 = sqlx::query_scalar(
                r#"SELECT COUNT(*) FROM notification WHERE user_id = $1 AND read = false"#,
            )
            .bind(user_id)
            .fetch_one($conn)
            .await?;
            let recent = sqlx::query(
                r#"SELECT id, total, status FROM "order" WHERE user_id = $1
                   ORDER BY created_at DESC, id DESC LIMIT 5"#,
            )
            .bind(user_id)
            .fetch_all($conn)
            .await?;
            Ok::<_, sqlx::Error>(Dashboard {
                user: UserView {
                    id: user.get("id"),
                    name: user.get("name"),
                    email: user.get("email"),
                },
                total_orders: total_orders as u64,
                pending_orders: pending_orders as u64,
                unread_notifications: unread_notifications as u64,
                recent_orders: recent
                    .into_iter()
                    .map(|o| OrderView {
                        id: o.get("id"),
                        total: o
                            .get::<duetto::sea_orm::prelude::Decimal, _>("total")
                            .to_string(),
                        status: o.get("status"),
                    })
                    .collect(),
            })
        }
    }};
}

/// The axum app for one variant.
fn router(variant: &str, raw: PgPool) -> Router {
    let handler: Handler = match variant {
        "duetto, serial" | "duetto, serial, request scope" => Arc::new(|id| {
            Box::pin(async move { full_async_serial(id).await.map_err(|e| e.to_string()) })
        }),
        "duetto, concurrent" | "duetto, concurrent, request scope" => Arc::new(|id| {
            Box::pin(async move { full_concurrent(id).await.map_err(|e| e.to_string()) })
        }),
        "duetto, batched" => Arc::new(|id| {
            Box::pin(async move { full_batched(id).await.map_err(|e| e.to_string()) })
        }),
        "raw sqlx, per-query checkout" => Arc::new(move |id| {
            let pool = raw.clone();
            Box::pin(async move { raw_dashboard!(&pool, id).await.map_err(|e| e.to_string()) })
        }),
        "raw sqlx, one connection per request" => Arc::new(move |id| {
            let pool = raw.clone();
            Box::pin(async move {
                let mut conn = pool.acquire().await.map_err(|e| e.to_string())?;
                raw_dashboard!(&mut *conn, id)
                    .await
                    .map_err(|e| e.to_string())
            })
        }),
        other => unreachable!("unknown variant {other}"),
    };
    let app = Router::new()
        .route("/dashboard/{id}", get(dashboard))
        .with_state(handler);
    if variant.ends_with("request scope") {
        app.layer(duetto::request::RequestScopeLayer::new())
    } else {
        app
    }
}

async fn dashboard(
    State(handler): State<Handler>,
    Path(id): Path<i64>,
) -> Result<Json<Dashboard>, (StatusCode, String)> {
    handler(id)
        .await
        .map(Json)
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e))
}

/// Serves `app` on a loopback port, checks one request, runs wrk against it, returns req/s.
async fn serve_and_load(app: Router, seconds: u64) -> duetto::Result<f64> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(duetto::Error::other)?;
    let addr = listener.local_addr().map_err(duetto::Error::other)?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let url = format!("http://{addr}/dashboard/{USER_ID}");
    let rps = tokio::task::spawn_blocking(move || -> duetto::Result<f64> {
        let check = Command::new("wrk")
            .args(["-t1", "-c1", "-d1s", &url])
            .output()
            .map_err(duetto::Error::other)?;
        let text = String::from_utf8_lossy(&check.stdout);
        if text.contains("Non-2xx") {
            return Err(duetto::Error::other(format!(
                "{url} answers errors:\n{text}"
            )));
        }
        let out = Command::new("wrk")
            .args([
                "-t2",
                "-c64",
                &format!("-d{seconds}s"),
                "--timeout",
                "10s",
                &url,
            ])
            .output()
            .map_err(duetto::Error::other)?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.contains("Non-2xx") || text.contains("Socket errors") {
            eprintln!("wrk reported errors:\n{text}");
        }
        text.lines()
            .find_map(|line| line.strip_prefix("Requests/sec:"))
            .and_then(|n| n.trim().parse().ok())
            .ok_or_else(|| duetto::Error::other(format!("no Requests/sec in wrk output:\n{text}")))
    })
    .await
    .map_err(duetto::Error::other)??;
    server.abort();
    Ok(rps)
}
