//! The demo domain: user, post, comment, order, notification, with foreign keys (cascading like
//! Django's default `on_delete=CASCADE`), an index on every foreign key, and a unique email.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000001_create_demo_domain"
    }
}

#[derive(DeriveIden)]
enum User {
    Table,
    Id,
    Name,
    Email,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Post {
    Table,
    Id,
    UserId,
    Title,
    Body,
    Published,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Comment {
    Table,
    Id,
    UserId,
    PostId,
    Body,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Order {
    Table,
    Id,
    UserId,
    Total,
    Status,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Notification {
    Table,
    Id,
    UserId,
    Message,
    Read,
    CreatedAt,
}

fn id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

fn created_at(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .default(Expr::current_timestamp())
        .to_owned()
}

fn reference(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().to_owned()
}

fn cascade(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .on_update(ForeignKeyAction::Cascade)
        .to_owned()
}

fn fk_index(name: &str, table: impl IntoIden, col: impl IntoIden) -> IndexCreateStatement {
    Index::create().name(name).table(table).col(col).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(User::Table)
                    .col(id(User::Id))
                    .col(ColumnDef::new(User::Name).string_len(150).not_null())
                    .col(
                        ColumnDef::new(User::Email)
                            .string_len(254)
                            .not_null()
                            .unique_key(),
                    )
                    .col(created_at(User::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Post::Table)
                    .col(id(Post::Id))
                    .col(reference(Post::UserId))
                    .col(ColumnDef::new(Post::Title).string_len(200).not_null())
                    .col(ColumnDef::new(Post::Body).text().not_null())
                    .col(
                        ColumnDef::new(Post::Published)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(created_at(Post::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_post_user_id",
                        (Post::Table, Post::UserId),
                        (User::Table, User::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(fk_index("idx_post_user_id", Post::Table, Post::UserId))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Comment::Table)
                    .col(id(Comment::Id))
                    .col(reference(Comment::UserId))
                    .col(reference(Comment::PostId))
                    .col(ColumnDef::new(Comment::Body).text().not_null())
                    .col(created_at(Comment::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_comment_user_id",
                        (Comment::Table, Comment::UserId),
                        (User::Table, User::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_comment_post_id",
                        (Comment::Table, Comment::PostId),
                        (Post::Table, Post::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(fk_index(
                "idx_comment_user_id",
                Comment::Table,
                Comment::UserId,
            ))
            .await?;
        manager
            .create_index(fk_index(
                "idx_comment_post_id",
                Comment::Table,
                Comment::PostId,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Order::Table)
                    .col(id(Order::Id))
                    .col(reference(Order::UserId))
                    .col(ColumnDef::new(Order::Total).decimal_len(10, 2).not_null())
                    .col(
                        ColumnDef::new(Order::Status)
                            .string_len(16)
                            .not_null()
                            .default("pending")
                            .check(Expr::col(Order::Status).is_in(["pending", "paid", "shipped"])),
                    )
                    .col(created_at(Order::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_order_user_id",
                        (Order::Table, Order::UserId),
                        (User::Table, User::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(fk_index("idx_order_user_id", Order::Table, Order::UserId))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Notification::Table)
                    .col(id(Notification::Id))
                    .col(reference(Notification::UserId))
                    .col(ColumnDef::new(Notification::Message).text().not_null())
                    .col(
                        ColumnDef::new(Notification::Read)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(created_at(Notification::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_notification_user_id",
                        (Notification::Table, Notification::UserId),
                        (User::Table, User::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(fk_index(
                "idx_notification_user_id",
                Notification::Table,
                Notification::UserId,
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Children before parents, so no foreign key ever points at a dropped table.
        for table in [
            Notification::Table.into_iden(),
            Order::Table.into_iden(),
            Comment::Table.into_iden(),
            Post::Table.into_iden(),
            User::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
