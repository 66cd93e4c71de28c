//! `cargo run -p migration -- up|down|status|fresh|refresh|reset [-u DATABASE_URL]`
//! (sea-orm-migration's CLI; the URL may also come from `DATABASE_URL`).

use sea_orm_migration::prelude::*;

#[tokio::main]
async fn main() {
    cli::run_cli(migration::Migrator).await;
}
