//! Test support (cargo feature `testing`): a fresh database per test on any backend, Django
//! `TestCase`-style isolation in a transaction that always rolls back, and a latency proxy.
//!
//! - [`TestDatabase`]: a new, empty database for one test — a temporary SQLite file, or a new
//!   database on the PostgreSQL / MySQL server named by `DUETTO_TEST_POSTGRES_URL` /
//!   `DUETTO_TEST_MYSQL_URL` — dropped with the value, so tests run in parallel without sharing
//!   state. [`backends`] lists the backends this run can use (`DUETTO_TEST_REQUIRE` turns a
//!   missing one into an error instead of a skip).
//! - [`atest_transaction`] / [`test_transaction`]: the body runs inside a transaction that is
//!   always rolled back; the code's own scopes become savepoints, and `on_commit` callbacks wait
//!   in [`CommitCallbacks`] until the test runs them.
//! - [`LatencyProxy`]: delays every byte to and from a local server, so the effect of network
//!   latency can be measured on one machine.
//!
//! ```no_run
//! use duetto::testing::{backends, TestDatabase};
//!
//! # async fn migrate(conn: duetto::sea_orm::DatabaseConnection) -> Result<(), duetto::sea_orm::DbErr> { Ok(()) }
//! # #[tokio::main] async fn main() -> duetto::Result<()> {
//! for backend in backends()? {
//!     let test = TestDatabase::create(backend).await?.migrate(migrate).await?;
//!     // … run the test against test.db() …
//! #   let _ = test;
//! }
//! # Ok(()) }
//! ```

mod database;
mod isolation;
mod latency_proxy;

pub use database::{backends, TestDatabase};
pub use isolation::{atest_transaction, test_transaction, CommitCallbacks};
pub use latency_proxy::LatencyProxy;
