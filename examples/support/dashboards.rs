//! The seed article's dashboards, in both voices: the same queries, run one after another with the
//! blocking voice, or all at once with the async voice.

use duetto::prelude::*;
use duetto::sea_orm::ColumnTrait;
use entity::{comment, notification, order, post, user};
use serde::Serialize;

#[derive(Debug, Serialize, PartialEq)]
pub struct UserView {
    pub id: i64,
    pub name: String,
    pub email: String,
}

impl From<user::Model> for UserView {
    fn from(u: user::Model) -> Self {
        UserView {
            id: u.id,
            name: u.name,
            email: u.email,
        }
    }
}

#[derive(Debug, Serialize, PartialEq)]
pub struct OrderView {
    pub id: i64,
    pub total: String,
    pub status: String,
}

/// The article's first dashboard: a user, how many posts they wrote, how many comments.
#[derive(Debug, Serialize, PartialEq)]
pub struct SmallDashboard {
    pub user: UserView,
    pub post_count: u64,
    pub comment_count: u64,
}

/// The 5-query dashboard: user, total orders, pending orders, unread notifications, 5 most
/// recent orders.
#[derive(Debug, Serialize, PartialEq)]
pub struct Dashboard {
    pub user: UserView,
    pub total_orders: u64,
    pub pending_orders: u64,
    pub unread_notifications: u64,
    pub recent_orders: Vec<OrderView>,
}

fn orders_of(user_id: i64) -> QuerySet<order::Entity> {
    order::Entity::objects().filter(order::Column::UserId.eq(user_id))
}

fn pending_orders_of(user_id: i64) -> QuerySet<order::Entity> {
    orders_of(user_id).filter(order::Column::Status.eq("pending"))
}

fn unread_notifications_of(user_id: i64) -> QuerySet<notification::Entity> {
    notification::Entity::objects()
        .filter(notification::Column::UserId.eq(user_id))
        .filter(notification::Column::Read.eq(false))
}

fn recent(user_id: i64) -> QuerySet<order::Entity> {
    orders_of(user_id)
        .order_by_desc(order::Column::CreatedAt)
        .order_by_desc(order::Column::Id)
        .limit(5)
}

fn order_views(orders: Vec<order::Model>) -> Vec<OrderView> {
    orders
        .into_iter()
        .map(|o| OrderView {
            id: o.id,
            total: o.total.to_string(),
            status: o.status,
        })
        .collect()
}

/// Blocking voice, one query after another (a Django sync view).
pub fn small_blocking(user_id: i64) -> duetto::Result<SmallDashboard> {
    Ok(SmallDashboard {
        user: user::Entity::objects().get_pk(user_id)?.into(),
        post_count: post::Entity::objects()
            .filter(post::Column::UserId.eq(user_id))
            .count()?,
        comment_count: comment::Entity::objects()
            .filter(comment::Column::UserId.eq(user_id))
            .count()?,
    })
}

/// Async voice, all queries at once (`asyncio.gather`, but really concurrent).
pub async fn small_concurrent(user_id: i64) -> duetto::Result<SmallDashboard> {
    let (user, post_count, comment_count) = tokio::try_join!(
        user::Entity::objects().aget_pk(user_id),
        post::Entity::objects()
            .filter(post::Column::UserId.eq(user_id))
            .acount(),
        comment::Entity::objects()
            .filter(comment::Column::UserId.eq(user_id))
            .acount(),
    )?;
    Ok(SmallDashboard {
        user: user.into(),
        post_count,
        comment_count,
    })
}

/// Blocking voice, one query after another.
pub fn full_blocking(user_id: i64) -> duetto::Result<Dashboard> {
    Ok(Dashboard {
        user: user::Entity::objects().get_pk(user_id)?.into(),
        total_orders: orders_of(user_id).count()?,
        pending_orders: pending_orders_of(user_id).count()?,
        unread_notifications: unread_notifications_of(user_id).count()?,
        recent_orders: order_views(recent(user_id).list()?),
    })
}

/// Async voice, one query after another (what Django's async ORM effectively does).
pub async fn full_async_serial(user_id: i64) -> duetto::Result<Dashboard> {
    Ok(Dashboard {
        user: user::Entity::objects().aget_pk(user_id).await?.into(),
        total_orders: orders_of(user_id).acount().await?,
        pending_orders: pending_orders_of(user_id).acount().await?,
        unread_notifications: unread_notifications_of(user_id).acount().await?,
        recent_orders: order_views(recent(user_id).alist().await?),
    })
}

/// Async voice, all five queries at once on five pooled connections.
pub async fn full_concurrent(user_id: i64) -> duetto::Result<Dashboard> {
    let (user, total_orders, pending_orders, unread_notifications, recent_orders) = tokio::try_join!(
        user::Entity::objects().aget_pk(user_id),
        orders_of(user_id).acount(),
        pending_orders_of(user_id).acount(),
        unread_notifications_of(user_id).acount(),
        recent(user_id).alist(),
    )?;
    Ok(Dashboard {
        user: user.into(),
        total_orders,
        pending_orders,
        unread_notifications,
        recent_orders: order_views(recent_orders),
    })
}

/// Async voice, all five reads in one batch: one round trip on one connection.
pub async fn full_batched(user_id: i64) -> duetto::Result<Dashboard> {
    let (user, total_orders, pending_orders, unread_notifications, recent_orders) =
        duetto::abatch((
            user::Entity::objects()
                .filter(user::Column::Id.eq(user_id))
                .batch_first(),
            orders_of(user_id).batch_count(),
            pending_orders_of(user_id).batch_count(),
            unread_notifications_of(user_id).batch_count(),
            recent(user_id).batch_list(),
        ))
        .await?;
    let user = user.ok_or(duetto::Error::DoesNotExist { model: "user" })?;
    Ok(Dashboard {
        user: user.into(),
        total_orders,
        pending_orders,
        unread_notifications,
        recent_orders: order_views(recent_orders),
    })
}
