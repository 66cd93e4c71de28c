//! Migrations for duetto's demo domain (the dashboard of the seed article): users, their posts,
//! comments, orders and notifications, and tags on posts (many-to-many through `post_tag`).
//!
//! Run them from code with `migration::Migrator::up(&conn, None)`, or from the shell with
//! `cargo run -p migration -- up|down|status|fresh -u DATABASE_URL`.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_demo_domain;
mod m20261125_000002_create_tags;

/// Every migration of the demo domain, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_demo_domain::Migration),
            Box::new(m20261125_000002_create_tags::Migration),
        ]
    }
}
