//! Raw SQL that runs where every duetto call runs (Django's `connection.cursor()` and
//! `Manager.raw()`): inside the caller's transaction scope when one is open on the database,
//! else on a connection of its own; observed, cancellation-safe, in both voices.

use std::future::Future;

use sea_orm::sea_query::Value;
use sea_orm::{ConnectionTrait, FromQueryResult, QueryResult, Statement};

use crate::bridge::blocking_twin;
use crate::executor::{Runner, Using};
use crate::{Error, Result};

/// A raw SQL statement with its bound values, not yet run. Make one with [`raw`] (or
/// [`Db::raw_sql`](crate::Db::raw_sql)); run it with [`aexecute`](Self::aexecute),
/// [`afetch_all`](Self::afetch_all), [`afetch_one`](Self::afetch_one) or
/// [`afetch_as`](Self::afetch_as), or their blocking twins.
///
/// The SQL is sent as written, so use the backend's placeholders (`$1, $2` on PostgreSQL, `?`
/// on MySQL and SQLite) and bind every value: values are never spliced into the text.
///
/// ```
/// # duetto::doc_db::with_users(|| async {
/// let renamed = duetto::raw(
///     r#"UPDATE "user" SET name = ? WHERE email = ?"#,
///     ["Ada King", "ada@example.com"],
/// )
/// .aexecute()
/// .await?;
/// assert_eq!(renamed, 1);
/// # Ok(()) });
/// ```
#[derive(Debug, Clone)]
pub struct Raw {
    sql: String,
    values: Vec<Value>,
    using: Using,
}

/// A raw statement, `sql` with `values` bound to its placeholders, on the default database (see
/// [`Raw`]).
///
/// ```
/// # duetto::doc_db::with_users_blocking(|| {
/// let rows = duetto::raw(r#"SELECT name FROM "user" WHERE id < ? ORDER BY id"#, [3]).fetch_all()?;
/// let names: Vec<String> = rows.iter().map(|r| r.try_get("", "name")).collect::<Result<_, _>>()?;
/// assert_eq!(names, ["Ada Lovelace", "Alan Turing"]);
/// # Ok(()) });
/// ```
pub fn raw<V: Into<Value>>(sql: impl Into<String>, values: impl IntoIterator<Item = V>) -> Raw {
    Raw {
        sql: sql.into(),
        values: values.into_iter().map(Into::into).collect(),
        using: Using::Default,
    }
}

impl Raw {
    /// Runs on the database `db` names instead of the default one.
    ///
    /// ```
    /// let on_reports = duetto::raw("SELECT 1", Vec::<i32>::new()).using("reports");
    /// # let _ = on_reports;
    /// ```
    pub fn using(mut self, db: impl Into<Using>) -> Self {
        self.using = db.into();
        self
    }

    fn statement(&self, backend: sea_orm::DbBackend) -> Statement {
        Statement::from_sql_and_values(backend, self.sql.clone(), self.values.clone())
    }

