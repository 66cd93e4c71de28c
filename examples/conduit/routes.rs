//! The `/api` routes and their handlers.

use axum::extract::{Path, Query};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use duetto::prelude::*;
use duetto::sea_orm::sea_query::Query as Sql;
use duetto::sea_orm::{ColumnTrait, Set};
use duetto::BulkCreate;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{hash_password, token_for, verify_password, CurrentUser, Reader};
use crate::entity::{article_tags, articles, comments, favorites, follows, tags, users};
use crate::error::{required, ApiError, ApiResult};
use crate::views::{self, UserView};

pub fn router() -> Router {
    Router::new()
        .route("/api/users", post(register))
        .route("/api/users/login", post(login))
        .route("/api/user", get(current_user).put(update_user))
        .route("/api/profiles/{username}", get(get_profile))
        .route(
            "/api/profiles/{username}/follow",
            post(follow).delete(unfollow),
        )
        .route("/api/articles", get(list_articles).post(create_article))
        .route("/api/articles/feed", get(feed))
        .route(
            "/api/articles/{slug}",
            get(get_article).put(update_article).delete(delete_article),
        )
        .route(
            "/api/articles/{slug}/favorite",
            post(favorite).delete(unfavorite),
        )
        .route(
            "/api/articles/{slug}/comments",
            get(list_comments).post(add_comment),
        )
        .route("/api/articles/{slug}/comments/{id}", delete(delete_comment))
        .route("/api/tags", get(list_tags))
        // One connection per request for its serial statements (duetto's request scope).
        .layer(duetto::request::RequestScopeLayer::new())
}

#[derive(Deserialize)]
struct Envelope<T> {
    user: Option<T>,
    article: Option<T>,
    comment: Option<T>,
}

fn body<T>(field: &str, envelope: Option<T>) -> ApiResult<T> {
    envelope.ok_or_else(|| ApiError::Unprocessable(field.into(), "is missing".into()))
}

// ---- users ------------------------------------------------------------------------------

#[derive(Deserialize)]
struct NewUser {
    username: Option<String>,
    email: Option<String>,
    password: Option<String>,
}

async fn register(Json(input): Json<Envelope<NewUser>>) -> ApiResult<Json<Value>> {
    let input = body("user", input.user)?;
    let username = required("username", input.username.as_deref())?;
    let email = required("email", input.email.as_deref())?;
    let password = required("password", input.password.as_deref())?;
    let user = users::Entity::objects()
        .acreate(users::ActiveModel {
            username: Set(username.to_owned()),
            email: Set(email.to_owned()),
            password_hash: Set(hash_password(password)?),
            ..Default::default()
        })
        .await?;
    let token = token_for(user.id)?;
    Ok(Json(json!({ "user": UserView::of(user, token) })))
}

#[derive(Deserialize)]
struct Login {
    email: Option<String>,
    password: Option<String>,
}

async fn login(Json(input): Json<Envelope<Login>>) -> ApiResult<Json<Value>> {
    let input = body("user", input.user)?;
    let email = required("email", input.email.as_deref())?;
    let password = required("password", input.password.as_deref())?;
    let invalid = || ApiError::Unprocessable("email or password".into(), "is invalid".into());
    let user = users::Entity::objects()
        .filter(users::Column::Email.eq(email))
        .afirst()
        .await?
        .ok_or_else(invalid)?;
    if !verify_password(password, &user.password_hash) {
        return Err(invalid());
    }
    let token = token_for(user.id)?;
    Ok(Json(json!({ "user": UserView::of(user, token) })))
}

async fn current_user(me: CurrentUser) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "user": UserView::of(me.user, me.token) })))
}

#[derive(Deserialize)]
struct UserChanges {
    email: Option<String>,
    username: Option<String>,
    password: Option<String>,
    bio: Option<String>,
    image: Option<String>,
}

