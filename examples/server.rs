//! An axum server with the seed article's views: sync and async dashboards, a class-based user
//! view, an aggregation view calling four stub services concurrently with timeouts and fallbacks,
//! and a streaming upload. Graceful shutdown on Ctrl-C.
//!
//! ```text
//! cargo run --release --example server -- --port 8088 [--database-url URL] [--latency-ms N]
//! cargo run --example server -- --short     # start, call every route once, shut down (CI)
//! scripts/load-test.sh                      # wrk against both dashboards
//! ```
//!
//! | route | what it shows |
//! |---|---|
//! | `GET /sync/dashboard/{id}` | the blocking voice, run on the blocking pool with `sync_to_async` |
//! | `GET /async/dashboard/{id}` | the async voice, five queries at once |
//! | `GET`/`POST /users/{id}` | a class-based view: one type, a method per HTTP verb |
//! | `GET /aggregate/{id}` | four stub services at once, each with a timeout and a fallback |
//! | `POST /upload` | a request body streamed to disk with `tokio::fs` |

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use duetto::prelude::*;
use duetto::sea_orm::Set;
use entity::user;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};
use support::dashboards::{full_blocking, full_concurrent, UserView};
use support::{Args, Demo, Size};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A duetto error as an HTTP response: a missing row is a 404, the rest a 500.
struct ApiError(duetto::Error);

impl From<duetto::Error> for ApiError {
    fn from(e: duetto::Error) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self.0 {
            duetto::Error::DoesNotExist { .. } => StatusCode::NOT_FOUND,
            duetto::Error::Integrity { .. } => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, Json(json!({ "error": self.0.to_string() }))).into_response()
    }
}

type ApiResult = Result<Json<Value>, ApiError>;

fn to_json(value: impl serde::Serialize) -> ApiResult {
    serde_json::to_value(value)
        .map(Json)
        .map_err(|e| ApiError(duetto::Error::other(e)))
}

/// Django's sync view under ASGI: the blocking voice, moved to the blocking pool.
async fn sync_dashboard(Path(id): Path<i64>) -> ApiResult {
    to_json(sync_to_async(move || full_blocking(id)).await?)
}

/// The async view: the five queries run concurrently.
async fn async_dashboard(Path(id): Path<i64>) -> ApiResult {
    to_json(full_concurrent(id).await?)
}

/// A class-based view: one type, one method per HTTP verb, and a dispatcher.
struct UserDetailView {
    id: i64,
}

#[derive(Deserialize)]
struct UserUpdate {
    name: String,
}

impl UserDetailView {
    async fn dispatch(method: Method, Path(id): Path<i64>, body: Bytes) -> Response {
        let view = UserDetailView { id };
        let result = match method {
            Method::GET => view.get().await,
            Method::POST => view.post(body).await,
            _ => return StatusCode::METHOD_NOT_ALLOWED.into_response(),
        };
        result.into_response()
    }

    async fn get(&self) -> ApiResult {
        to_json(UserView::from(
            user::Entity::objects().aget_pk(self.id).await?,
        ))
    }

    async fn post(&self, body: Bytes) -> ApiResult {
        let update: UserUpdate =
            serde_json::from_slice(&body).map_err(|e| ApiError(duetto::Error::other(e)))?;
        let current = user::Entity::objects().aget_pk(self.id).await?;
        let mut changed: user::ActiveModel = current.into();
        changed.name = Set(update.name);
        to_json(UserView::from(changed.asave().await?))
    }
}

/// A stub of a remote service: answers after `delay`, or fails.
async fn stub_service(name: &'static str, delay: Duration, fails: bool) -> Result<Value, String> {
    tokio::time::sleep(delay).await;
    if fails {
        Err(format!("{name} is unavailable"))
    } else {
        Ok(json!({ "service": name, "latency_ms": delay.as_millis() as u64 }))
    }
}

/// Calls `service` with a timeout, answering `fallback` (and saying so) when it fails or is late.
async fn with_fallback(
    timeout: Duration,
    service: impl std::future::Future<Output = Result<Value, String>>,
    fallback: Value,
) -> Value {
    match tokio::time::timeout(timeout, service).await {
        Ok(Ok(value)) => json!({ "ok": true, "data": value }),
        Ok(Err(error)) => json!({ "ok": false, "error": error, "data": fallback }),
        Err(_) => json!({ "ok": false, "error": "timed out", "data": fallback }),
    }
}

