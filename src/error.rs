//! The one error type of duetto.

use sea_orm::DbErr;

/// Everything a duetto call can fail with.
///
/// Variants name the model, the operation or the database alias involved, so a message read in a log
/// is enough to find the call that produced it. The enum is `#[non_exhaustive]`: match the variants you
/// handle and keep a `_` arm.
///
/// ```
/// use duetto::Error;
///
/// let err = Error::NoDatabase { alias: "default".into() };
/// assert_eq!(
///     err.to_string(),
///     "no database registered under alias `default` (call duetto::set_default or duetto::register first)"
/// );
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A blocking call was made on a thread that drives async tasks, where blocking would stall
    /// every other task on that executor (Django's `SynchronousOnlyOperation`).
    #[error(
        "You cannot call `{operation}` from an async context - {}",
        async_advice(operation)
    )]
    SynchronousOnlyOperation {
        /// The blocking operation that was refused, e.g. `"get"`.
        operation: &'static str,
    },

    /// No database is registered under the alias a call resolved to.
    #[error(
        "no database registered under alias `{alias}` \
         (call duetto::set_default or duetto::register first)"
    )]
    NoDatabase {
        /// The alias that was looked up (`"default"` when the call named none).
        alias: String,
    },

    /// The database URL could not be parsed.
    #[error("invalid database URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given, with any password replaced by `***`.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The URL names a scheme duetto does not know, or one whose backend feature is disabled.
    #[error("unsupported database scheme `{scheme}` in `{url}`: {reason}")]
    UnsupportedBackend {
        /// The scheme of the URL, e.g. `"oracle"`.
        scheme: String,
        /// The URL as given, with any password replaced by `***`.
        url: String,
        /// Which schemes are accepted, or which cargo feature is missing.
        reason: String,
    },

    /// The database could not be reached or refused the connection (server down, wrong database
    /// name, bad credentials, timeout).
    #[error("could not connect to `{url}`: {source}")]
    Connect {
        /// The URL as given, with any password replaced by `***`.
        url: String,
        /// The driver's error.
        #[source]
        source: DbErr,
    },

    /// The home runtime that owns duetto's connections has shut down, so the call cannot run.
    #[error("duetto's home runtime has shut down; no database call can run any more")]
    RuntimeShutdown,

    /// Misuse of the runtime configuration, e.g. adopting a runtime after the first connection.
    #[error("runtime configuration: {0}")]
    Runtime(String),

    /// Any other error reported by SeaORM or the driver.
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// What to do instead of a blocking call in async code: name its async twin.
fn async_advice(operation: &str) -> String {
    if operation == "async_to_sync" {
        return "await the future directly instead".to_owned();
    }
    let twin = match operation.strip_suffix("_blocking") {
        Some(async_name) => async_name.to_owned(),
        None => format!("a{operation}"),
    };
    format!("use `{twin}(..).await`, or wrap the call in duetto::bridge::sync_to_async")
}

/// `Result<T, duetto::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
