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
    /// A query that had to match exactly one row matched none (Django's `Model.DoesNotExist`).
    #[error("{model} matching query does not exist")]
    DoesNotExist {
        /// The table of the entity that was queried.
        model: &'static str,
    },

    /// A query that had to match exactly one row matched several
    /// (Django's `MultipleObjectsReturned`).
    ///
    /// `get` fetches at most 21 rows, so a `count` of 21 means "more than 20".
    #[error(
        "get() returned more than one {model} -- it returned {}!",
        if *count > 20 { "more than 20".to_owned() } else { count.to_string() }
    )]
    MultipleObjectsReturned {
        /// The table of the entity that was queried.
        model: &'static str,
        /// How many rows matched (capped at 21).
        count: u64,
    },

    /// The database refused a write that would break a constraint: a unique or primary key, a
    /// foreign key, `NOT NULL`, or a `CHECK` (Django's `IntegrityError`). Classified from the driver
    /// error on every backend; the original error is the [`source`](std::error::Error::source).
    #[error("integrity error ({kind}): {message}")]
    Integrity {
        /// Which kind of constraint was violated.
        kind: IntegrityKind,
        /// The database's message.
        message: String,
        /// The driver error, unchanged.
        #[source]
        source: DbErr,
    },

    /// The query cannot be run as built (e.g. `update` on a sliced queryset, a composite primary
    /// key where only a single column is supported).
    #[error("`{operation}` is not supported here: {reason}")]
    NotSupported {
        /// The operation that was refused.
        operation: &'static str,
        /// Why.
        reason: String,
    },

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

    /// A page number outside a [`Paginator`](crate::Paginator)'s pages (Django's `InvalidPage`):
    /// 0, or past the last page.
    #[error("page {page} does not exist: there are {num_pages} page(s), numbered from 1")]
    InvalidPage {
        /// The page asked for.
        page: u64,
        /// How many pages there are.
        num_pages: u64,
    },

    /// A keyset cursor that this [`Keyset`](crate::Keyset) did not make: malformed, altered, or
    /// made for another ordering.
    #[error("invalid cursor: {reason}")]
    InvalidCursor {
        /// What is wrong with it.
        reason: String,
    },

    /// A [`ConnectOptions`](crate::ConnectOptions) setting is malformed (e.g. a
    /// [`session_setting`](crate::ConnectOptions::session_setting) name that is not a plain name).
    #[error("invalid connect option `{option}`: {reason}")]
    InvalidOption {
        /// The option, e.g. `"session_setting"`.
        option: &'static str,
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

    /// A transaction could not be opened, committed, joined or kept (Django's
    /// `TransactionManagementError`); [`problem`](TransactionProblem) says which, and `source`
    /// holds the database error behind it, if any.
    ///
    /// ```
    /// use duetto::{Error, TransactionProblem};
    ///
    /// # fn handle(err: Error) {
    /// match err {
    ///     Error::Transaction { problem: TransactionProblem::Broken { reason }, alias, .. } => {
    ///         eprintln!("the scope on {alias} rolled back because a statement failed: {reason}")
    ///     }
    ///     other => eprintln!("{other}"),
    /// }
    /// # }
    /// ```
    #[error(
        "transaction on `{alias}`: {problem}{}",
        source.as_ref().map(|s| format!(": {s}")).unwrap_or_default()
    )]
    Transaction {
        /// The alias of the database the transaction was on.
        alias: String,
        /// What went wrong.
        problem: TransactionProblem,
        /// The error behind it (a database error when `BEGIN` or `COMMIT` failed).
        #[source]
        source: Option<Box<Error>>,
    },

    /// The connection was lost while a statement was on it: the server restarted, shut down or
    /// killed the session, or the network failed. The connection is closed and never reused,
    /// and the pool checks the connections that were idle beside it before handing them out.
    ///
    /// A read outside a transaction scope is retried once on a fresh connection before this is
    /// returned, since repeating it has no side effects; a write, or anything inside a scope,
    /// never is. `might_have_committed` says whether the write may have taken effect anyway:
    /// `true` when the statement (or the scope's `COMMIT`) was sent and no reply came, so check
    /// before repeating it; `false` when nothing could have committed (a read, a statement inside
    /// a transaction the server rolled back, or a server that replied it was ending the session).
    ///
    /// ```
    /// use duetto::Error;
    ///
    /// # fn handle(err: Error) {
    /// match err {
    ///     Error::ConnectionLost { might_have_committed: false, .. } => {
    ///         // Nothing took effect: safe to try again.
    ///     }
    ///     Error::ConnectionLost { might_have_committed: true, .. } => {
    ///         // Look before repeating a write that may have happened.
    ///     }
    ///     other => eprintln!("{other}"),
    /// }
    /// # }
    /// ```
    #[error(
        "the connection to `{alias}` was lost{}: {source}",
        if *might_have_committed {
            " (the write was sent and no reply came: it may have committed)"
        } else {
            ""
        }
    )]
    ConnectionLost {
        /// The alias of the database.
        alias: String,
        /// Whether the write may have taken effect (see above).
        might_have_committed: bool,
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

    /// An application error, typically returned from an atomic scope's body to roll it back
    /// (see [`Error::other`]).
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),

    /// Any other error reported by SeaORM or the driver.
    #[error(transparent)]
    Db(DbErr),
}

