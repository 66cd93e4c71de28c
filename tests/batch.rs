//! Batches of reads (`abatch` / `batch`) on every backend: the same answers as the reads run one
//! by one, for every column type of the demo schema, injection-proof, inside transaction and
//! request scopes, and clear errors for what cannot be batched.

mod common;

use std::time::Duration;

use common::{backends, TestDb};
use duetto::prelude::*;
use duetto::sea_orm::prelude::Decimal;
use duetto::sea_orm::{ColumnTrait, Set};
use duetto::Error;
use entity::{notification, order, user};

fn users(t: &TestDb) -> QuerySet<user::Entity> {
    user::Entity::objects().using(&t.db)
}

fn orders(t: &TestDb) -> QuerySet<order::Entity> {
    order::Entity::objects().using(&t.db)
}

fn new_user(name: &str) -> user::ActiveModel {
    user::ActiveModel {
        name: Set(name.to_owned()),
        email: Set(format!(
            "{}@example.com",
            name.replace(|c: char| !c.is_alphanumeric(), "_")
        )),
        ..Default::default()
    }
}

/// Users with awkward names (quotes, backslashes, statement separators, non-ASCII), orders with
/// decimals and statuses, notifications with booleans.
async fn seed(t: &TestDb) {
    let names = [
        "Ada",
        "O'Brien",
        r"back\slash",
        "semi; DROP TABLE user; --",
        "Zoë ✓",
        "tab\tand\nnewline",
    ];
    users(t)
        .abulk_create(names.iter().map(|name| new_user(name)))
        .await
        .unwrap();
    let rows = [
        ("10.50", "pending"),
        ("20.25", "paid"),
        ("0.01", "pending"),
        ("99999.99", "shipped"),
    ];
    orders(t)
        .abulk_create(rows.into_iter().map(|(total, status)| order::ActiveModel {
            user_id: Set(1),
            total: Set(total.parse::<Decimal>().unwrap()),
            status: Set(status.to_owned()),
            ..Default::default()
        }))
        .await
        .unwrap();
    notification::Entity::objects()
        .using(&t.db)
        .abulk_create(
            [true, false, false]
                .into_iter()
                .map(|read| notification::ActiveModel {
                    user_id: Set(2),
                    message: Set(format!("read={read}")),
                    read: Set(read),
                    ..Default::default()
                }),
        )
        .await
        .unwrap();
}

