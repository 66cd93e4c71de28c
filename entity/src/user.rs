//! `user`: a person with a unique email.

use sea_orm::entity::prelude::*;

/// A row of `user`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Unique login email.
    #[sea_orm(unique)]
    pub email: String,
    /// When the row was created (database default: now).
    pub created_at: DateTimeUtc,
}

/// Relations of `user`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The user's posts.
    #[sea_orm(has_many = "super::post::Entity")]
    Post,
    /// The user's comments.
    #[sea_orm(has_many = "super::comment::Entity")]
    Comment,
    /// The user's orders.
    #[sea_orm(has_many = "super::order::Entity")]
    Order,
    /// The user's notifications.
    #[sea_orm(has_many = "super::notification::Entity")]
    Notification,
}

impl Related<super::post::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Post.def()
    }
}

impl Related<super::comment::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Comment.def()
    }
}

impl Related<super::order::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Order.def()
    }
}

impl Related<super::notification::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Notification.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
