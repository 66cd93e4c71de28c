//! SeaORM entities for duetto's demo domain (see the `migration` crate for the schema).
//!
//! Plain SeaORM 2 entities: duetto's paired API applies to them (and to any other entity) with no
//! extra code.

pub mod comment;
pub mod notification;
pub mod order;
pub mod post;
pub mod user;

/// Every entity, for `use entity::prelude::*`.
pub mod prelude {
    pub use super::comment::Entity as Comment;
    pub use super::notification::Entity as Notification;
    pub use super::order::Entity as Order;
    pub use super::post::Entity as Post;
    pub use super::user::Entity as User;
}
