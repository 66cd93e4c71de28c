//! `notification`: a message for a user, read or unread.

use sea_orm::entity::prelude::*;

/// A row of `notification`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Recipient (`user.id`).
    pub user_id: i64,
    /// Text.
    #[sea_orm(column_type = "Text")]
    pub message: String,
    /// Whether the user has seen it.
    pub read: bool,
    /// When the row was created (database default: now).
    pub created_at: DateTimeUtc,
}

/// Relations of `notification`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The recipient.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_update = "Cascade",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
