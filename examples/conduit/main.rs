//! Conduit, the RealWorld example application (<https://realworld-docs.netlify.app>), on duetto:
//! users, follows, articles with tags, favorites, comments, feeds — the whole API of
//! `../shared/realworld/openapi.yml` under `/api`, passing the official Postman suite
//! (`scripts/realworld-suite.sh`).
//!
//! ```text
//! cargo run --example conduit                                  # embedded SQLite, port 3000
//! cargo run --example conduit -- --database-url postgres://…/conduit --port 8080
//! cargo run --example conduit -- --database-url URL --migrate-only
//! cargo run --example conduit -- --detect-n-plus-one 2    # warn when a request repeats a query
//! ```
//!
//! Every list endpoint runs a constant number of statements whatever the page size (the
//! articles' authors, tags, favorite counts and the reader's `favorited` / `following` are
//! loaded per page, not per article); every write that touches several tables is one `aatomic`
//! scope; a unique violation is a 422.

mod auth;
#[allow(unused_imports, dead_code)]
mod entity;
mod error;
mod migration;
mod routes;
mod views;

use std::net::SocketAddr;

use duetto::prelude::*;
use sea_orm_migration::MigratorTrait;

struct Args {
    database_url: Option<String>,
    port: u16,
    migrate_only: bool,
    detect_n_plus_one: Option<usize>,
}

fn args() -> Args {
    let mut args = Args {
        database_url: std::env::var("DATABASE_URL").ok(),
        port: 3000,
        migrate_only: false,
        detect_n_plus_one: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--database-url" => args.database_url = it.next(),
            "--port" => {
                args.port = it
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| panic!("--port needs a number"))
            }
            "--migrate-only" => args.migrate_only = true,
            "--detect-n-plus-one" => {
                args.detect_n_plus_one = it.next().and_then(|k| k.parse().ok());
            }
            other => panic!(
                "unknown flag {other}; flags: [--database-url URL] [--port N] [--migrate-only] \
                 [--detect-n-plus-one K]"
            ),
        }
    }
    args
}

fn main() -> duetto::Result<()> {
    let args = args();
    let url = args.database_url.clone().unwrap_or_else(|| {
        let path = std::env::temp_dir().join(format!("conduit-{}.db", std::process::id()));
        format!("sqlite://{}?mode=rwc", path.display())
    });
    let db = Db::connect_blocking(&url)?;
    db.run(|conn| async move { migration::Migrator::up(&conn, None).await })?;
    if args.migrate_only {
        return Ok(());
    }
    duetto::set_default(db);
    // Warnings (slow queries, N+1 reports with their line of code) go to stderr.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(std::io::stderr)
        .init();
    duetto::observe::detect_n_plus_one(args.detect_n_plus_one);
    let rt = tokio::runtime::Runtime::new().map_err(duetto::Error::other)?;
    rt.block_on(async move {
        let app = routes::router();
        let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(duetto::Error::other)?;
        eprintln!("conduit listening on http://{addr}/api ({url})");
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(duetto::Error::other)
    })
}