/// What went wrong with a transaction ([`Error::Transaction`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransactionProblem {
    /// `BEGIN` (or `SAVEPOINT`) failed; the body did not run.
    Begin,
    /// `COMMIT` (or `RELEASE SAVEPOINT`) failed; the transaction rolled back.
    Commit,
    /// `ROLLBACK` (or `ROLLBACK TO SAVEPOINT`) failed; the connection was closed, which rolls
    /// the transaction back on the server.
    Rollback,
    /// A statement inside the scope failed, so the scope rolled back even though its body
    /// returned `Ok` (PostgreSQL refuses every statement after a failure anyway; duetto makes all
    /// backends agree). Wrap statements that may fail in a nested scope to recover.
    Broken {
        /// The failed statement's error.
        reason: String,
    },
    /// A statement inside the scope was cancelled half-way through its exchange with the server
    /// (a timeout or `select!` around it), so the connection's state is unknown: the transaction
    /// was rolled back and its connection closed.
    Interrupted,
    /// The scope has already ended: a task or stream started inside it outlived it.
    Ended,
    /// The scope's connection was lost (the server restarted or ended the session): the server
    /// rolled the transaction back.
    ConnectionLost,
    /// The operation needs an open transaction scope and there is none.
    OutsideScope {
        /// The operation that was refused, e.g. `"select_for_update"`.
        operation: &'static str,
    },
}

impl std::fmt::Display for TransactionProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransactionProblem::Begin => f.write_str("cannot open a transaction"),
            TransactionProblem::Commit => f.write_str("commit failed; rolled back"),
            TransactionProblem::Rollback => f.write_str("rollback failed; connection closed"),
            TransactionProblem::Broken { reason } => write!(
                f,
                "the atomic scope was rolled back: a statement inside it failed ({reason})"
            ),
            TransactionProblem::Interrupted => f.write_str(
                "a statement inside the atomic scope was cancelled mid-exchange; rolled back",
            ),
            TransactionProblem::Ended => f.write_str(
                "the atomic scope has already ended; a task or stream started inside it \
                 outlived it (await such tasks before the scope ends)",
            ),
            TransactionProblem::ConnectionLost => {
                f.write_str("the connection was lost; the server rolled the transaction back")
            }
            TransactionProblem::OutsideScope { operation } => {
                write!(f, "{operation} cannot be used outside of an atomic scope")
            }
        }
    }
}

