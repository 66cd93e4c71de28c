//! The paired query API on every backend: each terminal in both voices, Django's semantics, errors.
//!
//! This binary never calls `set_default`, so "no database" behaviour is testable here.

mod common;

use std::time::{Duration, Instant};

use common::{backends, Kind, TestDb};
use duetto::prelude::*;
use duetto::sea_orm::prelude::Decimal;
use duetto::sea_orm::sea_query::{Expr, ExprTrait};
use duetto::sea_orm::{ColumnTrait, Set};
use duetto::{agg, Error, IntegrityKind};
use entity::{notification, order, post, user};
use futures_util::TryStreamExt;

fn users(t: &TestDb) -> QuerySet<user::Entity> {
    user::Entity::objects().using(&t.db)
}

fn new_user(name: &str, email: &str) -> user::ActiveModel {
    user::ActiveModel {
        name: Set(name.to_owned()),
        email: Set(email.to_owned()),
        ..Default::default()
    }
}

/// Three users (ids 1..=3), four orders for user 1, two posts for user 2.
async fn seed(t: &TestDb) {
    let created = users(t)
        .abulk_create([
            new_user("Ada", "ada@example.com"),
            new_user("Alan", "alan@example.com"),
            new_user("Grace", "grace@example.com"),
        ])
        .await
        .unwrap();
    assert_eq!(created, 3);
    let orders = [
        ("10.50", "pending"),
        ("20.25", "paid"),
        ("5.00", "pending"),
        ("100.00", "shipped"),
    ]
    .into_iter()
    .map(|(total, status)| order::ActiveModel {
        user_id: Set(1),
        total: Set(total.parse::<Decimal>().unwrap()),
        status: Set(status.to_owned()),
        ..Default::default()
    });
    order::Entity::objects()
        .using(&t.db)
        .abulk_create(orders)
        .await
        .unwrap();
    for title in ["first", "second"] {
        post::Entity::objects()
            .using(&t.db)
            .acreate(post::ActiveModel {
                user_id: Set(2),
                title: Set(title.to_owned()),
                body: Set("…".to_owned()),
                ..Default::default()
            })
            .await
            .unwrap();
    }
}

