//! Quickstart: connect from plain sync code (no runtime to set up), migrate, insert a few rows and
//! read them back with the blocking voice; then the same queries with the async voice.
//!
//! ```text
//! cargo run --example quickstart                                        # in-memory SQLite
//! cargo run --example quickstart -- postgres://postgres@127.0.0.1/test
//! ```

use duetto::prelude::*;
use duetto::sea_orm::{ColumnTrait, Set};
use entity::user;
use migration::{Migrator, MigratorTrait};

fn main() -> duetto::Result<()> {
    let url = std::env::args()
        .nth(1)
        .filter(|a| !a.starts_with("--"))
        .unwrap_or_else(|| "sqlite::memory:".to_owned());

    let db = Db::connect_blocking(&url)?;
    db.run(|conn| async move { Migrator::fresh(&conn).await })?;
    duetto::set_default(db);

    // The blocking voice, from a plain `fn main`.
    let users = user::Entity::objects();
    for (name, email) in [
        ("Ada Lovelace", "ada@example.com"),
        ("Alan Turing", "alan@example.com"),
        ("Grace Hopper", "grace@example.com"),
    ] {
        users.create(user::ActiveModel {
            name: Set(name.into()),
            email: Set(email.into()),
            ..Default::default()
        })?;
    }
    for u in users.clone().order_by_asc(user::Column::Name).list()? {
        println!("{:<3} {:<14} {}", u.id, u.name, u.email);
    }

    // The async voice: the same queryset, awaited.
    let (count, grace) = async_to_sync(async move {
        tokio::try_join!(
            users.acount(),
            users.aget(user::Column::Email.eq("grace@example.com"))
        )
    })??;
    println!("{count} users; found {} by email", grace.name);
    Ok(())
}