async fn watchdog<T>(what: &str, body: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), body)
        .await
        .unwrap_or_else(|_| panic!("watchdog: {what} did not finish in 30 s"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_answers_exactly_what_the_reads_answer_one_by_one() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        seed(&t).await;
        let pending = orders(&t).filter(order::Column::Status.eq("pending"));
        let recent = orders(&t).order_by_desc(order::Column::Id).limit(3);
        let unread = notification::Entity::objects()
            .using(&t.db)
            .filter(notification::Column::Read.eq(false));
        let quoted = users(&t).filter(user::Column::Name.eq("O'Brien"));
        let sneaky = users(&t).filter(user::Column::Name.eq("semi; DROP TABLE user; --"));
        let all_users = users(&t).order_by_asc(user::Column::Id);

        let batched = watchdog(
            "batch",
            duetto::abatch((
                all_users.batch_list(),
                quoted.batch_first(),
                sneaky.batch_first(),
                pending.batch_count(),
                recent.batch_list(),
                unread.batch_list(),
                users(&t)
                    .filter(user::Column::Name.eq("nobody"))
                    .batch_exists(),
                orders(&t)
                    .filter(order::Column::Total.gt(Decimal::new(1000, 0)))
                    .batch_first(),
            )),
        )
        .await
        .unwrap_or_else(|e| panic!("{kind:?}: {e}"));

        let one_by_one = (
            all_users.alist().await.unwrap(),
            quoted.afirst().await.unwrap(),
            sneaky.afirst().await.unwrap(),
            pending.acount().await.unwrap(),
            recent.alist().await.unwrap(),
            unread.alist().await.unwrap(),
            users(&t)
                .filter(user::Column::Name.eq("nobody"))
                .aexists()
                .await
                .unwrap(),
            orders(&t)
                .filter(order::Column::Total.gt(Decimal::new(1000, 0)))
                .afirst()
                .await
                .unwrap(),
        );
        assert_eq!(batched, one_by_one, "{kind:?}");
        // The awkward strings survived the round trip as data, and nothing was dropped.
        assert_eq!(batched.0.len(), 6, "{kind:?}");
        assert_eq!(
            batched.2.map(|u| u.name),
            Some("semi; DROP TABLE user; --".to_owned())
        );
        assert_eq!(batched.3, 2);
        assert_eq!(
            batched.7.map(|o| o.total),
            Some("99999.99".parse().unwrap())
        );

        // A Vec of reads of one type; and the blocking twin on a plain thread.
        let counts = duetto::abatch(vec![users(&t).batch_count(), pending.batch_count()])
            .await
            .unwrap();
        assert_eq!(counts, vec![6, 2], "{kind:?}");
        let (blocking_users, blocking_count) = sync_to_async({
            let (all_users, pending) = (all_users.clone(), pending.clone());
            move || duetto::batch((all_users.batch_list(), pending.batch_count()))
        })
        .await
        .unwrap();
        assert_eq!(
            (blocking_users, blocking_count),
            (one_by_one.0.clone(), 2),
            "{kind:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_joins_the_transaction_and_the_request_scope() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        let result: duetto::Result<()> =
            t.db.aatomic(async {
                users(&t).acreate(new_user("uncommitted")).await?;
                // Inside the scope the batch sees the scope's own uncommitted row.
                let (n, first) =
                    duetto::abatch((users(&t).batch_count(), users(&t).batch_first())).await?;
                assert_eq!(n, 1, "{kind:?}");
                assert_eq!(first.map(|u| u.name), Some("uncommitted".to_owned()));
                Err(Error::other(std::io::Error::other("roll back")))
            })
            .await;
        assert!(result.is_err());
        assert_eq!(
            users(&t).acount().await.unwrap(),
            0,
            "{kind:?}: rolled back"
        );

        let n = duetto::arequest_scope(async {
            users(&t).acreate(new_user("kept")).await?;
            let (n,) = duetto::abatch((users(&t).batch_count(),)).await?;
            duetto::Result::<u64>::Ok(n)
        })
        .await
        .unwrap();
        assert_eq!(n, 1, "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_cannot_be_batched_is_a_clear_error() {
    let t = common::migrated(common::Kind::Sqlite).await;
    let other = common::migrated(common::Kind::Sqlite).await;
    let mixed = duetto::abatch((users(&t).batch_count(), users(&other).batch_count())).await;
    assert!(
        matches!(
            mixed,
            Err(Error::NotSupported {
                operation: "batch",
                ..
            })
        ),
        "{mixed:?}"
    );
    let empty: Vec<u64> = duetto::abatch(Vec::<duetto::BatchRead<u64>>::new())
        .await
        .unwrap();
    assert!(empty.is_empty());
    // A failing read fails the whole batch with the database's error.
    let broken = duetto::abatch((
        users(&t).batch_count(),
        users(&t)
            .filter(duetto::sea_orm::sea_query::Expr::cust("no_such_column = 1"))
            .batch_count(),
    ))
    .await;
    assert!(matches!(broken, Err(Error::Db(_))), "{broken:?}");
}

/// Batched values stay data whatever the server's string settings: MySQL sessions with
/// `NO_BACKSLASH_ESCAPES` (where a backslash escapes nothing) read hostile strings as strings too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_values_cannot_escape_their_literal_under_any_sql_mode() {
    use duetto::sea_orm::Statement;
    let hostile = [
        r"\' OR 1=1 -- ",
        r"back\slash",
        "quote ' inside",
        r#"double " and \" mixed"#,
        "",
        "NUL-free ✓ ünïcödé",
    ];
    for kind in backends() {
        let t = common::migrated(kind).await;
        users(&t)
            .abulk_create(
                hostile
                    .iter()
                    .enumerate()
                    .map(|(i, name)| user::ActiveModel {
                        name: Set((*name).to_owned()),
                        email: Set(format!("h{i}@example.com")),
                        ..Default::default()
                    }),
            )
            .await
            .unwrap();
        let mut options = duetto::ConnectOptions::new(&t.url);
        if kind == common::Kind::Mysql {
            options = options.warm_up(Statement::from_string(
                kind.backend(),
                "SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',NO_BACKSLASH_ESCAPES')",
            ));
        }
        let db = duetto::Db::connect_with(options).await.unwrap();
        let reads: Vec<_> = hostile
            .iter()
            .map(|name| {
                user::Entity::objects()
                    .using(&db)
                    .filter(user::Column::Name.eq(*name))
                    .batch_count()
            })
            .collect();
        let counts = watchdog("hostile batch", duetto::abatch(reads))
            .await
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert_eq!(
            counts,
            vec![1; hostile.len()],
            "{kind:?}: each name matches its own row"
        );
        let everyone = duetto::abatch((user::Entity::objects().using(&db).batch_count(),))
            .await
            .unwrap()
            .0;
        assert_eq!(
            everyone,
            hostile.len() as u64,
            "{kind:?}: nothing was injected"
        );
    }
}
