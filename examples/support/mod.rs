//! Shared by the examples: command-line flags, a seeded demo database (embedded SQLite by default,
//! any backend by URL, optionally behind a latency proxy), and the seed article's dashboards.

#![allow(dead_code)] // each example uses part of this module

pub mod dashboards;

use std::time::{Duration, Instant};

use duetto::prelude::*;
use duetto::sea_orm::prelude::Decimal;
use duetto::sea_orm::Set;
use duetto::testing::LatencyProxy;
use entity::{comment, notification, order, post, user};
use migration::{Migrator, MigratorTrait};

/// Flags every example accepts.
#[derive(Debug, Clone)]
pub struct Args {
    /// `--database-url URL` (default: a SQLite file in a temp dir).
    pub database_url: Option<String>,
    /// `--latency-ms N`: one-way delay added by a proxy in front of a PostgreSQL/MySQL server.
    pub latency_ms: u64,
    /// `--short`: small data and few repetitions (what CI runs).
    pub short: bool,
    /// `--runs N`: repetitions per measurement.
    pub runs: Option<usize>,
    /// Anything else, for the example to interpret.
    pub rest: Vec<String>,
}

impl Args {
    pub fn parse() -> Args {
        let mut args = Args {
            database_url: std::env::var("DATABASE_URL").ok(),
            latency_ms: 0,
            short: false,
            runs: None,
            rest: Vec::new(),
        };
        let mut it = std::env::args().skip(1);
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--database-url" => args.database_url = it.next(),
                "--latency-ms" => args.latency_ms = number(it.next(), "--latency-ms"),
                "--runs" => args.runs = Some(number(it.next(), "--runs") as usize),
                "--short" => args.short = true,
                "--help" | "-h" => {
                    println!(
                        "flags: [--database-url URL] [--latency-ms N] [--runs N] [--short]\n\
                         default database: embedded SQLite in a temp dir"
                    );
                    std::process::exit(0);
                }
                _ => args.rest.push(arg),
            }
        }
        args
    }

    pub fn runs(&self, normal: usize) -> usize {
        self.runs.unwrap_or(if self.short { 3 } else { normal })
    }
}

fn number(value: Option<String>, flag: &str) -> u64 {
    match value.as_deref().map(str::parse) {
        Some(Ok(n)) => n,
        _ => {
            eprintln!("error: {flag} needs a number");
            std::process::exit(2);
        }
    }
}

/// How much demo data to create.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub users: usize,
    pub posts_per_user: usize,
    pub comments_per_post: usize,
    pub orders_per_user: usize,
    pub notifications_per_user: usize,
}

impl Size {
    /// Thousands of users, tens of thousands of orders (or a tenth of that with `--short`).
    pub fn realistic(short: bool) -> Size {
        Size {
            users: if short { 200 } else { 2_000 },
            posts_per_user: 5,
            comments_per_post: 3,
            orders_per_user: 10,
            notifications_per_user: 10,
        }
    }
}

/// A migrated, seeded database, and the handle the example should measure with.
pub struct Demo {
    /// What the example uses: behind the latency proxy when one was asked for.
    pub db: Db,
    /// A direct connection (seeding, setup).
    pub direct: Db,
    pub size: Size,
    pub proxy: Option<LatencyProxy>,
    _dir: Option<tempfile::TempDir>,
}

impl Demo {
    /// Connects, migrates from scratch, seeds, and registers `db` as the default database.
    pub fn setup(args: &Args, size: Size) -> duetto::Result<Demo> {
        let (url, dir) = match &args.database_url {
            Some(url) => (url.clone(), None),
            None => {
                let dir = tempfile::tempdir().map_err(duetto::Error::other)?;
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("demo.db").display());
                (url, Some(dir))
            }
        };
        let direct = Db::connect_with_blocking(ConnectOptions::new(&url).max_connections(16))?;
        direct.run(|conn| async move { Migrator::fresh(&conn).await })?;
        let started = Instant::now();
        seed(&direct, size)?;
        eprintln!(
            "seeded {} users with posts, comments, orders and notifications on {:?} in {:.1}s",
            size.users,
            direct.backend(),
            started.elapsed().as_secs_f64()
        );

        let (db, proxy) = if args.latency_ms > 0 && direct.backend() != duetto::Backend::Sqlite {
            let parsed = url::Url::parse(&url).map_err(duetto::Error::other)?;
            let default_port = match direct.backend() {
                duetto::Backend::MySql => 3306,
                _ => 5432,
            };
            let upstream = format!(
                "{}:{}",
                parsed.host_str().unwrap_or("127.0.0.1"),
                parsed.port().unwrap_or(default_port)
            );
            let proxy =
                LatencyProxy::start_blocking(&upstream, Duration::from_millis(args.latency_ms))?;
            let db = Db::connect_with_blocking(
                ConnectOptions::new(proxy.url_for(&url)?).max_connections(16),
            )?;
            eprintln!(
                "measuring through a latency proxy: +{} ms each way",
                args.latency_ms
            );
            (db, Some(proxy))
        } else {
            if args.latency_ms > 0 {
                eprintln!("--latency-ms applies to PostgreSQL/MySQL only; ignored for SQLite");
            }
            (direct.clone(), None)
        };
        duetto::set_default(db.clone());
        Ok(Demo {
            db,
            direct,
            size,
            proxy,
            _dir: dir,
        })
    }
}

/// Creates the demo rows with `bulk_create`, ids in insertion order starting at 1.
pub fn seed(db: &Db, size: Size) -> duetto::Result<()> {
    let users = (0..size.users).map(|i| user::ActiveModel {
        name: Set(format!("User {i}")),
        email: Set(format!("user{i}@example.com")),
        ..Default::default()
    });
    user::Entity::objects().using(db).bulk_create(users)?;

    let user_ids = 1..=size.users as i64;
    let posts = user_ids.clone().flat_map(|u| {
        (0..size.posts_per_user).map(move |p| post::ActiveModel {
            user_id: Set(u),
            title: Set(format!("Post {p} by user {u}")),
            body: Set("Lorem ipsum dolor sit amet.".into()),
            published: Set(p % 2 == 0),
            ..Default::default()
        })
    });
    post::Entity::objects().using(db).bulk_create(posts)?;

    let post_count = (size.users * size.posts_per_user) as i64;
    let comments = (1..=post_count).flat_map(|p| {
        (0..size.comments_per_post).map(move |c| comment::ActiveModel {
            // Comments come from other users than the author.
            user_id: Set(((p + c as i64) % size.users as i64) + 1),
            post_id: Set(p),
            body: Set(format!("Comment {c}")),
            ..Default::default()
        })
    });
    comment::Entity::objects().using(db).bulk_create(comments)?;

    let statuses = ["pending", "paid", "shipped"];
    let orders = user_ids.clone().flat_map(|u| {
        (0..size.orders_per_user).map(move |o| order::ActiveModel {
            user_id: Set(u),
            total: Set(Decimal::new(1_000 + (u * 37 + o as i64 * 101) % 90_000, 2)),
            status: Set(statuses[(u as usize + o) % 3].into()),
            ..Default::default()
        })
    });
    order::Entity::objects().using(db).bulk_create(orders)?;

    let notifications = user_ids.flat_map(|u| {
        (0..size.notifications_per_user).map(move |n| notification::ActiveModel {
            user_id: Set(u),
            message: Set(format!("Notification {n}")),
            read: Set(n % 3 == 0),
            ..Default::default()
        })
    });
    notification::Entity::objects()
        .using(db)
        .bulk_create(notifications)?;
    Ok(())
}

/// The median of `samples`.
pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Milliseconds with two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}
