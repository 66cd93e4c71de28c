//! Choosing which discovered tables become entities (`--tables`, `--ignore-tables`, hidden tables).

use super::error::{CliError, CliResult};

/// The table filters of the command line.
pub(crate) struct Selection<'a> {
    pub(crate) only: &'a [String],
    pub(crate) ignore: &'a [String],
    pub(crate) include_hidden: bool,
}

impl Selection<'_> {
    /// The names to generate, in the order of `available`.
    ///
    /// A name in `--tables` that the database does not have is an error rather than a silent
    /// no-op: a typo would otherwise quietly drop an entity. So is a selection that leaves nothing,
    /// since "generated zero files" is never what was meant.
    pub(crate) fn apply<'n>(&self, available: &[&'n str]) -> CliResult<Vec<&'n str>> {
        let only: Vec<&str> = nonempty(self.only).collect();
        let ignore: Vec<&str> = nonempty(self.ignore).collect();
        let unknown: Vec<&str> = only
            .iter()
            .copied()
            .filter(|name| !available.contains(name))
            .collect();
        if !unknown.is_empty() {
            return Err(CliError::new(format!(
                "--tables names {} the database does not have: {} (it has: {})",
                if unknown.len() == 1 {
                    "a table"
                } else {
                    "tables"
                },
                unknown.join(", "),
                listing(available),
            )));
        }
        let chosen: Vec<&str> = available
            .iter()
            .copied()
            .filter(|name| only.is_empty() || only.contains(name))
            .filter(|name| !ignore.contains(name))
            .filter(|name| self.include_hidden || !only.is_empty() || !name.starts_with('_'))
            .collect();
        if chosen.is_empty() {
            return Err(CliError::new(if available.is_empty() {
                "the database has no tables".to_owned()
            } else {
                format!(
                    "no table left to generate after --tables/--ignore-tables (the database has: {})",
                    listing(available)
                )
            }));
        }
        Ok(chosen)
    }
}

fn nonempty(names: &[String]) -> impl Iterator<Item = &str> {
    names.iter().map(|n| n.trim()).filter(|n| !n.is_empty())
}

fn listing(names: &[&str]) -> String {
    if names.is_empty() {
        "no tables".to_owned()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    const TABLES: &[&str] = &["_audit", "post", "seaql_migrations", "user"];

    #[test]
    fn defaults_skip_migrations_and_hidden_tables() {
        let ignore = strings(&["seaql_migrations"]);
        let selection = Selection {
            only: &[],
            ignore: &ignore,
            include_hidden: false,
        };
        assert_eq!(selection.apply(TABLES).unwrap(), ["post", "user"]);
    }

    #[test]
    fn an_explicit_list_wins_over_the_hidden_rule_but_not_over_ignore() {
        let only = strings(&["_audit", "user"]);
        let selection = Selection {
            only: &only,
            ignore: &strings(&["user"]),
            include_hidden: false,
        };
        assert_eq!(selection.apply(TABLES).unwrap(), ["_audit"]);
    }

    #[test]
    fn unknown_or_empty_selections_are_errors() {
        let only = strings(&["usr"]);
        let selection = Selection {
            only: &only,
            ignore: &[],
            include_hidden: false,
        };
        let err = selection.apply(TABLES).unwrap_err().to_string();
        assert!(err.starts_with("--tables names a table the database does not have: usr"));

        let only = strings(&["seaql_migrations"]);
        let ignore = strings(&["seaql_migrations"]);
        let selection = Selection {
            only: &only,
            ignore: &ignore,
            include_hidden: false,
        };
        assert!(selection.apply(TABLES).is_err());
    }
}
