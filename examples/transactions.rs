//! Transactions in both voices (Django has none in async code): an order and its notification
//! created atomically; a failure that rolls both back; a nested savepoint; `on_commit`; and
//! `select_for_update` on PostgreSQL/MySQL.
//!
//! ```text
//! cargo run --example transactions [-- --database-url URL] [--short]
//! ```

mod support;

use duetto::prelude::*;
use duetto::sea_orm::prelude::Decimal;
use duetto::sea_orm::{ColumnTrait, Set};
use duetto::Error;
use entity::{notification, order};
use support::{Args, Demo, Size};

fn place_order(user_id: i64, cents: i64) -> (order::ActiveModel, notification::ActiveModel) {
    (
        order::ActiveModel {
            user_id: Set(user_id),
            total: Set(Decimal::new(cents, 2)),
            status: Set("pending".into()),
            ..Default::default()
        },
        notification::ActiveModel {
            user_id: Set(user_id),
            message: Set(format!("Order of {} received", Decimal::new(cents, 2))),
            read: Set(false),
            ..Default::default()
        },
    )
}

fn orders_of(user_id: i64) -> QuerySet<order::Entity> {
    order::Entity::objects().filter(order::Column::UserId.eq(user_id))
}

fn main() -> duetto::Result<()> {
    let args = Args::parse();
    let demo = Demo::setup(&args, Size::realistic(true))?;
    let rt = tokio::runtime::Runtime::new().map_err(duetto::Error::other)?;

    rt.block_on(async {
        let before = orders_of(1).acount().await?;
        duetto::aatomic(async {
            let (o, n) = place_order(1, 4_200);
            order::Entity::objects().acreate(o).await?;
            notification::Entity::objects().acreate(n).await?;
            duetto::on_commit(|| println!("on_commit: e-mail the customer (runs after COMMIT)"));
            duetto::Result::Ok(())
        })
        .await?;
        println!(
            "async: order + notification committed together ({} → {} orders)",
            before,
            orders_of(1).acount().await?
        );

        let failed = duetto::aatomic(async {
            let (o, n) = place_order(1, 999);
            order::Entity::objects().acreate(o).await?;
            notification::Entity::objects().acreate(n).await?;
            duetto::on_commit(|| println!("never printed: the scope rolls back"));
            Err::<(), _>(Error::other("payment declined"))
        })
        .await;
        println!(
            "async: {:?} → rolled back, still {} orders",
            failed.err().map(|e| e.to_string()),
            orders_of(1).acount().await?
        );

        duetto::aatomic(async {
            let (o, _) = place_order(2, 100);
            order::Entity::objects().acreate(o).await?;
            let inner = duetto::aatomic(async {
                let (o, _) = place_order(2, 200);
                order::Entity::objects().acreate(o).await?;
                Err::<(), _>(Error::other("inner step failed"))
            })
            .await;
            println!(
                "nested: inner savepoint rolled back ({})",
                inner.unwrap_err()
            );
            duetto::Result::Ok(())
        })
        .await?;
        println!("nested: the outer scope kept its own order");
        Ok::<(), Error>(())
    })?;

    // The blocking voice: same semantics from sync code.
    let n = duetto::atomic(|| {
        let (o, n) = place_order(3, 1_500);
        order::Entity::objects().create(o)?;
        notification::Entity::objects().create(n)?;
        orders_of(3).count()
    })?;
    println!("blocking: committed, user 3 now has {n} orders");

    if demo.db.backend() != duetto::Backend::Sqlite {
        let paid = rt.block_on(duetto::aatomic(async {
            let oldest = orders_of(1)
                .filter(order::Column::Status.eq("pending"))
                .order_by_asc(order::Column::Id)
                .select_for_update()
                .afirst()
                .await?;
            if let Some(o) = oldest {
                let mut paid: order::ActiveModel = o.into();
                paid.status = Set("paid".into());
                paid.asave().await?;
                return Ok(true);
            }
            duetto::Result::Ok(false)
        }))?;
        println!("select_for_update: locked and paid the oldest pending order: {paid}");
    } else {
        println!("select_for_update: skipped on SQLite (no row locks; writers are serialised)");
    }
    Ok(())
}
