//! Relations without N+1 on every backend: statements counted with `acapture_queries`.

mod common;

use common::faults::watchdog;
use common::Kind;
use duetto::observe::{acapture_queries, capture_queries};
use duetto::prefetch::{many, many_of, one};
use duetto::prelude::*;
use duetto::sea_orm::{ColumnTrait, Set};
use entity::{comment, post, post_tag, tag, user};
use futures_util::TryStreamExt;

fn now() -> duetto::sea_orm::prelude::DateTimeWithTimeZone {
    chrono::Utc::now().into()
}

/// `users` users; `posts` posts round-robin over them; two comments per post by the next user;
/// tags `a` and `b`, `a` on even posts, both on multiples of three.
async fn seed(db: &Db, users: usize, posts: usize) {
    let people: Vec<user::ActiveModel> = (0..users)
        .map(|u| user::ActiveModel {
            name: Set(format!("User {u}")),
            email: Set(format!("u{u}@example.com")),
            created_at: Set(now()),
            ..Default::default()
        })
        .collect();
    let users_qs = user::Entity::objects().using(db);
    users_qs.abulk_create(people).await.unwrap();
    let ids: Vec<i64> = users_qs
        .clone()
        .order_by_asc(user::Column::Id)
        .avalues_list(Some(user::Column::Id))
        .await
        .unwrap();
    let posts_qs = post::Entity::objects().using(db);
    posts_qs
        .abulk_create((0..posts).map(|p| post::ActiveModel {
            user_id: Set(ids[p % users]),
            title: Set(format!("Post {p}")),
            body: Set(String::new()),
            published: Set(p % 2 == 0),
            created_at: Set(now()),
            ..Default::default()
        }))
        .await
        .unwrap();
    let post_ids: Vec<i64> = posts_qs
        .clone()
        .order_by_asc(post::Column::Id)
        .avalues_list(Some(post::Column::Id))
        .await
        .unwrap();
    comment::Entity::objects()
        .using(db)
        .abulk_create(post_ids.iter().enumerate().flat_map(|(i, &post_id)| {
            let ids = &ids;
            (0..2).map(move |c| comment::ActiveModel {
                user_id: Set(ids[(i + 1 + c) % users]),
                post_id: Set(post_id),
                body: Set(format!("Comment {c} on {i}")),
                created_at: Set(now()),
                ..Default::default()
            })
        }))
        .await
        .unwrap();
    let tags = tag::Entity::objects().using(db);
    tags.abulk_create(["a", "b"].map(|name| tag::ActiveModel {
        name: Set(name.into()),
        ..Default::default()
    }))
    .await
    .unwrap();
    let a = tags.aget(tag::Column::Name.eq("a")).await.unwrap().id;
    let b = tags.aget(tag::Column::Name.eq("b")).await.unwrap().id;
    let mut links = Vec::new();
    for (i, &post_id) in post_ids.iter().enumerate() {
        if i % 2 == 0 {
            links.push((post_id, a));
        }
        if i % 3 == 0 {
            links.push((post_id, b));
        }
    }
    post_tag::Entity::objects()
        .using(db)
        .abulk_create(
            links
                .into_iter()
                .map(|(post_id, tag_id)| post_tag::ActiveModel {
                    post_id: Set(post_id),
                    tag_id: Set(tag_id),
                }),
        )
        .await
        .unwrap();
}

type Page = Vec<(post::Model, PageExtras)>;

type PageExtras = (
    Option<user::Model>,
    Vec<(comment::Model, Option<user::Model>)>,
    Vec<tag::Model>,
);

fn page_query(
    db: &Db,
    n: u64,
) -> duetto::prefetch::Prefetching<
    post::Entity,
    impl duetto::prefetch::Prefetch<post::Model, Output = PageExtras>,
> {
    post::Entity::objects()
        .using(db)
        .order_by_asc(post::Column::Id)
        .limit(n)
        .prefetch((
            one::<user::Entity>(),
            many_of(
                comment::Entity::objects()
                    .using(db)
                    .order_by_asc(comment::Column::Id),
            )
            .then(one::<user::Entity>()),
            many::<tag::Entity>(),
        ))
}

