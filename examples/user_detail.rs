//! User detail with posts (the seed article's second view): the user and their published posts,
//! fetched with the blocking voice one after another, then with the async voice concurrently,
//! following the SeaORM relation with `model.related::<post::Entity>()` (Django's `user.post_set`).
//!
//! ```text
//! cargo run --example user_detail [-- --database-url URL] [--latency-ms N] [--short]
//! ```

mod support;

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
    Ok(())
}
