//! `--check`: how DIR differs from what would be generated, as a per-file report.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use similar::{ChangeTag, TextDiff};

use super::render::Files;

/// Lines of a changed file's first hunk shown in the report.
const EXCERPT_LINES: usize = 12;

/// A file as found in DIR: its text, or `None` when it is not UTF-8.
pub(crate) type Found = BTreeMap<String, Option<String>>;

/// What differs, by file name.
#[derive(Debug, Default)]
pub(crate) struct Drift {
    /// Would be generated but DIR lacks it.
    pub(crate) added: Vec<String>,
    /// In DIR but would not be generated.
    pub(crate) removed: Vec<String>,
    /// In both, with different contents: name and an excerpt of the first differences.
    pub(crate) changed: Vec<(String, String)>,
}

impl Drift {
    pub(crate) fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }

    /// `"1 changed, 2 added"`: the non-zero counts.
    pub(crate) fn counts(&self) -> String {
        [
            (self.changed.len(), "changed"),
            (self.added.len(), "added"),
            (self.removed.len(), "removed"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect::<Vec<_>>()
        .join(", ")
    }

    /// One line per file, each changed file followed by its excerpt.
    pub(crate) fn report(&self) -> String {
        let mut out = String::new();
        let mut lines: Vec<(&str, &str, Option<&str>)> = Vec::new();
        lines.extend(
            self.changed
                .iter()
                .map(|(n, e)| ("changed", n.as_str(), Some(e.as_str()))),
        );
        lines.extend(self.added.iter().map(|n| ("added", n.as_str(), None)));
        lines.extend(self.removed.iter().map(|n| ("removed", n.as_str(), None)));
        lines.sort_by(|a, b| a.1.cmp(b.1));
        for (what, name, excerpt) in lines {
            let _ = writeln!(out, "  {what:<8} {name}");
            for line in excerpt.into_iter().flat_map(str::lines) {
                let _ = writeln!(out, "           {line}");
            }
        }
        out
    }
}

/// Compares what would be generated with what DIR holds. Line endings are normalised first, so a
/// checkout with CRLF endings does not count as drift.
pub(crate) fn compare(expected: &Files, found: &Found) -> Drift {
    let mut drift = Drift::default();
    for (name, want) in expected {
        match found.get(name) {
            None => drift.added.push(name.clone()),
            Some(None) => drift
                .changed
                .push((name.clone(), "(the file in DIR is not UTF-8)".to_owned())),
            Some(Some(have)) => {
                let have = have.replace("\r\n", "\n");
                if have != *want {
                    drift.changed.push((name.clone(), excerpt(&have, want)));
                }
            }
        }
    }
    drift.removed = found
        .keys()
        .filter(|name| !expected.contains_key(*name))
        .cloned()
        .collect();
    drift
}

/// The first hunk of a line diff from `have` (DIR) to `want` (generated), with line numbers.
fn excerpt(have: &str, want: &str) -> String {
    let diff = TextDiff::from_lines(have, want);
    let mut out = String::new();
    let Some(ops) = diff.grouped_ops(1).into_iter().next() else {
        return "(differs only in trailing whitespace)".to_owned();
    };
    let first = &ops[0];
    let _ = writeln!(
        out,
        "@@ DIR line {}, generated line {} @@",
        first.old_range().start + 1,
        first.new_range().start + 1
    );
    let mut shown = 0;
    let mut truncated = false;
    for op in &ops {
        for change in diff.iter_changes(op) {
            if shown == EXCERPT_LINES {
                truncated = true;
                break;
            }
            let sign = match change.tag() {
                ChangeTag::Delete => '-',
                ChangeTag::Insert => '+',
                ChangeTag::Equal => ' ',
            };
            let _ = writeln!(out, "{sign}{}", change.value().trim_end_matches('\n'));
            shown += 1;
        }
    }
    if truncated {
        out.push_str("…\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(pairs: &[(&str, &str)]) -> Files {
        pairs
            .iter()
            .map(|(n, c)| (n.to_string(), c.to_string()))
            .collect()
    }

    fn found(pairs: &[(&str, &str)]) -> Found {
        pairs
            .iter()
            .map(|(n, c)| (n.to_string(), Some(c.to_string())))
            .collect()
    }

    #[test]
    fn identical_contents_are_no_drift_even_with_crlf() {
        let drift = compare(
            &files(&[("a.rs", "x\ny\n")]),
            &found(&[("a.rs", "x\r\ny\r\n")]),
        );
        assert!(drift.is_empty());
    }

    #[test]
    fn reports_added_removed_and_the_first_changed_lines() {
        let drift = compare(
            &files(&[("a.rs", "one\ntwo\nthree\n"), ("new.rs", "n\n")]),
            &found(&[("a.rs", "one\n2\nthree\n"), ("old.rs", "o\n")]),
        );
        assert_eq!(drift.counts(), "1 changed, 1 added, 1 removed");
        assert_eq!(
            drift.report(),
            "  changed  a.rs\n\
             \x20          @@ DIR line 1, generated line 1 @@\n\
             \x20           one\n\
             \x20          -2\n\
             \x20          +two\n\
             \x20           three\n\
             \x20 added    new.rs\n\
             \x20 removed  old.rs\n"
        );
    }
}
