//! `post`: a user's article.

use sea_orm::entity::prelude::*;

/// A row of `post`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "post")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Author (`user.id`).
    pub user_id: i64,
    /// Headline.
    pub title: String,
    /// Text.
    #[sea_orm(column_type = "Text")]
    pub body: String,
    /// Visible to readers.
    pub published: bool,
    /// When the row was created (database default: now).
    pub created_at: DateTimeUtc,
}

/// Relations of `post`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The author.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_update = "Cascade",
        on_delete = "Cascade"
    )]
    User,
    /// Comments on the post.
    #[sea_orm(has_many = "super::comment::Entity")]
    Comment,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl Related<super::comment::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Comment.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
