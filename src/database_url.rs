//! Reading a database URL before handing it to the driver: which backend, is it well-formed, and a
//! printable form without the password.

use sea_orm::DatabaseBackend;

use crate::{Error, Result};

/// A database URL that names a backend duetto was built with, read without connecting.
///
/// [`Db::connect`](crate::Db::connect) reads every URL this way; tools that open the database
/// with their own driver settings (the `duetto` CLI reads schemas through plain sqlx) use it to
/// accept exactly the same URLs, with the same errors.
///
/// ```
/// use duetto::{Backend, DatabaseUrl};
///
/// let url = DatabaseUrl::parse("mariadb://app:secret@db.internal/shop")?;
/// assert_eq!(url.backend(), Backend::MySql);
/// assert_eq!(url.for_driver(), "mysql://app:secret@db.internal/shop");
/// assert_eq!(url.redacted(), "mariadb://app:***@db.internal/shop");
/// assert!(DatabaseUrl::parse("oracle://db/orcl").is_err());
/// # Ok::<(), duetto::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct DatabaseUrl {
    /// What the driver receives (`mariadb://` is rewritten to `mysql://`).
    pub(crate) for_driver: String,
    /// Safe to print: the password replaced by `***`.
    pub(crate) redacted: String,
    pub(crate) backend: DatabaseBackend,
    /// SQLite only: an in-memory database, which lives exactly as long as one of its connections.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    pub(crate) in_memory: bool,
}

const ACCEPTED: &str = "expected sqlite:, postgres://, postgresql://, mysql:// or mariadb://";

impl DatabaseUrl {
    /// Reads `raw`: `sqlite:…`, `postgres://`, `postgresql://`, `mysql://` or `mariadb://`.
    ///
    /// Fails with [`Error::InvalidUrl`] when it is empty, has no scheme or (for a server) no
    /// host, and with [`Error::UnsupportedBackend`] for any other scheme or for a backend whose
    /// cargo feature is off. See the [type's example](DatabaseUrl).
    pub fn parse(raw: &str) -> Result<Self> {
        let redacted = redact(raw);
        let invalid = |reason: &str| Error::InvalidUrl {
            url: redacted.clone(),
            reason: reason.to_owned(),
        };
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(invalid("the URL is empty"));
        }
        let Some((scheme, _)) = raw.split_once(':') else {
            return Err(invalid(&format!("it has no scheme; {ACCEPTED}")));
        };
        let scheme = scheme.to_ascii_lowercase();
        let backend = match scheme.as_str() {
            "sqlite" => DatabaseBackend::Sqlite,
            "postgres" | "postgresql" => DatabaseBackend::Postgres,
            "mysql" | "mariadb" => DatabaseBackend::MySql,
            _ => {
                return Err(Error::UnsupportedBackend {
                    scheme,
                    url: redacted,
                    reason: ACCEPTED.to_owned(),
                })
            }
        };
        ensure_enabled(backend, &scheme, &redacted)?;

        let mut for_driver = raw.to_owned();
        let mut in_memory = false;
        if backend == DatabaseBackend::Sqlite {
            in_memory = raw.contains(":memory:") || raw.contains("mode=memory");
        } else {
            let parsed = url::Url::parse(raw).map_err(|e| invalid(&e.to_string()))?;
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err(invalid("it names no host"));
            }
            if scheme == "mariadb" {
                for_driver = format!("mysql{}", &raw["mariadb".len()..]);
            }
        }
        Ok(DatabaseUrl {
            for_driver,
            redacted,
            backend,
            in_memory,
        })
    }

    /// The backend the scheme names. See the [type's example](DatabaseUrl).
    pub fn backend(&self) -> DatabaseBackend {
        self.backend
    }

    /// The URL as the driver takes it: `mariadb://` becomes `mysql://`, the rest is unchanged.
    /// See the [type's example](DatabaseUrl).
    pub fn for_driver(&self) -> &str {
        &self.for_driver
    }

    /// The URL with any password replaced by `***`: safe to print or log. See the
    /// [type's example](DatabaseUrl).
    pub fn redacted(&self) -> &str {
        &self.redacted
    }
}

fn ensure_enabled(backend: DatabaseBackend, scheme: &str, redacted: &str) -> Result<()> {
    let (enabled, feature) = match backend {
        DatabaseBackend::Sqlite => (cfg!(feature = "sqlite"), "sqlite"),
        DatabaseBackend::Postgres => (cfg!(feature = "postgres"), "postgres"),
        DatabaseBackend::MySql => (cfg!(feature = "mysql"), "mysql"),
        _ => (false, "?"),
    };
    if enabled {
        Ok(())
    } else {
        Err(Error::UnsupportedBackend {
            scheme: scheme.to_owned(),
            url: redacted.to_owned(),
            reason: format!("duetto was built without its `{feature}` cargo feature"),
        })
    }
}

/// `raw` with any password replaced by `***`, for error messages and logs: the userinfo's, and a
/// `password` query parameter (which sqlx also reads).
pub(crate) fn redact(raw: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(raw) else {
        return raw.to_owned();
    };
    let mut changed = false;
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
        changed = true;
    }
    if parsed.query_pairs().any(|(key, _)| key == "password") {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(key, value)| {
                let value = if key == "password" {
                    "***".into()
                } else {
                    value.into_owned()
                };
                (key.into_owned(), value)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
        changed = true;
    }
    if changed {
        parsed.to_string()
    } else {
        raw.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_every_scheme() {
        let cases = [
            ("sqlite::memory:", DatabaseBackend::Sqlite, true),
            ("sqlite://app.db?mode=rwc", DatabaseBackend::Sqlite, false),
            (
                "postgres://u@localhost/db",
                DatabaseBackend::Postgres,
                false,
            ),
            (
                "postgresql://u@localhost/db",
                DatabaseBackend::Postgres,
                false,
            ),
            ("mysql://root@127.0.0.1/test", DatabaseBackend::MySql, false),
            (
                "MariaDB://root@127.0.0.1/test",
                DatabaseBackend::MySql,
                false,
            ),
        ];
        for (raw, backend, in_memory) in cases {
            let url = DatabaseUrl::parse(raw).unwrap();
            assert_eq!(url.backend, backend, "{raw}");
            assert_eq!(url.in_memory, in_memory, "{raw}");
        }
        assert!(DatabaseUrl::parse("mariadb://root@h/t")
            .unwrap()
            .for_driver
            .starts_with("mysql://"));
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://alice:s3cret@db.example/app"),
            "postgres://alice:***@db.example/app"
        );
        let err = DatabaseUrl::parse("oracle://alice:s3cret@db/app").unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
        assert_eq!(
            redact("postgres://db.example/app?sslmode=require&password=s3cret"),
            "postgres://db.example/app?sslmode=require&password=***"
        );
        assert_eq!(
            redact("sqlite://app.db?mode=rwc"),
            "sqlite://app.db?mode=rwc"
        );
    }
}
