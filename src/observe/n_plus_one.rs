//! The N+1 detector: the same statement shape, from the same line of code, run over and over
//! within one capture or request scope.

use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::CapturedQuery;

/// 0 when live detection is off, else the threshold plus one.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Turns live N+1 detection on (`Some(k)`) or off (`None`, the default) for the whole process.
///
/// While on, every [`capture`](super::acapture_queries) and every
/// [request scope](crate::arequest_scope) counts its statements by shape (the SQL with its
/// placeholder lists collapsed) and call site, and the first time one shape from one call site
/// runs more than `k` times it logs a warning through `tracing` (target `duetto::n_plus_one`,
/// level WARN) naming the call site and, where duetto can tell, the relation to load in one
/// query instead. Meant for tests and debug builds: it costs a hash-map update per statement.
///
/// ```
/// duetto::observe::detect_n_plus_one(Some(5));
/// // … every request scope and capture now warns about a statement repeated 6+ times …
/// duetto::observe::detect_n_plus_one(None);
/// ```
pub fn detect_n_plus_one(threshold: Option<usize>) {
    LIVE.store(
        threshold.map_or(0, |k| k.saturating_add(1)),
        Ordering::Relaxed,
    );
}

/// The live detection threshold, if on.
pub(crate) fn live_threshold() -> Option<usize> {
    match LIVE.load(Ordering::Relaxed) {
        0 => None,
        k => Some(k - 1),
    }
}

/// A statement shape that ran more than the threshold's times from one call site: the
/// signature of an N+1 (from [`Captured::repeated`](super::Captured::repeated) or the live
/// detector).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Repeated {
    /// The SQL with each placeholder list collapsed to one `?`.
    pub shape: String,
    /// How many times it ran.
    pub count: usize,
    /// The line of user code that issued it, when duetto knows it.
    pub site: Option<&'static Location<'static>>,
    /// What to do instead, when duetto can tell (a relation loaded row by row).
    pub hint: Option<String>,
}

impl fmt::Display for Repeated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "N+1: `{}` ran {} times", self.shape, self.count)?;
        match self.site {
            Some(site) => write!(f, " from {site}")?,
            None => write!(f, " (call site unknown)")?,
        }
        if let Some(hint) = &self.hint {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

/// `sql` with every placeholder (`?`, `$1`) written `?` and each comma-separated list of them
/// collapsed to one, so `IN (?, ?)` and `IN (?, ?, ?)` have the same shape.
pub(crate) fn shape(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        let placeholder = c == '?' || (c == '$' && chars.peek().is_some_and(char::is_ascii_digit));
        if !placeholder {
            out.push(c);
            continue;
        }
        while c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            chars.next();
        }
        let before = out.trim_end();
        if let Some(list) = before.strip_suffix(',') {
            if list.trim_end().ends_with('?') {
                let keep = list.trim_end().len();
                out.truncate(keep);
                continue;
            }
        }
        out.push('?');
    }
    out
}

type Key = (String, Option<(&'static str, u32, u32)>);

fn key(shape: String, site: Option<&'static Location<'static>>) -> Key {
    (shape, site.map(|s| (s.file(), s.line(), s.column())))
}

/// Statements grouped by shape and call site, in first-seen order, those run more than
/// `threshold` times.
pub(crate) fn repeated(queries: &[CapturedQuery], threshold: usize) -> Vec<Repeated> {
    let mut order: Vec<(Key, Repeated)> = Vec::new();
    let mut index: HashMap<Key, usize> = HashMap::new();
    for query in queries {
        let shape = shape(&query.sql);
        let k = key(shape.clone(), query.site);
        match index.get(&k) {
            Some(&i) => order[i].1.count += 1,
            None => {
                index.insert(k.clone(), order.len());
                order.push((
                    k,
                    Repeated {
                        shape,
                        count: 1,
                        site: query.site,
                        hint: query.relation.map(|hint| hint()),
                    },
                ));
            }
        }
    }
    order
        .into_iter()
        .map(|(_, r)| r)
        .filter(|r| r.count > threshold)
        .collect()
}

/// Live counting for one capture or request scope.
pub(crate) struct Detector {
    threshold: usize,
    seen: Mutex<HashMap<Key, usize>>,
}

impl Detector {
    pub(crate) fn new(threshold: usize) -> Detector {
        Detector {
            threshold,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Counts `query`; warns the first time its shape and site pass the threshold.
    pub(crate) fn count(&self, query: &CapturedQuery) {
        let shape = shape(&query.sql);
        let count = {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            let n = seen.entry(key(shape.clone(), query.site)).or_insert(0);
            *n += 1;
            *n
        };
        if count == self.threshold + 1 {
            let report = Repeated {
                shape,
                count,
                site: query.site,
                hint: query.relation.map(|hint| hint()),
            };
            tracing::warn!(
                target: "duetto::n_plus_one",
                shape = report.shape.as_str(),
                count,
                site = report.site.map(tracing::field::display),
                hint = report.hint.as_deref(),
                alias = query.alias.as_str(),
                "{report}",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::shape;

    #[test]
    fn placeholder_lists_collapse_to_one_shape() {
        assert_eq!(
            shape("SELECT a FROM t WHERE id IN ($1, $2, $3) AND b = $4"),
            "SELECT a FROM t WHERE id IN (?) AND b = ?"
        );
        assert_eq!(
            shape("SELECT a FROM t WHERE id IN (?,?) AND b = ?"),
            "SELECT a FROM t WHERE id IN (?) AND b = ?"
        );
        assert_eq!(shape("SELECT $x, 'it''s'"), "SELECT $x, 'it''s'");
    }
}
