//! # duetto
//!
//! Django-style data access for Rust on top of SeaORM: every query has two voices, an async one
//! (`aget`, `acount`, …) and a blocking twin (`get`, `count`, …), and a bridge
//! ([`bridge::async_to_sync`], [`bridge::sync_to_async`]) lets sync and async code call each other
//! safely. SQLite (embedded), PostgreSQL and MySQL/MariaDB.
//!
//! ```
//! use duetto::prelude::*;
//!
//! fn main() -> duetto::Result<()> {
//!     // From plain sync code: no runtime to set up, duetto owns one.
//!     let db = Db::connect_blocking("sqlite::memory:")?;
//!     duetto::set_default(db.clone());
//!     db.ping()?;
//!
//!     // From async code: the async voice.
//!     let backend = async_to_sync(async move {
//!         let db = duetto::default_db()?;
//!         db.aping().await?;
//!         Ok::<_, duetto::Error>(db.backend())
//!     })??;
//!     assert_eq!(backend, duetto::Backend::Sqlite);
//!     Ok(())
//! }
//! ```
//!
//! ## Runtime model
//!
//! All pools and connections belong to one *home* runtime ([`runtime`]). Blocking calls poll
//! their future on the calling thread with home entered; async calls made on home run in place;
//! async calls from any other executor are polled with home entered. Whatever they open or spawn
//! is home's, so pools survive the runtime that created them (a `#[tokio::test]`, a short
//! `block_on`), and no call pays a hop between threads.
//!
//! ## Layers
//!
//! From the bottom, each using only those below it: `error` and [`runtime`]; `context` (what a
//! task or thread carries: open scopes, the waiting sync caller, the blocking mark); [`observe`]
//! (spans, captures, where a statement comes from); [`bridge`];
//! `pool` (connections that know whether their last exchange completed, hot ones reused with no
//! round trip) and `db`; `executor` (where a statement runs: the pool, a request scope's kept
//! connection, or a transaction's); [`transaction`] and [`request`]; the query layer
//! ([`QuerySet`], batches) and the model extensions.

#![warn(missing_docs)]

pub mod agg;
pub mod bridge;
mod connect_options;
mod connection_loss;
mod context;
mod database_url;
mod db;
#[doc(hidden)]
pub mod doc_db;
mod error;
mod executor;
mod model;
pub mod observe;
pub mod prefetch {
    //! Batched loading of relations (Django's `prefetch_related`): one statement per relation
    //! level for a whole list of rows. See [`Prefetch`] and [`QuerySet::prefetch`](crate::QuerySet::prefetch).
    pub use crate::query::related::prefetch::*;
}
mod pool;
mod query;
mod registry;
pub mod request;
pub mod runtime;
mod sqlite_decimal;
#[cfg(feature = "testing")]
pub mod testing;
pub mod transaction;

pub use connect_options::{ConnectOptions, DEFAULT_ALIAS};
pub use database_url::DatabaseUrl;
pub use db::{Backend, Db, PoolStatus};
pub use error::{Error, IntegrityKind, Result, TransactionProblem};
pub use executor::Using;
pub use model::{ActiveModelExt, ModelExt};
pub use query::batch::{abatch, batch, Batch, BatchRead};
pub use query::raw::{raw, Raw};
pub use query::write::BulkCreate;
pub use query::{
    Also, Annotated, CursorPage, Grouped, Joins, Keyset, ModelIter, ModelStream, Objects, Page,
    Paginator, PrimaryKeyOf, QuerySet, SelectRelated, WithRelated,
};
pub use registry::{db, default_db, register, set_default, unregister};
pub use request::{arequest_scope, request_scope};
pub use sqlite_decimal::SqliteDecimal;
pub use transaction::{aatomic, aon_commit, atomic, on_commit, AtomicOptions};

/// SeaORM, re-exported so entities, conditions and columns come from the version duetto uses.
pub use sea_orm;

/// `use duetto::prelude::*;` brings the names most code needs.
pub mod prelude {
    pub use crate::bridge::{async_to_sync, sync_to_async, sync_to_async_thread_sensitive};
    pub use crate::{
        ActiveModelExt, ConnectOptions, Db, Error, ModelExt, Objects, QuerySet, Result,
    };
}
