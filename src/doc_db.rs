//! Support for the runnable examples in the API docs: a default in-memory SQLite database holding
//! the demo domain — three users; four posts (three by Ada, one by Alan), each with comments;
//! tags on two of them. Not part of the public API.

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
    ('Ada Lovelace', 'ada@example.com', '2026-01-01T10:00:00+00:00'),
    ('Alan Turing', 'alan@example.com', '2026-01-02T10:00:00+00:00'),
    ('Grace Hopper', 'grace@example.com', '2026-01-03T10:00:00+00:00');
CREATE TABLE post (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    published INTEGER NOT NULL,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO post (user_id, title, body, published, created_at) VALUES
    (1, 'Notes on the Engine', '', 1, '2026-02-01T10:00:00+00:00'),
    (1, 'On Bernoulli numbers', '', 1, '2026-02-02T10:00:00+00:00'),
    (1, 'Draft', '', 0, '2026-02-03T10:00:00+00:00'),
    (2, 'Computable numbers', '', 1, '2026-02-04T10:00:00+00:00');
CREATE TABLE comment (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
    post_id INTEGER NOT NULL REFERENCES post (id) ON DELETE CASCADE,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO comment (user_id, post_id, body, created_at) VALUES
    (2, 1, 'Marvellous', '2026-03-01T10:00:00+00:00'),
    (3, 1, 'Can it compile?', '2026-03-02T10:00:00+00:00'),
    (1, 4, 'Indeed', '2026-03-03T10:00:00+00:00');
CREATE TABLE tag (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE);
INSERT INTO tag (name) VALUES ('math'), ('machines');
CREATE TABLE post_tag (
    post_id INTEGER NOT NULL REFERENCES post (id) ON DELETE CASCADE,
    tag_id INTEGER NOT NULL REFERENCES tag (id) ON DELETE CASCADE,
    PRIMARY KEY (post_id, tag_id)
);
INSERT INTO post_tag (post_id, tag_id) VALUES (1, 2), (2, 1), (4, 1), (4, 2);
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
