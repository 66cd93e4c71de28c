//! User detail with posts (the seed article's second view): the user and their published posts,
//! fetched with the blocking voice one after another, then with the async voice concurrently,
//! following the SeaORM relation with `model.related::<post::Entity>()` (Django's `user.post_set`).
//!
//! Then a user *list* with each user's post count, twice: the N+1 way (`related()` in a loop, one
//! query per user) and prefetched (one query for every user's posts), each run under
//! `duetto::observe::acapture_queries` with live N+1 detection on, printing its statement count
//! and what the detector reported.
//!
//! ```text
//! cargo run --example user_detail [-- --database-url URL] [--latency-ms N] [--short]
//! ```

mod support;

use duetto::prefetch::many;
use duetto::prelude::*;
use duetto::sea_orm::ColumnTrait;
use entity::{post, user};
use serde::Serialize;
use support::{Args, Demo, Size};

#[derive(Debug, Serialize, PartialEq)]
struct UserDetail {
    id: i64,
    name: String,
    published_posts: Vec<String>,
    total_posts: u64,
}

fn published(of: &user::Model) -> QuerySet<post::Entity> {
    of.related::<post::Entity>()
        .filter(post::Column::Published.eq(true))
        .order_by_asc(post::Column::Id)
}

/// A sync view: each query waits for the previous one.
fn detail_blocking(user_id: i64) -> duetto::Result<UserDetail> {
    let user = user::Entity::objects().get_pk(user_id)?;
    let posts = published(&user).list()?;
    let total_posts = user.related::<post::Entity>().count()?;
    Ok(UserDetail {
        id: user.id,
        name: user.name,
        published_posts: posts.into_iter().map(|p| p.title).collect(),
        total_posts,
    })
}

/// An async view: the two post queries only need the id, so they run together with the user's.
async fn detail_async(user_id: i64) -> duetto::Result<UserDetail> {
    let posts_of = post::Entity::objects().filter(post::Column::UserId.eq(user_id));
    let (user, posts, total_posts) = tokio::try_join!(
        user::Entity::objects().aget_pk(user_id),
        posts_of
            .clone()
            .filter(post::Column::Published.eq(true))
            .order_by_asc(post::Column::Id)
            .alist(),
        posts_of.acount(),
    )?;
    Ok(UserDetail {
        id: user.id,
        name: user.name,
        published_posts: posts.into_iter().map(|p| p.title).collect(),
        total_posts,
    })
}

/// The posts of each user, one query per user: an N+1 (what the detector reports).
pub async fn post_counts_n_plus_one(users: &[user::Model]) -> duetto::Result<Vec<(i64, usize)>> {
    let mut counts = Vec::new();
    for user in users {
        let posts = user.related::<post::Entity>().alist().await?; // N+1: one query per user
        counts.push((user.id, posts.len()));
    }
    Ok(counts)
}

/// The posts of every user in one query (`prefetch`), grouped back onto the users in their order.
pub async fn post_counts_prefetched(users: &[user::Model]) -> duetto::Result<Vec<(i64, usize)>> {
    let posts = duetto::prefetch::aprefetch_related_objects(users, many::<post::Entity>()).await?;
    Ok(users
        .iter()
        .zip(posts)
        .map(|(u, posts)| (u.id, posts.len()))
        .collect())
}

/// Runs both list variants under a capture and prints what each cost and what was flagged.
async fn compare_list_variants() -> duetto::Result<()> {
    use duetto::observe::acapture_queries;
    let users = user::Entity::objects()
        .order_by_asc(user::Column::Id)
        .limit(20)
        .alist()
        .await?;
    let (slow, n_plus_one) = acapture_queries(post_counts_n_plus_one(&users)).await;
    let (fast, prefetched) = acapture_queries(post_counts_prefetched(&users)).await;
    assert_eq!(slow?, fast?);
    for (name, captured) in [("N+1", &n_plus_one), ("prefetched", &prefetched)] {
        println!(
            "post counts of {} users, {name}: {} statements",
            users.len(),
            captured.len()
        );
        for report in captured.repeated(3) {
            println!("  {report}");
        }
    }
    Ok(())
}

fn main() -> duetto::Result<()> {
    let args = Args::parse();
    let _demo = Demo::setup(&args, Size::realistic(true))?;
    let blocking = detail_blocking(3)?;
    let concurrent = async_to_sync(detail_async(3))??;
    assert_eq!(blocking, concurrent);
    println!(
        "{}",
        serde_json::to_string_pretty(&concurrent).map_err(duetto::Error::other)?
    );
    match user::Entity::objects().get_pk(1_000_000) {
        Err(duetto::Error::DoesNotExist { model }) => {
            println!("user 1000000: {model} does not exist (a 404 in a view)")
        }
        other => println!("unexpected: {other:?}"),
    }
    // Live detection also logs each N+1 through `tracing` (target `duetto::n_plus_one`).
    duetto::observe::detect_n_plus_one(Some(3));
    async_to_sync(compare_list_variants())??;
    Ok(())
}
