//! What the CLI's test suites share: running the built binary, and building and running a
//! throwaway crate around generated entities.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{self, Kind, TestDb};

/// What one run of the binary did.
pub struct Run {
    pub code: i32,
    pub stderr: String,
}

impl Run {
    /// The one `error:` line, which must be the last line.
    pub fn error_line(&self) -> &str {
        let errors: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .collect();
        assert_eq!(errors.len(), 1, "want one error line:\n{}", self.stderr);
        assert_eq!(
            self.stderr.lines().last(),
            Some(errors[0]),
            "the error is the last line:\n{}",
            self.stderr
        );
        errors[0]
    }

    /// The lines starting with `prefix`, in order.
    pub fn lines_starting(&self, prefix: &str) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with(prefix))
            .collect()
    }
}

/// Runs the `duetto` binary; asserts that stdout stays empty.
pub fn duetto(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_duetto"))
        .args(args)
        // The CLI reads these as defaults; the tests pass everything explicitly.
        .env_remove("DATABASE_URL")
        .env_remove("DATABASE_SCHEMA")
        .output()
        .expect("run duetto");
    assert!(out.stdout.is_empty(), "stdout stays empty");
    Run {
        code: out.status.code().expect("exit code"),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `duetto generate entity --database-url URL -o DIR EXTRA…`.
pub fn generate(url: &str, dir: &Path, extra: &[&str]) -> Run {
    let dir = dir.to_str().unwrap();
    let mut args = vec!["generate", "entity", "--database-url", url, "-o", dir];
    args.extend_from_slice(extra);
    duetto(&args)
}

/// A fresh database of `kind` holding `sql`, run one statement at a time (not every driver takes
/// several in one call). Comments go first, since they may hold a `;`.
pub fn with_fixture(kind: Kind, sql: &'static str) -> TestDb {
    let t = common::empty_blocking(kind);
    let code: String = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .map(|l| format!("{l}\n"))
        .collect();
    t.db.run(move |conn| async move {
        use duetto::sea_orm::ConnectionTrait;
        for statement in code.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            conn.execute_unprepared(statement).await?;
        }
        Ok::<_, duetto::sea_orm::DbErr>(())
    })
    .unwrap_or_else(|e| panic!("{}: load the fixture: {e}", kind.name()));
    t
}

/// `{prefix}{backend}` → the database's URL, for a throwaway crate's environment.
pub fn url_env(dbs: &[TestDb], prefix: &str) -> Vec<(String, String)> {
    dbs.iter()
        .map(|t| (format!("{prefix}{}", t.kind.name()), t.url.clone()))
        .collect()
}

/// A throwaway crate whose only dependency is duetto (by path), in the test target's temp dir.
pub struct Throwaway {
    pub root: PathBuf,
}

impl Throwaway {
    /// Creates (or reuses) the crate `name`; its `src` is for the caller to fill.
    pub fn new(name: &str) -> Throwaway {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
        fs::create_dir_all(root.join("src")).unwrap();
        let workspace = workspace_root();
        let manifest = include_str!("../generate/Cargo.toml.in")
            .replace("{{NAME}}", name)
            .replace("{{DUETTO}}", workspace.to_str().unwrap());
        write_if_changed(&root.join("Cargo.toml"), &manifest);
        // The workspace's lock: the same dependency versions, and nothing to fetch.
        fs::copy(workspace.join("Cargo.lock"), root.join("Cargo.lock")).unwrap();
        Throwaway { root }
    }

    pub fn src(&self) -> PathBuf {
        self.root.join("src")
    }

    /// Writes `src/<path>`, leaving an unchanged file alone so cargo does not rebuild for nothing.
    pub fn write(&self, path: &str, content: &str) {
        write_if_changed(&self.src().join(path), content);
    }

    /// `cargo run`s the crate with `env`; returns stdout, panicking with everything cargo printed
    /// when it does not compile, warns, or fails.
    pub fn run(&self, env: &[(String, String)]) -> String {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut run = Command::new(cargo);
        run.args(["run", "--quiet", "--offline", "--manifest-path"])
            .arg(self.root.join("Cargo.toml"))
            // One target directory for every throwaway crate: duetto's dependencies are
            // compiled once, then each crate only compiles itself.
            .env(
                "CARGO_TARGET_DIR",
                PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("throwaway-target"),
            )
            // Generated code must compile without a warning.
            .env("RUSTFLAGS", "-D warnings");
        for (key, value) in env {
            run.env(key, value);
        }
        let out = run.output().expect("run cargo");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "the generated entities did not compile or run:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn write_if_changed(path: &Path, content: &str) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    if fs::read_to_string(path).ok().as_deref() != Some(content) {
        fs::write(path, content).unwrap();
    }
}
