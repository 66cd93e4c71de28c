//! Quickstart: connect to embedded SQLite from plain sync code (no runtime to set up), migrate,
//! insert a few rows and print them; then read them again through the async voice.
//!
//! ```text
//! cargo run --example quickstart                                        # in-memory SQLite
//! cargo run --example quickstart -- postgres://postgres@127.0.0.1/test
//! cargo run --example quickstart -- mysql://root@127.0.0.1/test
//! ```

use duetto::prelude::*;
use entity::user;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, QueryOrder, Set};

fn main() -> duetto::Result<()> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "sqlite::memory:".to_owned());

    // The blocking voice, from a plain `fn main`.
    let db = Db::connect_blocking(&url)?;
    println!("connected to {} ({:?})", db.url(), db.backend());
    db.run(|conn| async move { Migrator::fresh(&conn).await })?;

    let people = [
        ("Ada Lovelace", "ada@example.com"),
        ("Alan Turing", "alan@example.com"),
        ("Grace Hopper", "grace@example.com"),
    ];
    for (name, email) in people {
        let row = user::ActiveModel {
            name: Set(name.to_owned()),
            email: Set(email.to_owned()),
            ..Default::default()
        };
        db.run(|conn| async move { row.insert(&conn).await })?;
    }

    let users = db.run(|conn| async move {
        user::Entity::find()
            .order_by_asc(user::Column::Id)
            .all(&conn)
            .await
    })?;
    println!("{:<4} {:<14} email", "id", "name");
    for u in &users {
        println!("{:<4} {:<14} {}", u.id, u.name, u.email);
    }

    // The async voice, from async code driven by the bridge.
    let count = async_to_sync(async move {
        db.arun(|conn| async move { user::Entity::find().count(&conn).await })
            .await
    })??;
    println!("{count} users");
    Ok(())
}
