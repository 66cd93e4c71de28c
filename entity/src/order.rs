//! `order`: a purchase, `pending` → `paid` → `shipped`.

use sea_orm::entity::prelude::*;

/// A row of `order`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Buyer (`user.id`).
    pub user_id: i64,
    /// Amount, `decimal(10,2)`.
    #[sea_orm(column_type = "Decimal(Some((10, 2)))")]
    pub total: Decimal,
    /// One of `pending`, `paid`, `shipped` (checked by the database).
    pub status: String,
    /// When the row was created (database default: now).
    pub created_at: DateTimeUtc,
}

/// Relations of `order`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The buyer.
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
