//! One failing or slow query must not sink the others (asyncio's `gather(...,
//! return_exceptions=True)` in Rust terms): run them together with `tokio::join!` (not
//! `try_join!`), give the slow one a timeout, and answer with what succeeded.
//!
//! ```text
//! cargo run --example error_handling [-- --database-url URL] [--short]
//! ```

mod support;

use std::time::Duration;

use duetto::prelude::*;
use duetto::sea_orm::ColumnTrait;
use entity::{order, user};
use support::{Args, Demo, Size};

/// A query that takes a while: counts with a sleep on the side (a stand-in for a slow report).
async fn slow_report(user_id: i64) -> duetto::Result<u64> {
    tokio::time::sleep(Duration::from_millis(500)).await;
    order::Entity::objects()
        .filter(order::Column::UserId.eq(user_id))
        .acount()
        .await
}

fn main() -> duetto::Result<()> {
    let args = Args::parse();
    let _demo = Demo::setup(&args, Size::realistic(true))?;
    let rt = tokio::runtime::Runtime::new().map_err(duetto::Error::other)?;
    rt.block_on(async {
        let (user, missing, slow, orders) = tokio::join!(
            user::Entity::objects().aget_pk(1),
            user::Entity::objects().aget_pk(9_999_999),
            tokio::time::timeout(Duration::from_millis(100), slow_report(1)),
            order::Entity::objects()
                .filter(order::Column::UserId.eq(1))
                .acount(),
        );
        let report = |name: &str, outcome: Result<String, String>| match outcome {
            Ok(value) => println!("  ok    {name:<16} {value}"),
            Err(error) => println!("  error {name:<16} {error}"),
        };
        report("user", user.map(|u| u.name).map_err(|e| e.to_string()));
        report(
            "missing user",
            missing.map(|u| u.name).map_err(|e| e.to_string()),
        );
        report(
            "slow report",
            match slow {
                Ok(Ok(n)) => Ok(n.to_string()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("timed out after 100 ms; showing the fallback".into()),
            },
        );
        report(
            "orders",
            orders.map(|n| n.to_string()).map_err(|e| e.to_string()),
        );
        println!("every query answered; the failures did not cancel the others");
    });
    Ok(())
}
