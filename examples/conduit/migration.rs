//! Conduit's schema. A migrator of the example's own, not the `migration` crate's: Conduit is an
//! application of duetto, not part of the demo domain every test migrates, so its tables live in
//! its own database and its own migration list.

use sea_orm_migration::prelude::*;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(CreateConduit)]
    }
}

struct CreateConduit;

impl MigrationName for CreateConduit {
    fn name(&self) -> &str {
        "m20261125_000001_create_conduit"
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    Username,
    PasswordHash,
    Bio,
    Image,
}

#[derive(DeriveIden)]
enum Follows {
    Table,
    FollowerId,
    FolloweeId,
}

#[derive(DeriveIden)]
enum Articles {
    Table,
    Id,
    Slug,
    Title,
    Description,
    Body,
    AuthorId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Tags {
    Table,
    Id,
    Name,
}

#[derive(DeriveIden)]
enum ArticleTags {
    Table,
    ArticleId,
    TagId,
}

#[derive(DeriveIden)]
enum Favorites {
    Table,
    UserId,
    ArticleId,
}

#[derive(DeriveIden)]
enum Comments {
    Table,
    Id,
    Body,
    ArticleId,
    AuthorId,
    CreatedAt,
    UpdatedAt,
}

fn id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

fn key(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().to_owned()
}

fn timestamp(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn fk(
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

#[async_trait::async_trait]
impl MigrationTrait for CreateConduit {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(id(Users::Id))
                .col(
                    ColumnDef::new(Users::Email)
                        .string_len(255)
                        .not_null()
                        .unique_key(),
                )
                .col(
                    ColumnDef::new(Users::Username)
                        .string_len(255)
                        .not_null()
                        .unique_key(),
                )
                .col(
                    ColumnDef::new(Users::PasswordHash)
                        .string_len(255)
                        .not_null(),
                )
                .col(ColumnDef::new(Users::Bio).text())
                .col(ColumnDef::new(Users::Image).string_len(1024))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Follows::Table)
                .col(key(Follows::FollowerId))
                .col(key(Follows::FolloweeId))
                .primary_key(
                    Index::create()
                        .col(Follows::FollowerId)
                        .col(Follows::FolloweeId),
                )
                .foreign_key(&mut fk(
                    "fk_follows_follower",
                    (Follows::Table, Follows::FollowerId),
                    (Users::Table, Users::Id),
                ))
                .foreign_key(&mut fk(
                    "fk_follows_followee",
                    (Follows::Table, Follows::FolloweeId),
                    (Users::Table, Users::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Articles::Table)
                .col(id(Articles::Id))
                .col(
                    ColumnDef::new(Articles::Slug)
                        .string_len(255)
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(Articles::Title).string_len(255).not_null())
                .col(ColumnDef::new(Articles::Description).text().not_null())
                .col(ColumnDef::new(Articles::Body).text().not_null())
                .col(key(Articles::AuthorId))
                .col(timestamp(Articles::CreatedAt))
                .col(timestamp(Articles::UpdatedAt))
                .foreign_key(&mut fk(
                    "fk_articles_author",
                    (Articles::Table, Articles::AuthorId),
                    (Users::Table, Users::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_articles_author_id")
                .table(Articles::Table)
                .col(Articles::AuthorId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Tags::Table)
                .col(id(Tags::Id))
                .col(
                    ColumnDef::new(Tags::Name)
                        .string_len(255)
                        .not_null()
                        .unique_key(),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ArticleTags::Table)
                .col(key(ArticleTags::ArticleId))
                .col(key(ArticleTags::TagId))
                .primary_key(
                    Index::create()
                        .col(ArticleTags::ArticleId)
                        .col(ArticleTags::TagId),
                )
                .foreign_key(&mut fk(
                    "fk_article_tags_article",
                    (ArticleTags::Table, ArticleTags::ArticleId),
                    (Articles::Table, Articles::Id),
                ))
                .foreign_key(&mut fk(
                    "fk_article_tags_tag",
                    (ArticleTags::Table, ArticleTags::TagId),
                    (Tags::Table, Tags::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Favorites::Table)
                .col(key(Favorites::UserId))
                .col(key(Favorites::ArticleId))
                .primary_key(
                    Index::create()
                        .col(Favorites::UserId)
                        .col(Favorites::ArticleId),
                )
                .foreign_key(&mut fk(
                    "fk_favorites_user",
                    (Favorites::Table, Favorites::UserId),
                    (Users::Table, Users::Id),
                ))
                .foreign_key(&mut fk(
                    "fk_favorites_article",
                    (Favorites::Table, Favorites::ArticleId),
                    (Articles::Table, Articles::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Comments::Table)
                .col(id(Comments::Id))
                .col(ColumnDef::new(Comments::Body).text().not_null())
                .col(key(Comments::ArticleId))
                .col(key(Comments::AuthorId))
                .col(timestamp(Comments::CreatedAt))
                .col(timestamp(Comments::UpdatedAt))
                .foreign_key(&mut fk(
                    "fk_comments_article",
                    (Comments::Table, Comments::ArticleId),
                    (Articles::Table, Articles::Id),
                ))
                .foreign_key(&mut fk(
                    "fk_comments_author",
                    (Comments::Table, Comments::AuthorId),
                    (Users::Table, Users::Id),
                ))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Comments::Table.into_iden(),
            Favorites::Table.into_iden(),
            ArticleTags::Table.into_iden(),
            Tags::Table.into_iden(),
            Articles::Table.into_iden(),
            Follows::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