async fn update_user(
    me: CurrentUser,
    Json(input): Json<Envelope<UserChanges>>,
) -> ApiResult<Json<Value>> {
    let changes = body("user", input.user)?;
    let mut user: users::ActiveModel = me.user.into();
    if let Some(email) = changes.email {
        user.email = Set(required("email", Some(&email))?.to_owned());
    }
    if let Some(username) = changes.username {
        user.username = Set(required("username", Some(&username))?.to_owned());
    }
    if let Some(password) = changes.password {
        user.password_hash = Set(hash_password(required("password", Some(&password))?)?);
    }
    if changes.bio.is_some() {
        user.bio = Set(changes.bio);
    }
    if changes.image.is_some() {
        user.image = Set(changes.image);
    }
    let user = user.asave().await?;
    Ok(Json(json!({ "user": UserView::of(user, me.token) })))
}

// ---- profiles ---------------------------------------------------------------------------

async fn user_named(username: &str) -> ApiResult<users::Model> {
    Ok(users::Entity::objects()
        .aget(users::Column::Username.eq(username))
        .await?)
}

async fn get_profile(
    Path(username): Path<String>,
    Reader(reader): Reader,
) -> ApiResult<Json<Value>> {
    let user = user_named(&username).await?;
    Ok(Json(
        json!({ "profile": views::profile(&user, reader).await? }),
    ))
}

async fn follow(me: CurrentUser, Path(username): Path<String>) -> ApiResult<Json<Value>> {
    let user = user_named(&username).await?;
    follows::Entity::objects()
        .abulk_create_with(
            [follows::ActiveModel {
                follower_id: Set(me.user.id),
                followee_id: Set(user.id),
            }],
            BulkCreate::new().ignore_conflicts(),
        )
        .await?;
    Ok(Json(
        json!({ "profile": views::profile(&user, Some(me.user.id)).await? }),
    ))
}

async fn unfollow(me: CurrentUser, Path(username): Path<String>) -> ApiResult<Json<Value>> {
    let user = user_named(&username).await?;
    follows::Entity::objects()
        .filter(follows::Column::FollowerId.eq(me.user.id))
        .filter(follows::Column::FolloweeId.eq(user.id))
        .adelete()
        .await?;
    Ok(Json(
        json!({ "profile": views::profile(&user, Some(me.user.id)).await? }),
    ))
}

// ---- articles ---------------------------------------------------------------------------

#[derive(Deserialize)]
struct ListParams {
    tag: Option<String>,
    author: Option<String>,
    favorited: Option<String>,
    limit: Option<u64>,
    offset: Option<u64>,
}

/// One page of `qs`, newest first, with the total count: the page and the count are two
/// statements, the views of the page five more at most.
async fn page(
    qs: QuerySet<articles::Entity>,
    limit: Option<u64>,
    offset: Option<u64>,
    reader: Option<i64>,
) -> ApiResult<Json<Value>> {
    let count = qs.acount();
    let list = qs
        .clone()
        .order_by_desc(articles::Column::CreatedAt)
        .order_by_desc(articles::Column::Id)
        .limit(limit.unwrap_or(20).min(100))
        .offset(offset.unwrap_or(0))
        .alist();
    let (count, list) = tokio::try_join!(count, list)?;
    let articles = views::articles(list, reader).await?;
    Ok(Json(
        json!({ "articles": articles, "articlesCount": count }),
    ))
}

async fn list_articles(
    Query(params): Query<ListParams>,
    Reader(reader): Reader,
) -> ApiResult<Json<Value>> {
    let mut qs = articles::Entity::objects();
    if let Some(tag) = &params.tag {
        qs = qs.filter_related::<tags::Entity>(tags::Column::Name.eq(tag.as_str()));
    }
    if let Some(author) = &params.author {
        let author_ids = Sql::select()
            .column(users::Column::Id)
            .from(users::Entity)
            .and_where(users::Column::Username.eq(author.as_str()))
            .to_owned();
        qs = qs.filter(articles::Column::AuthorId.in_subquery(author_ids));
    }
    if let Some(fan) = &params.favorited {
        // articles ↔ users through favorites
        qs = qs.filter_related::<users::Entity>(users::Column::Username.eq(fan.as_str()));
    }
    page(qs, params.limit, params.offset, reader).await
}