/// Four services at once: the page costs the slowest timeout, not the sum.
async fn aggregate(Path(id): Path<i64>) -> ApiResult {
    let started = Instant::now();
    let limit = Duration::from_millis(100);
    let (user, weather, recommendations, ads, inventory) = tokio::join!(
        user::Entity::objects().aget_pk(id),
        with_fallback(
            limit,
            stub_service("weather", Duration::from_millis(20), false),
            json!(null)
        ),
        with_fallback(
            limit,
            stub_service("recommendations", Duration::from_millis(50), false),
            json!([])
        ),
        with_fallback(
            limit,
            stub_service("ads", Duration::from_millis(300), false),
            json!([])
        ),
        with_fallback(
            limit,
            stub_service("inventory", Duration::from_millis(10), true),
            json!({})
        ),
    );
    to_json(json!({
        "user": UserView::from(user?),
        "weather": weather,
        "recommendations": recommendations,
        "ads": ads,
        "inventory": inventory,
        "elapsed_ms": started.elapsed().as_millis() as u64,
    }))
}

/// Streams the request body to a file chunk by chunk: memory stays flat whatever the size.
async fn upload(body: Body) -> ApiResult {
    let dir = std::env::temp_dir().join("duetto-uploads");
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| ApiError(duetto::Error::other(e)))?;
    let path = dir.join(format!("upload-{}.bin", std::process::id()));
    let mut file = tokio::fs::File::create(&path)
        .await
        .map_err(|e| ApiError(duetto::Error::other(e)))?;
    let mut stream = body.into_data_stream();
    let mut written = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError(duetto::Error::other(e)))?;
        file.write_all(&chunk)
            .await
            .map_err(|e| ApiError(duetto::Error::other(e)))?;
        written += chunk.len() as u64;
    }
    file.flush()
        .await
        .map_err(|e| ApiError(duetto::Error::other(e)))?;
    let _ = tokio::fs::remove_file(&path).await;
    to_json(json!({ "bytes": written }))
}

fn app() -> Router {
    Router::new()
        .route("/sync/dashboard/{id}", get(sync_dashboard))
        .route("/async/dashboard/{id}", get(async_dashboard))
        .route("/users/{id}", any(UserDetailView::dispatch))
        .route("/aggregate/{id}", get(aggregate))
        .route("/upload", post(upload))
}

/// A minimal HTTP/1.1 request, for the `--short` self-check (no client dependency needed).
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> std::io::Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    Ok((status, body))
}

async fn self_check(addr: SocketAddr) -> Result<(), String> {
    let big = vec![b'x'; 3 * 1024 * 1024];
    let checks: [(&str, &str, &[u8], u16); 7] = [
        ("GET", "/sync/dashboard/1", b"", 200),
        ("GET", "/async/dashboard/1", b"", 200),
        ("GET", "/users/2", b"", 200),
        ("POST", "/users/2", br#"{"name":"Renamed"}"#, 200),
        ("GET", "/users/999999", b"", 404),
        ("GET", "/aggregate/1", b"", 200),
        ("POST", "/upload", &big, 200),
    ];
    for (method, path, body, expected) in checks {
        let (status, reply) = request(addr, method, path, body)
            .await
            .map_err(|e| e.to_string())?;
        let preview: String = reply.chars().take(100).collect();
        println!("{method:<5} {path:<20} {status}  {preview}");
        if status != expected {
            return Err(format!(
                "{method} {path}: expected {expected}, got {status}"
            ));
        }
    }
    Ok(())
}

fn main() -> duetto::Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Runtime::new().map_err(duetto::Error::other)?;
    duetto::runtime::adopt(rt.handle().clone())?;
    let _demo = Demo::setup(&args, Size::realistic(args.short))?;
    let port: u16 = args
        .rest
        .iter()
        .position(|a| a == "--port")
        .and_then(|i| args.rest.get(i + 1))
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);

    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(duetto::Error::other)?;
        let addr = listener.local_addr().map_err(duetto::Error::other)?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, app())
                .with_graceful_shutdown(async move {
                    tokio::select! {
                        _ = stopped => {}
                        _ = tokio::signal::ctrl_c() => {}
                    }
                })
                .await
        });
        eprintln!("listening on http://{addr}");
        if args.short {
            let checked = self_check(addr).await;
            let _ = stop.send(());
            server
                .await
                .map_err(duetto::Error::other)?
                .map_err(duetto::Error::other)?;
            checked.map_err(duetto::Error::other)?;
            println!("every route answered; shut down gracefully");
        } else {
            server
                .await
                .map_err(duetto::Error::other)?
                .map_err(duetto::Error::other)?;
            drop(stop);
        }
        Ok::<(), duetto::Error>(())
    })
}