/// The kind of constraint an [`Error::Integrity`] violated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IntegrityKind {
    /// A unique index or primary key already holds the value.
    Unique,
    /// The referenced row does not exist, or other rows still reference this one.
    ForeignKey,
    /// A `NOT NULL` column was given no value.
    NotNull,
    /// A `CHECK` constraint rejected the row.
    Check,
}

impl std::fmt::Display for IntegrityKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            IntegrityKind::Unique => "unique",
            IntegrityKind::ForeignKey => "foreign key",
            IntegrityKind::NotNull => "not null",
            IntegrityKind::Check => "check",
        })
    }
}

impl From<DbErr> for Error {
    /// Constraint violations become [`Error::Integrity`]; everything else [`Error::Db`].
    fn from(err: DbErr) -> Self {
        match integrity_kind(&err) {
            Some((kind, message)) => Error::Integrity {
                kind,
                message,
                source: err,
            },
            None => Error::Db(err),
        }
    }
}

/// sqlx already maps each backend's codes (SQLSTATE 23xxx, MySQL 1062/1451/1452/1048/3819/4025,
/// SQLite's extended constraint codes) onto one `ErrorKind`; read it through SeaORM's wrapper.
fn integrity_kind(err: &DbErr) -> Option<(IntegrityKind, String)> {
    use sea_orm::sqlx::error::ErrorKind;
    use sea_orm::RuntimeErr;

    let runtime = match err {
        DbErr::Exec(e) | DbErr::Query(e) | DbErr::Conn(e) => e,
        _ => return None,
    };
    let RuntimeErr::SqlxError(sqlx_err) = runtime else {
        return None;
    };
    let database = sqlx_err.as_database_error()?;
    let kind = match database.kind() {
        ErrorKind::UniqueViolation => IntegrityKind::Unique,
        ErrorKind::ForeignKeyViolation => IntegrityKind::ForeignKey,
        ErrorKind::NotNullViolation => IntegrityKind::NotNull,
        ErrorKind::CheckViolation => IntegrityKind::Check,
        _ => return None,
    };
    Some((kind, database.message().to_owned()))
}

impl Error {
    /// Wraps an application error, e.g. to return it from an atomic scope's body; get it back
    /// with `std::error::Error::source` or by matching [`Error::Other`] and downcasting.
    ///
    /// ```
    /// let err = duetto::Error::other(std::io::Error::other("disk full"));
    /// assert_eq!(err.to_string(), "disk full");
    /// ```
    pub fn other(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Other(error.into())
    }

    /// An [`Error::Transaction`] with no source.
    pub(crate) fn transaction(alias: &str, problem: TransactionProblem) -> Self {
        Error::Transaction {
            alias: alias.to_owned(),
            problem,
            source: None,
        }
    }

    /// An [`Error::Transaction`] caused by `source`.
    pub(crate) fn transaction_because(
        alias: &str,
        problem: TransactionProblem,
        source: impl Into<Error>,
    ) -> Self {
        Error::Transaction {
            alias: alias.to_owned(),
            problem,
            source: Some(Box::new(source.into())),
        }
    }

    /// Whether the database itself reported this error (so a transaction it happened in can no
    /// longer commit).
    pub(crate) fn is_from_database(&self) -> bool {
        matches!(
            self,
            Error::Db(_) | Error::Integrity { .. } | Error::ConnectionLost { .. }
        )
    }

    /// This error as [`Error::ConnectionLost`] if it is a lost connection on `alias`;
    /// `write_outside_scope` when the statement was a write that commits on its own.
    pub(crate) fn lost_connection(self, alias: &str, write_outside_scope: bool) -> Self {
        let Error::Db(source) = self else { return self };
        match crate::connection_loss::loss(&source) {
            Some(loss) => Error::ConnectionLost {
                alias: alias.to_owned(),
                might_have_committed: write_outside_scope
                    && loss == crate::connection_loss::Loss::NoReply,
                source,
            },
            None => Error::Db(source),
        }
    }
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
