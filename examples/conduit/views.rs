//! What the API returns, and the queries behind it. A list of articles or comments, however
//! long, costs the same few statements: the authors, tags, favorite counts, and the reader's
//! favorites and follows are each read for the whole page at once.

use std::collections::{HashMap, HashSet};

use duetto::prefetch::{aprefetch_related_objects, many_of};
use duetto::prelude::*;
use duetto::sea_orm::{ColumnTrait, FromQueryResult};
use serde::Serialize;

use crate::entity::{articles, comments, favorites, follows, tags, users};
use crate::error::ApiResult;

#[derive(Debug, Serialize)]
pub struct ProfileView {
    pub username: String,
    pub bio: Option<String>,
    pub image: Option<String>,
    pub following: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArticleView {
    pub slug: String,
    pub title: String,
    pub description: String,
    pub body: String,
    pub tag_list: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    pub favorited: bool,
    pub favorites_count: i64,
    pub author: ProfileView,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommentView {
    pub id: i64,
    pub created_at: String,
    pub updated_at: String,
    pub body: String,
    pub author: ProfileView,
}

#[derive(Debug, Serialize)]
pub struct UserView {
    pub email: String,
    pub token: String,
    pub username: String,
    pub bio: Option<String>,
    pub image: Option<String>,
}

impl UserView {
    pub fn of(user: users::Model, token: String) -> UserView {
        UserView {
            email: user.email,
            token,
            username: user.username,
            bio: user.bio,
            image: user.image,
        }
    }
}

pub fn timestamp(t: &duetto::sea_orm::prelude::DateTimeWithTimeZone) -> String {
    t.with_timezone(&chrono::Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn profile_of(user: &users::Model, following: bool) -> ProfileView {
    ProfileView {
        username: user.username.clone(),
        bio: user.bio.clone(),
        image: user.image.clone(),
        following,
    }
}

/// The ids among `authors` that `reader` follows (none for an anonymous reader).
async fn followed(reader: Option<i64>, authors: Vec<i64>) -> duetto::Result<HashSet<i64>> {
    let Some(reader) = reader else {
        return Ok(HashSet::new());
    };
    Ok(follows::Entity::objects()
        .filter(follows::Column::FollowerId.eq(reader))
        .filter(follows::Column::FolloweeId.is_in(authors))
        .avalues_list::<i64>(Some(follows::Column::FolloweeId))
        .await?
        .into_iter()
        .collect())
}

/// The users with these ids, by id.
async fn users_by_id(ids: Vec<i64>) -> duetto::Result<HashMap<i64, users::Model>> {
    Ok(users::Entity::objects()
        .filter(users::Column::Id.is_in(ids))
        .alist()
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect())
}

pub async fn profile(user: &users::Model, reader: Option<i64>) -> ApiResult<ProfileView> {
    let following = followed(reader, vec![user.id]).await?;
    Ok(profile_of(user, following.contains(&user.id)))
}

#[derive(FromQueryResult)]
struct FavoriteCount {
    article_id: i64,
    n: i64,
}

/// Views of `list`, in order: 5 statements at most, whatever its length.
pub async fn articles(
    list: Vec<articles::Model>,
    reader: Option<i64>,
) -> ApiResult<Vec<ArticleView>> {
    if list.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = list.iter().map(|a| a.id).collect();
    let author_ids: Vec<i64> = list.iter().map(|a| a.author_id).collect();
    let counts = favorites::Entity::objects()
        .filter(favorites::Column::ArticleId.is_in(ids.clone()))
        .values([favorites::Column::ArticleId])
        .annotate("n", duetto::agg::count(favorites::Column::UserId))
        .alist_as::<FavoriteCount>();
    let mine = async {
        match reader {
            None => Ok(Vec::new()),
            Some(reader) => {
                favorites::Entity::objects()
                    .filter(favorites::Column::UserId.eq(reader))
                    .filter(favorites::Column::ArticleId.is_in(ids.clone()))
                    .avalues_list::<i64>(Some(favorites::Column::ArticleId))
                    .await
            }
        }
    };
    let (authors, tag_lists, counts, mine, following) = tokio::try_join!(
        users_by_id(author_ids.clone()),
        // The suite expects each tag list in name order.
        aprefetch_related_objects(
            &list,
            many_of(tags::Entity::objects().order_by_asc(tags::Column::Name)),
        ),
        counts,
        mine,
        followed(reader, author_ids),
    )?;
    let counts: HashMap<i64, i64> = counts.into_iter().map(|c| (c.article_id, c.n)).collect();
    let mine: HashSet<i64> = mine.into_iter().collect();
    list.into_iter()
        .zip(tag_lists)
        .map(|(article, tags)| {
            let author = authors
                .get(&article.author_id)
                .ok_or(crate::error::ApiError::NotFound("author"))?;
            Ok(ArticleView {
                tag_list: tags.into_iter().map(|t| t.name).collect(),
                created_at: timestamp(&article.created_at),
                updated_at: timestamp(&article.updated_at),
                favorited: mine.contains(&article.id),
                favorites_count: counts.get(&article.id).copied().unwrap_or(0),
                author: profile_of(author, following.contains(&article.author_id)),
                slug: article.slug,
                title: article.title,
                description: article.description,
                body: article.body,
            })
        })
        .collect()
}

/// Views of `list`, in order: 2 statements at most.
pub async fn comments(
    list: Vec<comments::Model>,
    reader: Option<i64>,
) -> ApiResult<Vec<CommentView>> {
    let author_ids: Vec<i64> = list.iter().map(|c| c.author_id).collect();
    let (authors, following) = tokio::try_join!(
        users_by_id(author_ids.clone()),
        followed(reader, author_ids)
    )?;
    list.into_iter()
        .map(|comment| {
            let author = authors
                .get(&comment.author_id)
                .ok_or(crate::error::ApiError::NotFound("author"))?;
            Ok(CommentView {
                id: comment.id,
                created_at: timestamp(&comment.created_at),
                updated_at: timestamp(&comment.updated_at),
                author: profile_of(author, following.contains(&comment.author_id)),
                body: comment.body,
            })
        })
        .collect()
}
