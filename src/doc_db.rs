//! Support for the runnable examples in the API docs: a default in-memory SQLite database holding
//! the demo `user` table with three users. Not part of the public API.

use std::future::Future;

use sea_orm::ConnectionTrait;

use crate::{Db, Result};

const SCHEMA: &str = r#"
CREATE TABLE "user" (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO "user" (name, email, created_at) VALUES
    ('Ada Lovelace', 'ada@example.com', '2026-01-01 10:00:00+00:00'),
    ('Alan Turing', 'alan@example.com', '2026-01-02 10:00:00+00:00'),
    ('Grace Hopper', 'grace@example.com', '2026-01-03 10:00:00+00:00');
"#;

fn install() -> Result<()> {
    let db = Db::connect_blocking("sqlite::memory:")?;
    db.run(|conn| async move { conn.execute_unprepared(SCHEMA).await })?;
    crate::set_default(db);
    Ok(())
}

/// Sets up the database, then runs `body` as async code on a fresh runtime.
pub fn with_users<F, Fut>(body: F)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<()>>,
{
    install().expect("doc database");
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(body())
        .expect("example");
}

/// Sets up the database, then runs `body` as plain sync code.
pub fn with_users_blocking(body: impl FnOnce() -> Result<()>) {
    install().expect("doc database");
    body().expect("example");
}