fn check_page(page: &Page) {
    for (i, (post, (author, comments, tags))) in page.iter().enumerate() {
        assert_eq!(author.as_ref().expect("an author").id, post.user_id);
        assert_eq!(comments.len(), 2, "post {}", post.id);
        for (comment, commenter) in comments {
            assert_eq!(comment.post_id, post.id);
            assert_eq!(commenter.as_ref().expect("a commenter").id, comment.user_id);
        }
        let mut names: Vec<&str> = tags.iter().map(|t| t.name.as_str()).collect();
        names.sort();
        let expected: Vec<&str> = match (i % 2 == 0, i % 3 == 0) {
            (true, true) => vec!["a", "b"],
            (true, false) => vec!["a"],
            (false, true) => vec!["b"],
            (false, false) => vec![],
        };
        assert_eq!(names, expected, "tags of post {}", post.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_posts_with_authors_comments_and_tags_costs_the_same_statements_for_any_size() {
    watchdog(180, "prefetch statement counts", async {
        for kind in common::backends() {
            let t = common::migrated(kind).await;
            seed(&t.db, 7, 500).await;
            let mut counts = Vec::new();
            for n in [1u64, 20, 500] {
                let (page, captured) = acapture_queries(page_query(&t.db, n).alist()).await;
                let page = page.unwrap();
                assert_eq!(page.len(), n as usize);
                check_page(&page);
                counts.push(captured.len());
                assert!(
                    captured.repeated(2).is_empty(),
                    "{}:\n{captured}",
                    kind.name()
                );
            }
            // posts, their authors, their comments, the comments' authors, their tags.
            assert_eq!(counts, [5, 5, 5], "{}", kind.name());

            // The N+1 loop it replaces, for comparison: 1 + 20 × 4.
            let (_, loop_captured) = acapture_queries(async {
                let posts = post::Entity::objects()
                    .using(&t.db)
                    .order_by_asc(post::Column::Id)
                    .limit(20)
                    .alist()
                    .await
                    .unwrap();
                for post in &posts {
                    user::Entity::objects()
                        .using(&t.db)
                        .aget_pk(post.user_id)
                        .await
                        .unwrap();
                    let comments = post
                        .related::<comment::Entity>()
                        .using(&t.db)
                        .alist()
                        .await
                        .unwrap();
                    for comment in comments.iter().take(1) {
                        user::Entity::objects()
                            .using(&t.db)
                            .aget_pk(comment.user_id)
                            .await
                            .unwrap();
                    }
                    post.related::<tag::Entity>()
                        .using(&t.db)
                        .alist()
                        .await
                        .unwrap();
                }
            })
            .await;
            assert_eq!(loop_captured.len(), 81, "{}", kind.name());

            // The blocking voice gives the same rows.
            let db = t.db.clone();
            let blocking = tokio::task::spawn_blocking(move || {
                let (page, captured) = capture_queries(|| page_query(&db, 20).list());
                assert_eq!(captured.len(), 5);
                page.unwrap()
            })
            .await
            .unwrap();
            let expected = page_query(&t.db, 20).alist().await.unwrap();
            assert_eq!(blocking, expected, "{}", kind.name());
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seventy_thousand_parents_are_split_under_the_bind_limit() {
    watchdog(300, "70,000-parent prefetch", async {
        for kind in common::backends() {
            let t = common::migrated(kind).await;
            seed(&t.db, 3, 70_000).await;
            let posts = post::Entity::objects().using(&t.db).alist().await.unwrap();
            assert_eq!(posts.len(), 70_000);
            let (comments, captured) =
                acapture_queries(duetto::prefetch::aprefetch_related_objects_using(
                    &t.db,
                    &posts,
                    many_of(comment::Entity::objects().using(&t.db)),
                ))
                .await;
            let comments = comments.unwrap();
            assert_eq!(comments.len(), 70_000);
            assert!(comments.iter().all(|c| c.len() == 2));
            let expected = match kind {
                // 70,000 keys over 32,766 binds per statement.
                Kind::Sqlite => 3,
                // 65,535 per statement.
                _ => 2,
            };
            assert_eq!(captured.len(), expected, "{}", kind.name());
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_related_joins_the_author_and_filters_on_its_columns() {
    watchdog(120, "select_related", async {
        for kind in common::backends() {
            let t = common::migrated(kind).await;
            seed(&t.db, 3, 12).await;
            let joined = post::Entity::objects()
                .using(&t.db)
                .select_related::<user::Entity>();
            let (rows, captured) = acapture_queries(
                joined
                    .clone()
                    .filter(user::Column::Name.eq("User 1"))
                    .order_by_desc(post::Column::Id)
                    .limit(2)
                    .offset(1)
                    .alist(),
            )
            .await;
            let rows = rows.unwrap();
            assert_eq!(captured.len(), 1, "one statement");
            assert_eq!(rows.len(), 2, "{}", kind.name());
            for (post, author) in &rows {
                let author = author.as_ref().unwrap();
                assert_eq!(author.name, "User 1");
                assert_eq!(author.id, post.user_id);
            }
            assert!(rows[0].0.id > rows[1].0.id);

            let first = joined
                .clone()
                .order_by_asc(user::Column::Name)
                .afirst()
                .await
                .unwrap();
            assert_eq!(first.unwrap().1.unwrap().name, "User 0");
            let (post, author) = joined.aget(post::Column::Title.eq("Post 4")).await.unwrap();
            assert_eq!(author.unwrap().id, post.user_id);
            assert!(matches!(
                joined.aget(post::Column::Title.eq("nope")).await,
                Err(duetto::Error::DoesNotExist { .. })
            ));
            // Two relations in one statement.
            let (two, captured) = acapture_queries(
                comment::Entity::objects()
                    .using(&t.db)
                    .select_related::<post::Entity>()
                    .select_related::<user::Entity>()
                    .filter(post::Column::Title.eq("Post 3"))
                    .alist(),
            )
            .await;
            let two = two.unwrap();
            assert_eq!((two.len(), captured.len()), (2, 1), "{}", kind.name());
            for (comment, post, commenter) in &two {
                assert_eq!(post.as_ref().unwrap().id, comment.post_id);
                assert_eq!(commenter.as_ref().unwrap().id, comment.user_id);
            }
            let streamed: Vec<_> = joined.aiterator(5).try_collect().await.unwrap();
            assert_eq!(streamed.len(), 12);

            let db = t.db.clone();
            let blocking = tokio::task::spawn_blocking(move || {
                post::Entity::objects()
                    .using(&db)
                    .select_related::<user::Entity>()
                    .iterator(5)
                    .collect::<duetto::Result<Vec<_>>>()
            })
            .await
            .unwrap()
            .unwrap();
            assert_eq!(blocking, streamed, "{}", kind.name());
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_related_follows_each_kind_of_relation_without_repeating_rows() {
    watchdog(120, "filter_related", async {
        for kind in common::backends() {
            let t = common::migrated(kind).await;
            seed(&t.db, 3, 12).await;
            let posts = post::Entity::objects().using(&t.db);
            let users = user::Entity::objects().using(&t.db);
            // many-to-one
            let by_user_0 = posts
                .clone()
                .filter_related::<user::Entity>(user::Column::Email.eq("u0@example.com"))
                .acount()
                .await
                .unwrap();
            assert_eq!(by_user_0, 4, "{}", kind.name());
            // one-to-many: users with a published post, each once.
            let publishing = users
                .clone()
                .filter_related::<post::Entity>(post::Column::Published.eq(true))
                .alist()
                .await
                .unwrap();
            assert_eq!(publishing.len(), 3);
            // many-to-many through post_tag.
            let tagged_b = posts
                .clone()
                .filter_related::<tag::Entity>(tag::Column::Name.eq("b"))
                .acount()
                .await
                .unwrap();
            assert_eq!(tagged_b, 4, "{}", kind.name());
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefetch_inside_a_scope_reads_the_transaction_and_refuses_a_sliced_queryset() {
    watchdog(120, "prefetch in a scope", async {
        for kind in common::backends() {
            let t = common::migrated(kind).await;
            seed(&t.db, 2, 2).await;
            let db = t.db.clone();
            let (inside, captured) = acapture_queries(db.aatomic(async {
                let first = post::Entity::objects()
                    .using(&db)
                    .order_by_asc(post::Column::Id)
                    .afirst()
                    .await?
                    .unwrap();
                comment::ActiveModel {
                    user_id: Set(first.user_id),
                    post_id: Set(first.id),
                    body: Set("uncommitted".into()),
                    created_at: Set(now()),
                    ..Default::default()
                }
                .asave_using(&db)
                .await?;
                post::Entity::objects()
                    .using(&db)
                    .order_by_asc(post::Column::Id)
                    .prefetch(many::<comment::Entity>())
                    .alist()
                    .await
            }))
            .await;
            let inside = inside.unwrap();
            assert_eq!(
                inside[0].1.len(),
                3,
                "{}: sees its own uncommitted comment",
                kind.name()
            );
            let prefetch = captured
                .iter()
                .filter(|q| q.sql.starts_with("SELECT"))
                .find(|q| q.sql.contains("\"comment\"") || q.sql.contains("`comment`"))
                .expect("the prefetch statement");
            assert!(prefetch.in_transaction);

            let sliced = post::Entity::objects()
                .using(&t.db)
                .prefetch(many_of(comment::Entity::objects().using(&t.db).limit(1)))
                .alist()
                .await
                .unwrap_err();
            assert!(
                matches!(
                    sliced,
                    duetto::Error::NotSupported {
                        operation: "prefetch",
                        ..
                    }
                ),
                "{sliced}"
            );
        }
    })
    .await;
}