    /// Runs the statement and returns how many rows it changed (an `INSERT`, `UPDATE`,
    /// `DELETE`, or DDL).
    ///
    /// # Errors
    ///
    /// The database's error ([`Error::Integrity`] for a constraint violation); inside a scope,
    /// a failed statement breaks the scope like any other.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::prelude::*;
    /// let gone = duetto::aatomic(async {
    ///     duetto::raw(r#"DELETE FROM "user" WHERE id = ?"#, [3]).aexecute().await
    /// })
    /// .await?;
    /// assert_eq!(gone, 1);
    /// assert_eq!(entity::user::Entity::objects().acount().await?, 2);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn aexecute(&self) -> impl Future<Output = Result<u64>> + Send + 'static {
        let raw = self.clone();
        Runner::new(self.using.clone(), false).run(move |conn| async move {
            let stmt = raw.statement(conn.get_database_backend());
            Ok(conn.execute_raw(stmt).await?.rows_affected())
        })
    }

    /// Blocking twin of [`aexecute`](Self::aexecute).
    ///
    /// # Errors
    ///
    /// As [`aexecute`](Self::aexecute), plus [`Error::SynchronousOnlyOperation`] in async code.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// let n = duetto::raw(r#"UPDATE "user" SET name = name"#, Vec::<i32>::new()).execute()?;
    /// assert_eq!(n, 3);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn execute(&self) -> Result<u64> {
        blocking_twin("execute", self.aexecute())
    }

    /// Runs the query and returns its rows, to read with `QueryResult::try_get`.
    ///
    /// # Errors
    ///
    /// The database's error.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// let rows = duetto::raw(r#"SELECT COUNT(*) AS n FROM "user""#, Vec::<i32>::new())
    ///     .afetch_all()
    ///     .await?;
    /// assert_eq!(rows[0].try_get::<i64>("", "n")?, 3);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn afetch_all(&self) -> impl Future<Output = Result<Vec<QueryResult>>> + Send + 'static {
        let raw = self.clone();
        Runner::new(self.using.clone(), false).run(move |conn| async move {
            let stmt = raw.statement(conn.get_database_backend());
            Ok(conn.query_all_raw(stmt).await?)
        })
    }

    /// Blocking twin of [`afetch_all`](Self::afetch_all).
    ///
    /// # Errors
    ///
    /// As [`afetch_all`](Self::afetch_all), plus [`Error::SynchronousOnlyOperation`] in async
    /// code.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// let rows = duetto::raw(r#"SELECT id FROM "user""#, Vec::<i32>::new()).fetch_all()?;
    /// assert_eq!(rows.len(), 3);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn fetch_all(&self) -> Result<Vec<QueryResult>> {
        blocking_twin("fetch_all", self.afetch_all())
    }

    /// Runs the query and returns its first row, if any.
    ///
    /// # Errors
    ///
    /// The database's error.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// let row = duetto::raw(r#"SELECT name FROM "user" WHERE id = ?"#, [2]).afetch_one().await?;
    /// assert_eq!(row.unwrap().try_get::<String>("", "name")?, "Alan Turing");
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn afetch_one(&self) -> impl Future<Output = Result<Option<QueryResult>>> + Send + 'static {
        let raw = self.clone();
        Runner::new(self.using.clone(), false).run(move |conn| async move {
            let stmt = raw.statement(conn.get_database_backend());
            Ok(conn.query_one_raw(stmt).await?)
        })
    }

    /// Blocking twin of [`afetch_one`](Self::afetch_one).
    ///
    /// # Errors
    ///
    /// As [`afetch_one`](Self::afetch_one), plus [`Error::SynchronousOnlyOperation`] in async
    /// code.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// let none = duetto::raw(r#"SELECT id FROM "user" WHERE id = ?"#, [99]).fetch_one()?;
    /// assert!(none.is_none());
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn fetch_one(&self) -> Result<Option<QueryResult>> {
        blocking_twin("fetch_one", self.afetch_one())
    }

    /// Runs the query and reads each row into `T`, a struct deriving SeaORM's
    /// `FromQueryResult` (column names match field names).
    ///
    /// # Errors
    ///
    /// The database's error; [`Error::Db`] when a row lacks a field of `T` or has the wrong
    /// type.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// use duetto::sea_orm::FromQueryResult;
    ///
    /// #[derive(Debug, FromQueryResult)]
    /// struct Author {
    ///     name: String,
    ///     posts: i64,
    /// }
    ///
    /// let authors: Vec<Author> = duetto::raw(
    ///     r#"SELECT u.name, COUNT(p.id) AS posts FROM "user" u JOIN post p ON p.user_id = u.id
    ///        GROUP BY u.id, u.name ORDER BY posts DESC"#,
    ///     Vec::<i32>::new(),
    /// )
    /// .afetch_as()
    /// .await?;
    /// assert_eq!(authors[0].name, "Ada Lovelace");
    /// assert_eq!(authors[0].posts, 3);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn afetch_as<T>(&self) -> impl Future<Output = Result<Vec<T>>> + Send + 'static
    where
        T: FromQueryResult + Send + 'static,
    {
        let rows = self.afetch_all();
        async move {
            rows.await?
                .iter()
                .map(|row| T::from_query_result(row, "").map_err(Error::from))
                .collect()
        }
    }

    /// Blocking twin of [`afetch_as`](Self::afetch_as).
    ///
    /// # Errors
    ///
    /// As [`afetch_as`](Self::afetch_as), plus [`Error::SynchronousOnlyOperation`] in async
    /// code.
    ///
    /// ```
    /// # duetto::doc_db::with_users_blocking(|| {
    /// #[derive(duetto::sea_orm::FromQueryResult)]
    /// struct Name {
    ///     name: String,
    /// }
    /// let names: Vec<Name> = duetto::raw(r#"SELECT name FROM "user""#, Vec::<i32>::new()).fetch_as()?;
    /// assert_eq!(names.len(), 3);
    /// # Ok(()) });
    /// ```
    #[track_caller]
    pub fn fetch_as<T>(&self) -> Result<Vec<T>>
    where
        T: FromQueryResult + Send + 'static,
    {
        blocking_twin("fetch_as", self.afetch_as())
    }
}

impl crate::Db {
    /// A raw SQL statement on this database (see [`Raw`](crate::Raw)): inside a scope on this
    /// database it runs on the scope's transaction.
    ///
    /// ```
    /// # duetto::doc_db::with_users(|| async {
    /// let db = duetto::default_db()?;
    /// let n = db
    ///     .raw_sql(r#"SELECT COUNT(*) AS n FROM "user""#, Vec::<i32>::new())
    ///     .afetch_one()
    ///     .await?
    ///     .unwrap()
    ///     .try_get::<i64>("", "n")?;
    /// assert_eq!(n, 3);
    /// # Ok(()) });
    /// ```
    pub fn raw_sql<V: Into<sea_orm::Value>>(
        &self,
        sql: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> crate::Raw {
        raw(sql, values).using(self)
    }
}
