//! Query shapes on every backend, in both voices: raw SQL that joins the scope, pagination
//! (numbered and keyset), `none()`, `reverse()`, `select_for_update_of`.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::faults::watchdog;
use common::Kind;
use duetto::observe::acapture_queries;
use duetto::prelude::*;
use duetto::sea_orm::{ColumnTrait, FromQueryResult, Set};
use entity::{post, user};
use futures_util::TryStreamExt;

fn new_user(i: usize) -> user::ActiveModel {
    user::ActiveModel {
        name: Set(format!("User {i:03}")),
        email: Set(format!("u{i}@example.com")),
        created_at: Set(chrono::Utc::now().into()),
        ..Default::default()
    }
}

async fn seed(db: &Db, n: usize) {
    user::Entity::objects()
        .using(db)
        .abulk_create((0..n).map(new_user))
        .await
        .unwrap();
}

/// The placeholder for the `n`th value (from 1) on `kind`.
fn p(kind: Kind, n: usize) -> String {
    match kind {
        Kind::Postgres => format!("${n}"),
        _ => "?".into(),
    }
}

fn user_table(kind: Kind) -> &'static str {
    match kind {
        Kind::Mysql => "`user`",
        _ => "\"user\"",
    }
}

#[derive(Debug, FromQueryResult, PartialEq)]
struct NameCount {
    name: String,
    n: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_sql_joins_the_scope_and_rolls_back_with_it() {
    watchdog(120, "raw sql", async {
        for kind in common::backends() {
            let t = common::migrated(kind).await;
            seed(&t.db, 2).await;
            let insert = format!(
                "INSERT INTO {} (name, email, created_at) VALUES ({}, {}, {})",
                user_table(kind),
                p(kind, 1),
                p(kind, 2),
                p(kind, 3)
            );
            let db = t.db.clone();
            // Inside a scope that fails: the raw insert is rolled back with it.
            let failed = db
                .aatomic(async {
                    let n = db
                        .raw_sql(
                            insert.clone(),
                            [
                                duetto::sea_orm::Value::from("Raw"),
                                "raw@example.com".into(),
                                duetto::sea_orm::Value::from(chrono::Utc::now()),
                            ],
                        )
                        .aexecute()
                        .await?;
                    assert_eq!(n, 1);
                    // The scope sees its own row.
                    let inside = user::Entity::objects().using(&db).acount().await?;
                    assert_eq!(inside, 3);
                    Err::<(), _>(duetto::Error::other("roll back"))
                })
                .await;
            assert!(failed.is_err());
            assert_eq!(
                user::Entity::objects().using(&t.db).acount().await.unwrap(),
                2,
                "{}: the raw insert rolled back with its scope",
                kind.name()
            );

            // Rows into a struct.
            let select = format!(
                "SELECT name, COUNT(*) AS n FROM {} WHERE email LIKE {} GROUP BY name ORDER BY name",
                user_table(kind),
                p(kind, 1)
            );
            let rows: Vec<NameCount> = duetto::raw(select.clone(), ["%@example.com"])
                .using(&t.db)
                .afetch_as()
                .await
                .unwrap();
            assert_eq!(rows.len(), 2);
            assert_eq!(rows[0], NameCount { name: "User 000".into(), n: 1 });

            // `arun` refuses inside a scope instead of committing outside it.
            let db = t.db.clone();
            let refused = db
                .aatomic(async {
                    db.arun(|conn| async move {
                        use duetto::sea_orm::ConnectionTrait;
                        conn.execute_unprepared("SELECT 1").await
                    })
                    .await
                })
                .await
                .unwrap_err();
            assert!(
                matches!(refused, duetto::Error::NotSupported { operation: "arun", .. }),
                "{refused}"
            );

            // The blocking voice, inside a blocking scope that rolls back.
            let db = t.db.clone();
            let insert = insert.clone();
            tokio::task::spawn_blocking(move || {
                let _ = db.atomic(|| {
                    db.raw_sql(
                        insert,
                        [
                            duetto::sea_orm::Value::from("Raw"),
                            "raw2@example.com".into(),
                            duetto::sea_orm::Value::from(chrono::Utc::now()),
                        ],
                    )
                    .execute()?;
                    Err::<(), _>(duetto::Error::other("roll back"))
                });
                let rows: Vec<NameCount> =
                    duetto::raw(select, ["%@example.com"]).using(&db).fetch_as().unwrap();
                assert_eq!(rows.len(), 2);
            })
            .await
            .unwrap();
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbered_pages_cover_every_row_and_refuse_pages_that_do_not_exist() {
    watchdog(120, "paginator", async {
        for kind in common::backends() {
            let t = common::migrated(kind).await;
            seed(&t.db, 23).await;
            let pages = user::Entity::objects().using(&t.db).paginator(5).unwrap();
            let mut seen = Vec::new();
            for number in 1..=5 {
                let page = pages.apage(number).await.unwrap();
                assert_eq!((page.count, page.num_pages, page.number), (23, 5, number));
                assert_eq!(page.has_next(), number < 5);
                seen.extend(page.items.into_iter().map(|u| u.id));
            }
            assert_eq!(seen.len(), 23);
            assert!(
                seen.windows(2).all(|w| w[0] < w[1]),
                "ordered by pk, no overlap"
            );
            for bad in [0, 6] {
                assert!(
                    matches!(
                        pages.apage(bad).await,
                        Err(duetto::Error::InvalidPage { page, num_pages: 5 }) if page == bad
                    ),
                    "{}",
                    kind.name()
                );
            }
            let empty = user::Entity::objects()
                .using(&t.db)
                .filter(user::Column::Id.lt(0))
                .paginator(5)
                .unwrap()
                .apage(1)
                .await
                .unwrap();
            assert_eq!((empty.items.len(), empty.num_pages), (0, 1));
            assert!(user::Entity::objects().paginator(0).is_err());
            assert!(user::Entity::objects().limit(3).paginator(2).is_err());

            let db = t.db.clone();
            let blocking = tokio::task::spawn_blocking(move || {
                user::Entity::objects()
                    .using(&db)
                    .paginator(5)
                    .unwrap()
                    .page(5)
                    .unwrap()
            })
            .await
            .unwrap();
            assert_eq!(blocking.items.len(), 3);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyset_pages_return_every_row_exactly_once_while_rows_are_inserted() {
    watchdog(180, "keyset", async {
        for kind in common::backends() {
            let t = common::migrated(kind).await;
            seed(&t.db, 60).await;
            let before: HashSet<i64> = user::Entity::objects()
                .using(&t.db)
                .avalues_list::<i64>(Some(user::Column::Id))
                .await
                .unwrap()
                .into_iter()
                .collect();
            // Newest first by name (not unique on its own: the key adds the primary key).
            let pages = user::Entity::objects()
                .using(&t.db)
                .keyset(7)
                .unwrap()
                .by_desc(user::Column::Name);
            // Another task keeps inserting rows that sort before and after the pages read.
            let stop = Arc::new(AtomicBool::new(false));
            let writer = {
                let (db, stop) = (t.db.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut i = 1000;
                    while !stop.load(Ordering::Relaxed) {
                        let mut model = new_user(i);
                        model.name = Set(if i % 2 == 0 {
                            "A new".into()
                        } else {
                            "Z new".into()
                        });
                        user::Entity::objects()
                            .using(&db)
                            .acreate(model)
                            .await
                            .unwrap();
                        i += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                    }
                })
            };
            let mut seen = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let page = pages.apage(cursor.as_deref()).await.unwrap();
                seen.extend(page.items.iter().map(|u| u.id));
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            stop.store(true, Ordering::Relaxed);
            writer.await.unwrap();
            let unique: HashSet<i64> = seen.iter().copied().collect();
            assert_eq!(
                unique.len(),
                seen.len(),
                "{}: a row came twice",
                kind.name()
            );
            assert!(
                before.is_subset(&unique),
                "{}: every row present from the start was returned",
                kind.name()
            );

            // Bad cursors are errors, not panics or wrong pages.
            for bad in ["", "k1.zz", "k1.5b5d", "other", "k1.5b2231225d"] {
                assert!(
                    matches!(
                        pages.apage(Some(bad)).await,
                        Err(duetto::Error::InvalidCursor { .. })
                    ),
                    "{}: {bad:?}",
                    kind.name()
                );
            }
            assert!(user::Entity::objects()
                .order_by_asc(user::Column::Name)
                .keyset(5)
                .is_err());
            assert!(user::Entity::objects().keyset(0).is_err());
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn none_sends_no_statement_and_reverse_flips_the_order() {
    watchdog(120, "none and reverse", async {
        for kind in common::backends() {
            let t = common::migrated(kind).await;
            seed(&t.db, 3).await;
            let nothing = user::Entity::objects().using(&t.db).none();
            let ((), captured) = acapture_queries(async {
                assert_eq!(nothing.acount().await.unwrap(), 0);
                assert!(nothing.alist().await.unwrap().is_empty());
                assert!(!nothing.aexists().await.unwrap());
                assert!(nothing.afirst().await.unwrap().is_none());
                assert!(matches!(
                    nothing.aget_pk(1).await,
                    Err(duetto::Error::DoesNotExist { .. })
                ));
                assert_eq!(nothing.adelete().await.unwrap(), 0);
                assert_eq!(
                    nothing
                        .aupdate([(user::Column::Name, "x".into())])
                        .await
                        .unwrap(),
                    0
                );
                let streamed: Vec<user::Model> = nothing.aiterator(10).try_collect().await.unwrap();
                assert!(streamed.is_empty());
                let with_posts = nothing
                    .prefetch(duetto::prefetch::many::<post::Entity>())
                    .alist()
                    .await
                    .unwrap();
                assert!(with_posts.is_empty());
            })
            .await;
            assert_eq!(captured.len(), 0, "{}:\n{captured}", kind.name());
            assert_eq!(
                user::Entity::objects().using(&t.db).acount().await.unwrap(),
                3
            );
            // Creating through it still creates.
            nothing.acreate(new_user(9)).await.unwrap();
            assert_eq!(
                user::Entity::objects().using(&t.db).acount().await.unwrap(),
                4
            );

            let ids: Vec<i64> = user::Entity::objects()
                .using(&t.db)
                .reverse()
                .alist()
                .await
                .unwrap()
                .into_iter()
                .map(|u| u.id)
                .collect();
            assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
            let by_name_desc = user::Entity::objects()
                .using(&t.db)
                .order_by_asc(user::Column::Name)
                .reverse()
                .afirst()
                .await
                .unwrap()
                .unwrap();
            assert_eq!(by_name_desc.name, "User 009");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_for_update_of_locks_named_tables_on_postgres_only() {
    watchdog(60, "select_for_update_of", async {
        for kind in common::backends() {
            let t = common::migrated(kind).await;
            seed(&t.db, 2).await;
            let locking = post::Entity::objects()
                .using(&t.db)
                .filter_related::<user::Entity>(user::Column::Id.eq(1))
                .select_for_update_of(post::Entity);
            let sql = locking.sql(kind.backend());
            let db = t.db.clone();
            let outcome = db.aatomic(async { locking.alist().await }).await;
            match kind {
                Kind::Postgres => {
                    assert!(sql.ends_with(r#"FOR UPDATE OF "post""#), "{sql}");
                    assert!(outcome.unwrap().is_empty());
                }
                _ => assert!(
                    matches!(outcome, Err(duetto::Error::NotSupported { .. })),
                    "{}: {outcome:?}",
                    kind.name()
                ),
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upserts_skip_or_update_colliding_rows_and_return_what_they_wrote() {
    watchdog(300, "upserts", async {
        for kind in common::backends() {
            let t = common::migrated(kind).await;
            let users = user::Entity::objects().using(&t.db);
            // Half of 70,000 rows exist already, with old names.
            users
                .abulk_create((0..35_000).map(|i| {
                    let mut model = new_user(i * 2);
                    model.name = Set(format!("old {}", i * 2));
                    model
                }))
                .await
                .unwrap();
            let upsert = duetto::BulkCreate::new()
                .update_conflicts([user::Column::Email], [user::Column::Name]);
            users
                .abulk_create_with(
                    (0..70_000).map(|i| {
                        let mut model = new_user(i);
                        model.name = Set(format!("new {i}"));
                        model
                    }),
                    upsert.clone(),
                )
                .await
                .unwrap();
            assert_eq!(users.acount().await.unwrap(), 70_000, "{}", kind.name());
            let renamed = users
                .clone()
                .filter(user::Column::Name.starts_with("new "))
                .acount()
                .await
                .unwrap();
            assert_eq!(
                renamed,
                70_000,
                "{}: every row has its new name",
                kind.name()
            );
            let one = users
                .aget(user::Column::Email.eq("u4242@example.com"))
                .await
                .unwrap();
            assert_eq!(one.name, "new 4242");

            // ignore_conflicts skips the colliding rows, keeps the others.
            let skip = duetto::BulkCreate::new().ignore_conflicts();
            let n = users
                .abulk_create_with([new_user(1), new_user(70_001)], skip.clone())
                .await
                .unwrap();
            assert_eq!(n, 1, "{}", kind.name());
            assert_eq!(users.acount().await.unwrap(), 70_001);

            // Returning the rows written, keys filled.
            let created = users
                .abulk_create_returning(
                    [new_user(80_000), new_user(80_001)],
                    duetto::BulkCreate::new(),
                )
                .await
                .unwrap();
            assert_eq!(created.len(), 2, "{}", kind.name());
            assert!(created.iter().all(|u| u.id > 0));
            assert_eq!(
                users.aget_pk(created[1].id).await.unwrap().email,
                "u80001@example.com"
            );
            let only_new = users
                .abulk_create_returning([new_user(80_000), new_user(80_002)], skip)
                .await
                .unwrap();
            assert_eq!(only_new.len(), 1, "{}", kind.name());
            assert_eq!(only_new[0].email, "u80002@example.com");
            let returned_upsert = users
                .abulk_create_returning([new_user(80_002)], upsert.clone())
                .await;
            match kind {
                Kind::Mysql => assert!(matches!(
                    returned_upsert,
                    Err(duetto::Error::NotSupported { .. })
                )),
                _ => assert_eq!(returned_upsert.unwrap()[0].name, "User 80002"),
            }

            // Contradictory or incomplete options are errors before any statement.
            let bad = [
                duetto::BulkCreate::new()
                    .ignore_conflicts()
                    .update_conflicts([user::Column::Email], [user::Column::Name]),
                duetto::BulkCreate::new().update_conflicts([user::Column::Email], []),
                duetto::BulkCreate::new()
                    .update_conflicts([user::Column::Email], [user::Column::Id]),
            ];
            for options in bad {
                let (outcome, captured) =
                    acapture_queries(users.abulk_create_with([new_user(90_000)], options)).await;
                assert!(
                    matches!(
                        outcome,
                        Err(duetto::Error::NotSupported {
                            operation: "bulk_create",
                            ..
                        })
                    ),
                    "{}: {outcome:?}",
                    kind.name()
                );
                assert!(captured.is_empty());
            }
            let no_target = users
                .abulk_create_with(
                    [new_user(90_000)],
                    duetto::BulkCreate::new().update_conflicts([], [user::Column::Name]),
                )
                .await;
            match kind {
                Kind::Mysql => assert!(no_target.is_ok()),
                _ => assert!(matches!(no_target, Err(duetto::Error::NotSupported { .. }))),
            }

            // The blocking voice.
            let db = t.db.clone();
            let n = tokio::task::spawn_blocking(move || {
                user::Entity::objects().using(&db).bulk_create_with(
                    [new_user(1), new_user(2)],
                    duetto::BulkCreate::new().ignore_conflicts(),
                )
            })
            .await
            .unwrap()
            .unwrap();
            assert_eq!(n, 0, "{}", kind.name());
        }
    })
    .await;
}

#[derive(Debug, FromQueryResult, PartialEq)]
struct PerStatus {
    status: String,
    n: i64,
    big: i64,
    total: Option<duetto::sea_orm::prelude::Decimal>,
}

#[derive(Debug, FromQueryResult, PartialEq)]
struct Annotated {
    id: i64,
    orders: i64,
    has_paid: bool,
    size: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grouped_and_annotated_rows_match_a_hand_computed_answer() {
    use duetto::agg;
    use duetto::sea_orm::prelude::Decimal;
    use duetto::sea_orm::sea_query::{CaseStatement, ExprTrait};
    use entity::order;
    watchdog(120, "annotate and group by", async {
        for kind in common::backends() {
            let t = common::migrated(kind).await;
            seed(&t.db, 4).await;
            let ids: Vec<i64> = user::Entity::objects()
                .using(&t.db)
                .order_by_asc(user::Column::Id)
                .avalues_list(Some(user::Column::Id))
                .await
                .unwrap();
            // user k has k+1 orders; amounts 10, 20, 30…; statuses cycle pending, paid, shipped.
            let statuses = ["pending", "paid", "shipped"];
            let mut expected: Vec<(String, i64, i64, Decimal)> = statuses
                .iter()
                .map(|s| (s.to_string(), 0, 0, Decimal::ZERO))
                .collect();
            let mut rows = Vec::new();
            let mut n = 0;
            for (k, &user_id) in ids.iter().enumerate() {
                for _ in 0..=k {
                    let amount = Decimal::new(10 * (n + 1), 0);
                    let status = statuses[n as usize % 3];
                    let e = &mut expected[n as usize % 3];
                    e.1 += 1;
                    e.2 += i64::from(amount > Decimal::new(40, 0));
                    e.3 += amount;
                    rows.push(order::ActiveModel {
                        user_id: Set(user_id),
                        total: Set(amount),
                        status: Set(status.into()),
                        created_at: Set(chrono::Utc::now().into()),
                        ..Default::default()
                    });
                    n += 1;
                }
            }
            order::Entity::objects()
                .using(&t.db)
                .abulk_create(rows)
                .await
                .unwrap();

            // values("status").annotate(n=Count, big=Count(filter=…), total=Sum).filter(n>1)
            let grouped = order::Entity::objects()
                .using(&t.db)
                .values([order::Column::Status])
                .annotate("n", agg::count(order::Column::Id))
                .annotate(
                    "big",
                    agg::count(order::Column::Id)
                        .filter(order::Column::Total.gt(Decimal::new(40, 0))),
                )
                .annotate("total", agg::sum(order::Column::Total))
                .having(agg::col("n").gt(1))
                .order_by_desc(agg::col("n"))
                .order_by_asc(agg::col("status"));
            let got: Vec<PerStatus> = grouped.alist_as().await.unwrap();
            expected.retain(|e| e.1 > 1);
            expected.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let want: Vec<PerStatus> = expected
                .iter()
                .map(|(status, n, big, total)| PerStatus {
                    status: status.clone(),
                    n: *n,
                    big: *big,
                    total: Some(*total),
                })
                .collect();
            assert_eq!(got, want, "{}", kind.name());

            // Per-row annotations: a count over a relation, an EXISTS, a CASE; ordered by one.
            let annotated = user::Entity::objects()
                .using(&t.db)
                .annotate(
                    "orders",
                    agg::count_related::<user::Entity, order::Entity>(),
                )
                .annotate(
                    "has_paid",
                    agg::related_exists::<user::Entity, order::Entity>(
                        order::Column::Status.eq("paid"),
                    ),
                )
                .annotate(
                    "size",
                    CaseStatement::new()
                        .case(
                            agg::count_related::<user::Entity, order::Entity>().gte(3),
                            "big",
                        )
                        .finally("small"),
                )
                .order_by_desc(agg::col("orders"));
            let rows: Vec<Annotated> = annotated.alist_as().await.unwrap();
            let counts: Vec<i64> = rows.iter().map(|r| r.orders).collect();
            assert_eq!(counts, [4, 3, 2, 1], "{}", kind.name());
            assert_eq!(rows[0].id, ids[3]);
            assert!(rows[0].has_paid && !rows[3].has_paid);
            assert_eq!(
                rows.iter().map(|r| r.size.as_str()).collect::<Vec<_>>(),
                ["big", "big", "small", "small"]
            );

            // The blocking voice gives the same groups.
            let blocking: Vec<PerStatus> =
                tokio::task::spawn_blocking(move || grouped.list_as().unwrap())
                    .await
                    .unwrap();
            assert_eq!(blocking, want);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn union_intersection_and_difference_combine_filtered_and_sliced_querysets() {
    watchdog(60, "set operations", async {
        for kind in common::backends() {
            let t = common::migrated(kind).await;
            seed(&t.db, 10).await;
            let users = user::Entity::objects().using(&t.db);
            let ids = |qs: QuerySet<user::Entity>| async move {
                qs.order_by_asc(user::Column::Id)
                    .avalues_list::<i64>(Some(user::Column::Id))
                    .await
                    .unwrap()
            };
            let all = ids(users.clone()).await;
            let low = users.clone().filter(user::Column::Id.lte(all[3])); // first 4
                                                                          // The 3 newest by id: a sliced side.
            let newest = users.clone().order_by_desc(user::Column::Id).limit(3);
            let both_ends = low.union(&newest);
            assert_eq!(both_ends.acount().await.unwrap(), 7, "{}", kind.name());
            let middle = users.clone().difference(&both_ends);
            assert_eq!(ids(middle).await, all[4..7].to_vec(), "{}", kind.name());
            let overlap = low.intersection(&users.clone().limit(2));
            assert_eq!(ids(overlap).await, all[..2].to_vec(), "{}", kind.name());
            // The result is a queryset like any other: ordered, sliced, in the blocking voice.
            let db = t.db.clone();
            let last_two = tokio::task::spawn_blocking(move || {
                let users = user::Entity::objects().using(&db);
                users
                    .clone()
                    .filter(user::Column::Id.lte(3))
                    .union(&users.order_by_desc(user::Column::Id).limit(1))
                    .order_by_desc(user::Column::Id)
                    .limit(2)
                    .list()
                    .unwrap()
            })
            .await
            .unwrap();
            assert_eq!(last_two.len(), 2);
            assert_eq!(last_two[0].id, *all.last().unwrap());
        }
    })
    .await;
}

#[derive(Debug, duetto::sea_orm::DerivePartialModel, PartialEq)]
#[sea_orm(entity = "user::Entity")]
struct Person {
    id: i64,
    name: String,
}

#[derive(Debug, FromQueryResult, PartialEq)]
struct Contact {
    id: i64,
    email: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_into_structs_partial_models_only_and_defer_in_both_voices() {
    watchdog(60, "structs", async {
        for kind in common::backends() {
            let t = common::migrated(kind).await;
            seed(&t.db, 3).await;
            let users = user::Entity::objects()
                .using(&t.db)
                .order_by_asc(user::Column::Id);
            let people: Vec<Person> = users.alist_partial().await.unwrap();
            assert_eq!(people[0].name, "User 000", "{}", kind.name());
            let only: Vec<Contact> = users
                .clone()
                .only([user::Column::Id, user::Column::Email])
                .alist_as()
                .await
                .unwrap();
            assert_eq!(only[2].email, "u2@example.com");
            let deferred: Vec<Contact> = users
                .clone()
                .defer([user::Column::Name, user::Column::CreatedAt])
                .alist_as()
                .await
                .unwrap();
            assert_eq!(deferred, only);
            // A whole model cannot be read from a narrowed queryset: an error, not a panic.
            assert!(users
                .clone()
                .only([user::Column::Id])
                .alist()
                .await
                .is_err());

            let (db, expected) = (t.db.clone(), only);
            tokio::task::spawn_blocking(move || {
                let users = user::Entity::objects()
                    .using(&db)
                    .order_by_asc(user::Column::Id);
                let people: Vec<Person> = users.list_partial().unwrap();
                assert_eq!(people.len(), 3);
                let contacts: Vec<Contact> = users
                    .only([user::Column::Id, user::Column::Email])
                    .list_as()
                    .unwrap();
                assert_eq!(contacts, expected);
                // Keyset pages in the blocking voice.
                let pages = user::Entity::objects().using(&db).keyset(2).unwrap();
                let first = pages.page(None).unwrap();
                let second = pages.page(first.next.as_deref()).unwrap();
                assert_eq!((first.items.len(), second.items.len()), (2, 1));
                assert!(second.next.is_none());
            })
            .await
            .unwrap();
        }
    })
    .await;
}