/// Runs `f` on a thread where blocking is allowed, as sync code would.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    sync_to_async(f).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_in_both_voices_with_django_errors() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        seed(&t).await;
        let qs = users(&t);

        let ada = qs
            .aget(user::Column::Email.eq("ada@example.com"))
            .await
            .unwrap();
        assert_eq!(ada.name, "Ada");
        let q = qs.clone();
        let same = blocking(move || q.get(user::Column::Email.eq("ada@example.com"))).await;
        assert_eq!(same.unwrap(), ada);

        match qs.aget(user::Column::Name.eq("nobody")).await {
            Err(Error::DoesNotExist { model }) => assert_eq!(model, "user"),
            other => panic!("{kind:?}: {other:?}"),
        }
        match qs.aget(user::Column::Name.starts_with("A")).await {
            Err(e @ Error::MultipleObjectsReturned { count: 2, .. }) => {
                assert!(e.to_string().contains("it returned 2!"), "{e}")
            }
            other => panic!("{kind:?}: {other:?}"),
        }

        assert_eq!(qs.aget_pk(2).await.unwrap().name, "Alan");
        let q = qs.clone();
        assert_eq!(blocking(move || q.get_pk(3)).await.unwrap().name, "Grace");
        assert!(matches!(
            qs.aget_pk(99).await,
            Err(Error::DoesNotExist { .. })
        ));
        // get_pk respects the queryset's filters.
        assert!(matches!(
            qs.clone()
                .filter(user::Column::Name.eq("Ada"))
                .aget_pk(2)
                .await,
            Err(Error::DoesNotExist { .. })
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_reads_at_most_21_rows_and_says_more_than_20() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        let many = (0..30).map(|i| new_user("same", &format!("u{i}@example.com")));
        users(&t).abulk_create(many).await.unwrap();
        match users(&t).aget(user::Column::Name.eq("same")).await {
            Err(e @ Error::MultipleObjectsReturned { count: 21, .. }) => {
                assert!(e.to_string().contains("more than 20"), "{e}")
            }
            other => panic!("{kind:?}: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_last_earliest_latest() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        let qs = users(&t);
        assert_eq!(qs.afirst().await.unwrap(), None);
        assert!(matches!(
            qs.aearliest(user::Column::Name).await,
            Err(Error::DoesNotExist { .. })
        ));
        seed(&t).await;

        assert_eq!(qs.afirst().await.unwrap().unwrap().id, 1);
        assert_eq!(qs.alast().await.unwrap().unwrap().id, 3);
        let by_name_desc = qs.clone().order_by_desc(user::Column::Name);
        assert_eq!(by_name_desc.afirst().await.unwrap().unwrap().name, "Grace");
        assert_eq!(by_name_desc.alast().await.unwrap().unwrap().name, "Ada");
        assert_eq!(qs.aearliest(user::Column::Name).await.unwrap().name, "Ada");
        assert_eq!(qs.alatest(user::Column::Name).await.unwrap().name, "Grace");

        let q = qs.clone();
        let (first, last, earliest, latest) = blocking(move || {
            (
                q.first().unwrap().unwrap().id,
                q.last().unwrap().unwrap().id,
                q.earliest(user::Column::Id).unwrap().id,
                q.latest(user::Column::Id).unwrap().id,
            )
        })
        .await;
        assert_eq!((first, last, earliest, latest), (1, 3, 1, 3));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_exists_contains_list_in_bulk_values_list() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        seed(&t).await;
        let qs = users(&t);

        assert_eq!(qs.acount().await.unwrap(), 3);
        assert_eq!(qs.clone().limit(2).acount().await.unwrap(), 2);
        assert_eq!(qs.clone().offset(2).limit(5).acount().await.unwrap(), 1);
        assert_eq!(
            qs.clone()
                .exclude(user::Column::Id.eq(1))
                .acount()
                .await
                .unwrap(),
            2
        );
        assert!(qs.aexists().await.unwrap());
        assert!(!qs
            .clone()
            .filter(user::Column::Id.gt(3))
            .aexists()
            .await
            .unwrap());

        let ada = qs.aget_pk(1).await.unwrap();
        assert!(qs.acontains(&ada).await.unwrap());
        assert!(!qs
            .clone()
            .exclude(user::Column::Id.eq(1))
            .acontains(&ada)
            .await
            .unwrap());

        let listed = qs
            .clone()
            .order_by_desc(user::Column::Id)
            .alist()
            .await
            .unwrap();
        assert_eq!(listed.iter().map(|u| u.id).collect::<Vec<_>>(), [3, 2, 1]);

        let bulk = qs.ain_bulk([1, 3, 42]).await.unwrap();
        assert_eq!(bulk.len(), 2);
        assert_eq!(bulk[&3].name, "Grace");
        assert!(qs.ain_bulk(Vec::<i64>::new()).await.unwrap().is_empty());

        let pairs: Vec<(i64, String)> = qs
            .clone()
            .order_by_asc(user::Column::Id)
            .avalues_list([user::Column::Id, user::Column::Email])
            .await
            .unwrap();
        assert_eq!(pairs[1], (2, "alan@example.com".to_owned()));

        let q = qs.clone();
        let (count, exists, contains, listed, bulk, names) = blocking(move || {
            let names: Vec<String> = q
                .clone()
                .order_by_asc(user::Column::Name)
                .values_list([user::Column::Name])
                .unwrap();
            (
                q.count().unwrap(),
                q.exists().unwrap(),
                q.contains(&ada).unwrap(),
                q.list().unwrap().len(),
                q.in_bulk([2]).unwrap().len(),
                names,
            )
        })
        .await;
        assert_eq!(
            (count, exists, contains, listed, bulk),
            (3, true, true, 3, 1)
        );
        assert_eq!(names, ["Ada", "Alan", "Grace"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregates_have_the_same_types_on_every_backend() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        seed(&t).await;
        let orders = order::Entity::objects().using(&t.db);
        let (n, total, mean, lowest, top_user): (
            i64,
            Option<Decimal>,
            Option<f64>,
            Option<Decimal>,
            Option<i64>,
        ) = orders
            .aaggregate([
                agg::count(order::Column::Id),
                agg::sum(order::Column::Total),
                agg::avg(order::Column::Total),
                agg::min(order::Column::Total),
                agg::max(order::Column::UserId),
            ])
            .await
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert_eq!(n, 4, "{kind:?}");
        assert_eq!(total, Some("135.75".parse().unwrap()), "{kind:?}");
        assert!((mean.unwrap() - 33.9375).abs() < 1e-9, "{kind:?}: {mean:?}");
        assert_eq!(lowest, Some("5.00".parse().unwrap()), "{kind:?}");
        assert_eq!(top_user, Some(1), "{kind:?}");

        let (ids,): (Option<i64>,) = orders
            .aaggregate([agg::sum(order::Column::Id)])
            .await
            .unwrap();
        assert_eq!(ids, Some(10), "{kind:?}");
        let (none,): (Option<i64>,) = orders
            .clone()
            .filter(order::Column::Id.gt(100))
            .aaggregate([agg::sum(order::Column::UserId)])
            .await
            .unwrap();
        assert_eq!(none, None, "{kind:?}: SUM over no rows is NULL");

        let q = orders.clone();
        let (pending,): (i64,) = blocking(move || {
            q.filter(order::Column::Status.eq("pending"))
                .aggregate([agg::count(order::Column::Id)])
        })
        .await
        .unwrap();
        assert_eq!(pending, 2);
        assert!(matches!(
            orders
                .clone()
                .limit(1)
                .aaggregate::<(i64,)>([agg::count(order::Column::Id)])
                .await,
            Err(Error::NotSupported { .. })
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_returns_the_backends_plan() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        let qs = users(&t).filter(user::Column::Email.eq("x@example.com"));
        let plan = qs.aexplain().await.unwrap();
        assert!(!plan.trim().is_empty(), "{kind:?}");
        let q = qs.clone();
        assert_eq!(blocking(move || q.explain()).await.unwrap(), plan);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_get_or_create_update_or_create() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        let qs = users(&t);
        let linus = qs
            .acreate(new_user("Linus", "linus@example.com"))
            .await
            .unwrap();
        assert!(linus.id > 0);

        let (found, created) = qs
            .aget_or_create(
                user::Column::Email.eq("linus@example.com"),
                new_user("Other", "linus@example.com"),
            )
            .await
            .unwrap();
        assert_eq!((found.id, created), (linus.id, false));

        let q = qs.clone();
        let (made, created) = blocking(move || {
            q.get_or_create(
                user::Column::Email.eq("ken@example.com"),
                new_user("Ken", "ken@example.com"),
            )
        })
        .await
        .unwrap();
        assert!(created);
        assert_eq!(made.name, "Ken");

        let (updated, created) = qs
            .aupdate_or_create(
                user::Column::Email.eq("ken@example.com"),
                user::ActiveModel {
                    name: Set("Ken Thompson".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            (updated.id, updated.name.as_str(), created),
            (made.id, "Ken Thompson", false)
        );

        let q = qs.clone();
        let (dennis, created) = blocking(move || {
            q.update_or_create(
                user::Column::Email.eq("dmr@example.com"),
                new_user("Dennis", "dmr@example.com"),
            )
        })
        .await
        .unwrap();
        assert!(created);
        assert_eq!(qs.aget_pk(dennis.id).await.unwrap().name, "Dennis");
        assert_eq!(qs.acount().await.unwrap(), 3);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_get_or_create_make_exactly_one_row() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        let qs = users(&t);
        let calls = (0..50).map(|_| {
            qs.aget_or_create(
                user::Column::Email.eq("race@example.com"),
                new_user("Racer", "race@example.com"),
            )
        });
        let results = futures_util::future::join_all(calls).await;
        let mut ids = Vec::new();
        let mut created = 0;
        for result in results {
            let (row, was_created) = result.unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            ids.push(row.id);
            created += usize::from(was_created);
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "{kind:?}: every caller gets the same row");
        assert_eq!(created, 1, "{kind:?}: exactly one caller created it");
        assert_eq!(
            qs.clone()
                .filter(user::Column::Email.eq("race@example.com"))
                .acount()
                .await
                .unwrap(),
            1
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_delete_and_bulk_update_report_rows() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        seed(&t).await;
        let orders = order::Entity::objects().using(&t.db);

        let paid = orders
            .clone()
            .filter(order::Column::Status.eq("pending"))
            .aupdate([(order::Column::Status, Expr::value("paid"))])
            .await
            .unwrap();
        assert_eq!(paid, 2, "{kind:?}");
        // Computed in SQL, like Django's F(): total = total + 1 on every order.
        let bumped = orders
            .aupdate([(order::Column::Total, Expr::col(order::Column::Total).add(1))])
            .await
            .unwrap();
        assert_eq!(bumped, 4);

        let mut all = orders
            .clone()
            .order_by_asc(order::Column::Id)
            .alist()
            .await
            .unwrap();
        for o in &mut all {
            o.status = "shipped".into();
            o.total += Decimal::ONE;
        }
        let n = orders
            .abulk_update(all, [order::Column::Status, order::Column::Total])
            .await
            .unwrap();
        assert_eq!(n, 4, "{kind:?}");
        let totals: Vec<Decimal> = orders
            .clone()
            .order_by_asc(order::Column::Id)
            .avalues_list([order::Column::Total])
            .await
            .unwrap();
        let expected: Vec<Decimal> = ["12.50", "22.25", "7.00", "102.00"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(totals, expected, "{kind:?}");
        assert_eq!(
            orders
                .clone()
                .filter(order::Column::Status.eq("shipped"))
                .acount()
                .await
                .unwrap(),
            4
        );

        assert!(matches!(
            orders.clone().limit(1).adelete().await,
            Err(Error::NotSupported {
                operation: "delete",
                ..
            })
        ));
        let q = orders.clone();
        let deleted = blocking(move || q.filter(order::Column::Id.lte(2)).delete())
            .await
            .unwrap();
        assert_eq!(deleted, 2);
        assert_eq!(orders.acount().await.unwrap(), 2);
        let q = orders.clone();
        assert_eq!(
            blocking(move || q.update([(order::Column::UserId, Expr::value(2))]))
                .await
                .unwrap(),
            2
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_save_delete_refresh_and_follow_relations() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        seed(&t).await;
        let db = &t.db;

        let stored = new_user("Barbara", "barbara@example.com")
            .asave_using(db)
            .await
            .unwrap();
        let mut edit: user::ActiveModel = stored.clone().into();
        edit.name = Set("Barbara Liskov".into());
        let edited = edit.asave_using(db).await.unwrap();
        assert_eq!(
            (edited.id, edited.name.as_str()),
            (stored.id, "Barbara Liskov")
        );

        let mut stale = stored.clone();
        stale.arefresh_from_db_using(db).await.unwrap();
        assert_eq!(stale.name, "Barbara Liskov");

        let alan = users(&t).aget_pk(2).await.unwrap();
        let posts = alan.related::<post::Entity>().using(db);
        assert_eq!(posts.acount().await.unwrap(), 2, "{kind:?}");
        let titles: Vec<String> = posts
            .clone()
            .order_by_asc(post::Column::Id)
            .alist()
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.title)
            .collect();
        assert_eq!(titles, ["first", "second"]);
        // Writes through a joined queryset touch exactly its rows.
        assert_eq!(
            posts
                .clone()
                .filter(post::Column::Title.eq("first"))
                .aupdate([(post::Column::Published, Expr::value(true))])
                .await
                .unwrap(),
            1,
            "{kind:?}"
        );
        assert_eq!(posts.adelete().await.unwrap(), 2, "{kind:?}");
        assert_eq!(post::Entity::objects().using(db).acount().await.unwrap(), 0);

        assert_eq!(edited.adelete_using(db).await.unwrap(), 1);
        let mut gone = edited.clone();
        assert!(matches!(
            gone.arefresh_from_db_using(db).await,
            Err(Error::DoesNotExist { .. })
        ));

        let db2 = db.clone();
        let (saved, refreshed, deleted) = blocking(move || {
            let saved = new_user("Edsger", "ewd@example.com")
                .save_using(&db2)
                .unwrap();
            let mut copy = saved.clone();
            copy.name = "scribbled".into();
            copy.refresh_from_db_using(&db2).unwrap();
            (saved.clone(), copy, saved.delete_using(&db2).unwrap())
        })
        .await;
        assert_eq!(refreshed, saved);
        assert_eq!(deleted, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn constraint_violations_are_integrity_errors() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        seed(&t).await;
        match users(&t).acreate(new_user("Dup", "ada@example.com")).await {
            Err(Error::Integrity {
                kind: IntegrityKind::Unique,
                ..
            }) => {}
            other => panic!("{kind:?}: duplicate email gave {other:?}"),
        }
        let orphan = post::ActiveModel {
            user_id: Set(4242),
            title: Set("orphan".into()),
            body: Set("".into()),
            ..Default::default()
        };
        match post::Entity::objects().using(&t.db).acreate(orphan).await {
            Err(
                e @ Error::Integrity {
                    kind: IntegrityKind::ForeignKey,
                    ..
                },
            ) => {
                assert!(
                    std::error::Error::source(&e).is_some(),
                    "original error kept"
                );
            }
            other => panic!("{kind:?}: dangling foreign key gave {other:?}"),
        }
        let bad_status = order::ActiveModel {
            user_id: Set(1),
            total: Set(Decimal::ONE),
            status: Set("lost".into()),
            ..Default::default()
        };
        match order::Entity::objects()
            .using(&t.db)
            .acreate(bad_status)
            .await
        {
            Err(Error::Integrity {
                kind: IntegrityKind::Check,
                ..
            }) => {}
            other => panic!("{kind:?}: failed CHECK gave {other:?}"),
        }
        // A failed bulk insert keeps none of its rows.
        let batch = [
            new_user("New", "new@example.com"),
            new_user("Dup", "ada@example.com"),
        ];
        assert!(matches!(
            users(&t).abulk_create(batch).await,
            Err(Error::Integrity { .. })
        ));
        assert_eq!(users(&t).acount().await.unwrap(), 3, "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injection_strings_are_stored_and_matched_literally() {
    let nasty = [
        "'; DROP TABLE \"user\"; --",
        "Robert'); DROP TABLE students;--",
        "\" OR 1=1 --",
        "%_\\' OR ''='",
        "`; DELETE FROM `user`; #",
    ];
    for kind in backends() {
        let t = common::migrated(kind).await;
        for (i, name) in nasty.iter().enumerate() {
            users(&t)
                .acreate(new_user(name, &format!("n{i}@example.com")))
                .await
                .unwrap();
        }
        for name in nasty {
            let found = users(&t).aget(user::Column::Name.eq(name)).await.unwrap();
            assert_eq!(found.name, name, "{kind:?}");
        }
        assert_eq!(users(&t).acount().await.unwrap(), nasty.len() as u64);
        assert_eq!(
            users(&t)
                .filter(user::Column::Name.contains("OR 1=1"))
                .acount()
                .await
                .unwrap(),
            1
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_calls_in_a_task_are_refused_and_change_nothing() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        let qs = users(&t);
        let attempted = tokio::spawn({
            let qs = qs.clone();
            async move {
                (
                    qs.create(new_user("Sneaky", "sneaky@example.com")),
                    qs.count(),
                    qs.bulk_create([new_user("B", "b@example.com")]),
                )
            }
        })
        .await
        .unwrap();
        match attempted.0 {
            Err(Error::SynchronousOnlyOperation {
                operation: "create",
            }) => {}
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            attempted.1,
            Err(Error::SynchronousOnlyOperation { operation: "count" })
        ));
        assert!(matches!(
            attempted.2,
            Err(Error::SynchronousOnlyOperation {
                operation: "bulk_create"
            })
        ));
        assert_eq!(
            qs.acount().await.unwrap(),
            0,
            "{kind:?}: nothing was written"
        );

        let mut iter = qs.iterator(10);
        assert!(matches!(
            iter.next(),
            Some(Err(Error::SynchronousOnlyOperation { .. }))
        ));
        assert!(iter.next().is_none());
    }
}

#[tokio::test]
async fn without_a_database_calls_say_so() {
    match user::Entity::objects().acount().await {
        Err(Error::NoDatabase { alias }) => assert_eq!(alias, "default"),
        other => panic!("{other:?}"),
    }
    match user::Entity::objects().using("analytics").alist().await {
        Err(Error::NoDatabase { alias }) => assert_eq!(alias, "analytics"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_create_chunks_under_the_bind_limit_and_iterator_streams_in_pk_order() {
    const ROWS: usize = 200_000;
    for kind in backends() {
        let t = common::migrated(kind).await;
        users(&t)
            .acreate(new_user("owner", "owner@example.com"))
            .await
            .unwrap();
        let notifications = notification::Entity::objects().using(&t.db);
        assert_eq!(
            notifications
                .abulk_create(Vec::<notification::ActiveModel>::new())
                .await
                .unwrap(),
            0
        );
        // 100,000 rows × 3 parameters is far past every backend's bind limit in one statement.
        for half in 0..2 {
            let rows = (0..ROWS / 2).map(|i| notification::ActiveModel {
                user_id: Set(1),
                message: Set(format!("message {}", half * ROWS / 2 + i)),
                read: Set(i % 2 == 0),
                ..Default::default()
            });
            let started = Instant::now();
            let n = notifications.abulk_create(rows).await.unwrap();
            assert_eq!(n, (ROWS / 2) as u64, "{kind:?}");
            eprintln!(
                "{kind:?}: bulk_create 100,000 rows in {:?}",
                started.elapsed()
            );
        }

        let mut stream = notifications.aiterator(1000);
        let mut seen = 0usize;
        let mut last_id = 0;
        while let Some(row) = stream.try_next().await.unwrap() {
            assert!(row.id > last_id, "{kind:?}: not in pk order at {}", row.id);
            last_id = row.id;
            seen += 1;
        }
        assert_eq!(seen, ROWS, "{kind:?}");

        // The blocking twin is a real Iterator over the same rows.
        let q = notifications
            .clone()
            .filter(notification::Column::Read.eq(true));
        let (count, ordered) = blocking(move || {
            let mut last = 0;
            let mut ordered = true;
            let mut count = 0;
            for row in q.iterator(5000) {
                let row = row.unwrap();
                ordered &= row.id > last;
                last = row.id;
                count += 1;
            }
            (count, ordered)
        })
        .await;
        assert_eq!((count, ordered), (ROWS / 2, true), "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iterator_rejects_a_zero_chunk_and_stops_early_without_leaking_connections() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        seed(&t).await;
        let mut zero = users(&t).aiterator(0);
        assert!(matches!(
            zero.try_next().await,
            Err(Error::NotSupported { .. })
        ));

        // Abandon many half-read streams; the pool must get every connection back.
        for _ in 0..30 {
            let mut stream = users(&t).aiterator(1);
            assert!(stream.try_next().await.unwrap().is_some());
        }
        let counted = tokio::time::timeout(Duration::from_secs(10), users(&t).acount())
            .await
            .expect("pool exhausted by abandoned streams");
        assert_eq!(counted.unwrap(), 3);
    }
}

/// `try_join!` over three duetto futures runs them on three pooled connections at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn independent_queries_run_concurrently() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        seed(&t).await;
        match kind {
            Kind::Postgres | Kind::Mysql => {
                let sleepy = match kind {
                    Kind::Postgres => "pg_sleep(0.2) IS NOT NULL",
                    _ => "SLEEP(0.2) = 0",
                };
                let qs = users(&t)
                    .filter(user::Column::Id.eq(1))
                    .filter(Expr::cust(sleepy));
                qs.acount().await.unwrap(); // warm the pool up to one connection
                let started = Instant::now();
                let (a, b, c) = tokio::try_join!(qs.acount(), qs.aexists(), qs.alist()).unwrap();
                let took = started.elapsed();
                assert_eq!((a, b, c.len()), (1, true, 1));
                assert!(
                    took < Duration::from_millis(450),
                    "{kind:?}: three 200 ms queries took {took:?}; they ran one after another"
                );
            }
            Kind::Sqlite => {
                // A reader holds one connection mid-stream; three more reads still complete at
                // the same time on other pooled connections (WAL lets readers share the file).
                let mut reading = users(&t).aiterator(1);
                assert!(reading.try_next().await.unwrap().is_some());
                let qs = users(&t);
                let (a, b, c) = tokio::time::timeout(Duration::from_secs(10), async {
                    tokio::try_join!(qs.acount(), qs.aexists(), qs.alist())
                })
                .await
                .expect("reads waited for the open stream")
                .unwrap();
                assert_eq!((a, b, c.len()), (3, true, 3));
                assert!(reading.try_next().await.unwrap().is_some());
            }
        }
    }
}

/// `SqliteDecimal` reads what each backend keeps in a `NUMERIC(10, 2)` column (on SQLite: the
/// INTEGER 5 for 5.00, the REAL 12.5 for 12.50), binds as a decimal, and keeps NULL distinct.
#[test]
fn sqlite_decimal_reads_numeric_columns_on_every_backend() {
    use duetto::sea_orm::{ConnectionTrait, Statement};
    use duetto::SqliteDecimal;

    for kind in backends() {
        let t = common::empty_blocking(kind);
        let rows =
            t.db.run(move |conn| async move {
                conn.execute_unprepared(
                    "CREATE TABLE price (id INTEGER PRIMARY KEY, amount NUMERIC(10, 2))",
                )
                .await?;
                conn.execute_unprepared(
                    "INSERT INTO price VALUES (1, 5.00), (2, 12.50), (3, NULL)",
                )
                .await?;
                let backend = conn.get_database_backend();
                let wanted = SqliteDecimal::from(Decimal::new(1250, 2));
                let filtered = conn
                    .query_all_raw(Statement::from_sql_and_values(
                        backend,
                        match backend {
                            duetto::Backend::Postgres => "SELECT id FROM price WHERE amount = $1",
                            _ => "SELECT id FROM price WHERE amount = ?",
                        },
                        [wanted.into()],
                    ))
                    .await?;
                assert_eq!(
                    filtered.len(),
                    1,
                    "{}: filter on a SqliteDecimal",
                    kind.name()
                );
                conn.query_all_raw(Statement::from_string(
                    backend,
                    "SELECT amount FROM price ORDER BY id",
                ))
                .await
            })
            .unwrap();
        let amounts: Vec<Option<SqliteDecimal>> = rows
            .iter()
            .map(|row| row.try_get("", "amount").unwrap())
            .collect();
        assert_eq!(
            amounts,
            [
                Some(Decimal::new(5, 0).into()),
                Some(Decimal::new(125, 1).into()),
                None
            ],
            "{}",
            kind.name()
        );
    }
}
