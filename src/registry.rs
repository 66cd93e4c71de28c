//! Named databases: Django's `DATABASES` aliases, with `"default"` as the one calls use unless told.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

use crate::connect_options::DEFAULT_ALIAS;
use crate::{Db, Error, Result};

fn registry() -> &'static RwLock<HashMap<String, Db>> {
    static REGISTRY: OnceLock<RwLock<HashMap<String, Db>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// Registers `db` as the `"default"` database: the one every call uses unless it says `using(..)`.
/// Returns the database previously registered there, if any.
///
/// ```
/// let db = duetto::Db::connect_blocking("sqlite::memory:")?;
/// duetto::set_default(db);
/// assert_eq!(duetto::default_db()?.alias(), "default");
/// # Ok::<(), duetto::Error>(())
/// ```
pub fn set_default(db: Db) -> Option<Db> {
    register(DEFAULT_ALIAS, db)
}

/// Registers `db` under `alias` (replacing and returning what was there), so calls can select it
/// with `using("alias")` and [`db`] can find it. The stored database reports `alias` from
/// [`Db::alias`].
///
/// ```
/// let replica = duetto::Db::connect_blocking("sqlite::memory:")?;
/// duetto::register("replica", replica);
/// assert_eq!(duetto::db("replica")?.alias(), "replica");
/// # Ok::<(), duetto::Error>(())
/// ```
pub fn register(alias: impl Into<String>, db: Db) -> Option<Db> {
    let alias = alias.into();
    let db = db.with_alias(&alias);
    registry()
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(alias, db)
}

/// Removes the database registered under `alias` and returns it. The pool stays open for the
/// clones that still hold it; call [`Db::close`] to close it.
///
/// ```
/// duetto::register("tmp", duetto::Db::connect_blocking("sqlite::memory:")?);
/// assert!(duetto::unregister("tmp").is_some());
/// assert!(duetto::db("tmp").is_err());
/// # Ok::<(), duetto::Error>(())
/// ```
pub fn unregister(alias: &str) -> Option<Db> {
    registry()
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .remove(alias)
}

/// The database registered under `alias`.
///
/// # Errors
///
/// [`Error::NoDatabase`] when nothing is registered there.
///
/// ```
/// let err = duetto::db("nowhere").unwrap_err();
/// assert!(matches!(err, duetto::Error::NoDatabase { .. }));
/// ```
pub fn db(alias: &str) -> Result<Db> {
    registry()
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(alias)
        .cloned()
        .ok_or_else(|| Error::NoDatabase {
            alias: alias.to_owned(),
        })
}

/// The `"default"` database (see [`set_default`]).
///
/// # Errors
///
/// [`Error::NoDatabase`] when no default is set.
///
/// ```
/// duetto::set_default(duetto::Db::connect_blocking("sqlite::memory:")?);
/// assert!(duetto::default_db().is_ok());
/// # Ok::<(), duetto::Error>(())
/// ```
pub fn default_db() -> Result<Db> {
    db(DEFAULT_ALIAS)
}