async fn feed(me: CurrentUser, Query(params): Query<ListParams>) -> ApiResult<Json<Value>> {
    let followed: Vec<i64> = follows::Entity::objects()
        .filter(follows::Column::FollowerId.eq(me.user.id))
        .avalues_list(Some(follows::Column::FolloweeId))
        .await?;
    let qs = articles::Entity::objects().filter(articles::Column::AuthorId.is_in(followed));
    page(qs, params.limit, params.offset, Some(me.user.id)).await
}

async fn article_by_slug(slug: &str) -> ApiResult<articles::Model> {
    Ok(articles::Entity::objects()
        .aget(articles::Column::Slug.eq(slug))
        .await?)
}

async fn one_article(article: articles::Model, reader: Option<i64>) -> ApiResult<Json<Value>> {
    let mut views = views::articles(vec![article], reader).await?;
    Ok(Json(json!({ "article": views.remove(0) })))
}

async fn get_article(Path(slug): Path<String>, Reader(reader): Reader) -> ApiResult<Json<Value>> {
    one_article(article_by_slug(&slug).await?, reader).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArticleInput {
    title: Option<String>,
    description: Option<String>,
    body: Option<String>,
    tag_list: Option<Vec<String>>,
}

fn slugify(title: &str) -> String {
    let words: Vec<String> = title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{}-{}", words.join("-"), &suffix[..8])
}

/// Tags named `names`, created if missing, in one scope with the article that uses them.
async fn attach_tags(article_id: i64, names: &[String]) -> duetto::Result<()> {
    let names: Vec<String> = names
        .iter()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    tags::Entity::objects()
        .abulk_create_with(
            names.iter().map(|name| tags::ActiveModel {
                name: Set(name.clone()),
                ..Default::default()
            }),
            BulkCreate::new().ignore_conflicts(),
        )
        .await?;
    let ids: Vec<i64> = tags::Entity::objects()
        .filter(tags::Column::Name.is_in(names))
        .avalues_list(Some(tags::Column::Id))
        .await?;
    article_tags::Entity::objects()
        .abulk_create_with(
            ids.into_iter().map(|tag_id| article_tags::ActiveModel {
                article_id: Set(article_id),
                tag_id: Set(tag_id),
            }),
            BulkCreate::new().ignore_conflicts(),
        )
        .await?;
    Ok(())
}

async fn create_article(
    me: CurrentUser,
    Json(input): Json<Envelope<ArticleInput>>,
) -> ApiResult<Json<Value>> {
    let input = body("article", input.article)?;
    let title = required("title", input.title.as_deref())?.to_owned();
    let description = required("description", input.description.as_deref())?.to_owned();
    let text = required("body", input.body.as_deref())?.to_owned();
    let tag_list = input.tag_list.unwrap_or_default();
    let author = me.user.id;
    let article = duetto::aatomic(async move {
        let now = chrono::Utc::now().into();
        let article = articles::Entity::objects()
            .acreate(articles::ActiveModel {
                slug: Set(slugify(&title)),
                title: Set(title),
                description: Set(description),
                body: Set(text),
                author_id: Set(author),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            })
            .await?;
        attach_tags(article.id, &tag_list).await?;
        Ok(article)
    })
    .await?;
    one_article(article, Some(me.user.id)).await
}

async fn owned_article(me: &CurrentUser, slug: &str) -> ApiResult<articles::Model> {
    let article = article_by_slug(slug).await?;
    if article.author_id != me.user.id {
        return Err(ApiError::Forbidden);
    }
    Ok(article)
}

async fn update_article(
    me: CurrentUser,
    Path(slug): Path<String>,
    Json(input): Json<Envelope<ArticleInput>>,
) -> ApiResult<Json<Value>> {
    let changes = body("article", input.article)?;
    let article = owned_article(&me, &slug).await?;
    let mut active: articles::ActiveModel = article.into();
    if let Some(title) = changes.title {
        let title = required("title", Some(&title))?.to_owned();
        active.slug = Set(slugify(&title));
        active.title = Set(title);
    }
    if let Some(description) = changes.description {
        active.description = Set(description);
    }
    if let Some(text) = changes.body {
        active.body = Set(text);
    }
    active.updated_at = Set(chrono::Utc::now().into());
    let article = active.asave().await?;
    one_article(article, Some(me.user.id)).await
}

async fn delete_article(me: CurrentUser, Path(slug): Path<String>) -> ApiResult<Json<Value>> {
    let article = owned_article(&me, &slug).await?;
    article.adelete().await?;
    Ok(Json(json!({})))
}

async fn favorite(me: CurrentUser, Path(slug): Path<String>) -> ApiResult<Json<Value>> {
    let article = article_by_slug(&slug).await?;
    favorites::Entity::objects()
        .abulk_create_with(
            [favorites::ActiveModel {
                user_id: Set(me.user.id),
                article_id: Set(article.id),
            }],
            BulkCreate::new().ignore_conflicts(),
        )
        .await?;
    one_article(article, Some(me.user.id)).await
}

async fn unfavorite(me: CurrentUser, Path(slug): Path<String>) -> ApiResult<Json<Value>> {
    let article = article_by_slug(&slug).await?;
    favorites::Entity::objects()
        .filter(favorites::Column::UserId.eq(me.user.id))
        .filter(favorites::Column::ArticleId.eq(article.id))
        .adelete()
        .await?;
    one_article(article, Some(me.user.id)).await
}

// ---- comments ---------------------------------------------------------------------------

#[derive(Deserialize)]
struct CommentInput {
    body: Option<String>,
}

async fn list_comments(Path(slug): Path<String>, Reader(reader): Reader) -> ApiResult<Json<Value>> {
    let article = article_by_slug(&slug).await?;
    let list = comments::Entity::objects()
        .filter(comments::Column::ArticleId.eq(article.id))
        .order_by_asc(comments::Column::Id)
        .alist()
        .await?;
    Ok(Json(
        json!({ "comments": views::comments(list, reader).await? }),
    ))
}

async fn add_comment(
    me: CurrentUser,
    Path(slug): Path<String>,
    Json(input): Json<Envelope<CommentInput>>,
) -> ApiResult<Json<Value>> {
    let input = body("comment", input.comment)?;
    let text = required("body", input.body.as_deref())?.to_owned();
    let article = article_by_slug(&slug).await?;
    let now = chrono::Utc::now().into();
    let comment = comments::Entity::objects()
        .acreate(comments::ActiveModel {
            body: Set(text),
            article_id: Set(article.id),
            author_id: Set(me.user.id),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .await?;
    let mut views = views::comments(vec![comment], Some(me.user.id)).await?;
    Ok(Json(json!({ "comment": views.remove(0) })))
}

async fn delete_comment(
    me: CurrentUser,
    Path((slug, id)): Path<(String, i64)>,
) -> ApiResult<Json<Value>> {
    let article = article_by_slug(&slug).await?;
    let comment = comments::Entity::objects()
        .filter(comments::Column::ArticleId.eq(article.id))
        .aget_pk(id)
        .await?;
    if comment.author_id != me.user.id {
        return Err(ApiError::Forbidden);
    }
    comment.adelete().await?;
    Ok(Json(json!({})))
}

// ---- tags -------------------------------------------------------------------------------

async fn list_tags() -> ApiResult<Json<Value>> {
    let names: Vec<String> = tags::Entity::objects()
        .order_by_asc(tags::Column::Name)
        .avalues_list(Some(tags::Column::Name))
        .await?;
    Ok(Json(json!({ "tags": names })))
}
