//! `Conn`: what a query runs on — the pool, or the transaction open in the caller's scope.

use std::sync::Arc;

use super::scope::Scope;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseExecutor, DatabaseTransaction, DbBackend, DbErr,
    ExecResult, QueryResult, Statement, TransactionTrait,
};

/// The connection a duetto operation executes on. Owned, so it can move into the future that
/// runs the query.
#[derive(Clone)]
pub(crate) enum Conn {
    /// No transaction is open on this database in the caller's scope: any pooled connection.
    Pool(DatabaseConnection),
    /// The innermost open transaction (or savepoint) of the caller's scope on this database,
    /// with that scope, which a failing statement marks broken.
    Txn(Arc<DatabaseTransaction>, Arc<Scope>),
}

impl Conn {
    fn executor(&self) -> DatabaseExecutor<'_> {
        match self {
            Conn::Pool(conn) => DatabaseExecutor::Connection(conn),
            Conn::Txn(txn, _) => DatabaseExecutor::Transaction(txn),
        }
    }

    /// A transaction nested in this connection: a new transaction on the pool, a savepoint
    /// inside an open transaction.
    pub(crate) async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        self.executor().begin().await
    }

    /// The caller's transaction scope this runs in, if any.
    pub(crate) fn scope(&self) -> Option<&Arc<Scope>> {
        match self {
            Conn::Pool(_) => None,
            Conn::Txn(_, scope) => Some(scope),
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Conn {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            Conn::Pool(conn) => conn.get_database_backend(),
            Conn::Txn(txn, _) => txn.get_database_backend(),
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.executor().execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.executor().execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.executor().query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.executor().query_all_raw(stmt).await
    }
}
