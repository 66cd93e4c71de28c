//! The output directory: reading what it holds, and replacing it without leaving partial files.

use std::fs;
use std::io::{self, BufRead};
use std::path::{Path, PathBuf};

use super::check::Found;
use super::error::{CliError, CliResult};
use super::render::{Files, GENERATED_MARKER};

/// Fails unless `dir` is a directory or does not exist yet. Run before connecting, so a bad `-o`
/// is reported without waiting on the database.
pub(crate) fn ensure_usable(dir: &Path) -> CliResult<()> {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(CliError::new(format!(
            "output directory `{}` is a file",
            dir.display()
        ))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(CliError::io("read", dir, e)),
    }
}

/// Every entry of `dir` (none if it does not exist), with its text when it is a UTF-8 file.
/// Subdirectories count as entries too: the generator never produces one.
pub(crate) fn read(dir: &Path) -> CliResult<Found> {
    ensure_usable(dir)?;
    let mut found = Found::new();
    for (name, path) in entries(dir)? {
        let text = if path.is_file() {
            let bytes = fs::read(&path).map_err(|e| CliError::io("read", &path, e))?;
            String::from_utf8(bytes).ok()
        } else {
            None
        };
        found.insert(name, text);
    }
    Ok(found)
}

/// Makes `dir` hold exactly `files`.
///
/// Everything is written into a fresh sibling directory first; only then does it take `dir`'s
/// place (two renames on the same filesystem), so a failure while writing leaves `dir` as it was.
/// Refuses when `dir` holds anything that is not a generated file, so a mistyped `-o` cannot wipe
/// hand-written code.
pub(crate) fn replace(dir: &Path, files: &Files) -> CliResult<()> {
    ensure_replaceable(dir)?;
    let shown = dir;
    // Replace what a symlink points to, not the link itself.
    let resolved = fs::canonicalize(dir).ok();
    let dir = resolved.as_deref().unwrap_or(dir);
    let parent = parent_of(dir);
    fs::create_dir_all(&parent).map_err(|e| CliError::io("create", &parent, e))?;
    let staging = Scratch::create(&parent, "new")?;
    for (name, content) in files {
        let path = staging.path.join(name);
        fs::write(&path, content).map_err(|e| CliError::io("write", &path, e))?;
    }

    if dir.exists() {
        let previous = Scratch::create(&parent, "old")?;
        let parked = previous.path.join("previous");
        fs::rename(dir, &parked).map_err(|e| CliError::io("move aside", shown, e))?;
        if let Err(e) = fs::rename(&staging.path, dir) {
            // Put the old directory back rather than leave the user with none.
            if fs::rename(&parked, dir).is_err() {
                previous.disarm();
                return Err(CliError::new(format!(
                    "cannot replace `{}`: {e}; its previous files are in `{}`",
                    shown.display(),
                    parked.display()
                )));
            }
            return Err(CliError::io("replace", shown, e));
        }
        staging.disarm();
        // `previous` (holding the old files) is removed on drop.
    } else {
        fs::rename(&staging.path, dir).map_err(|e| CliError::io("create", shown, e))?;
        staging.disarm();
    }
    Ok(())
}

/// [`ensure_usable`], and `dir` holds nothing but generated files. Run before connecting too.
pub(crate) fn ensure_replaceable(dir: &Path) -> CliResult<()> {
    ensure_usable(dir)?;
    let foreign: Vec<String> = entries(dir)?
        .into_iter()
        .filter(|(_, path)| !is_generated(path))
        .map(|(name, _)| name)
        .collect();
    if !foreign.is_empty() {
        return Err(CliError::new(format!(
            "refusing to replace `{}`: it holds files that were not generated ({}); move them away \
             or choose another --output-dir",
            dir.display(),
            foreign.join(", ")
        )));
    }
    Ok(())
}

/// A file counts as generated when it is a `.rs` file whose first line says `@generated`, as both
/// duetto's and sea-orm-cli's files do.
fn is_generated(path: &Path) -> bool {
    if !path.is_file() || path.extension().is_none_or(|ext| ext != "rs") {
        return false;
    }
    let Ok(file) = fs::File::open(path) else {
        return false;
    };
    let mut first = String::new();
    io::BufReader::new(file).read_line(&mut first).is_ok() && first.contains(GENERATED_MARKER)
}

/// `(name, path)` of each entry of `dir`, sorted; none if `dir` does not exist.
fn entries(dir: &Path) -> CliResult<Vec<(String, PathBuf)>> {
    let listing = match fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(CliError::io("read", dir, e)),
    };
    let mut entries = Vec::new();
    for entry in listing {
        let entry = entry.map_err(|e| CliError::io("read", dir, e))?;
        entries.push((
            entry.file_name().to_string_lossy().into_owned(),
            entry.path(),
        ));
    }
    entries.sort();
    Ok(entries)
}

fn parent_of(dir: &Path) -> PathBuf {
    match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// A hidden directory next to the output one, removed on drop unless disarmed.
struct Scratch {
    path: PathBuf,
    armed: bool,
}

impl Scratch {
    fn create(parent: &Path, role: &str) -> CliResult<Scratch> {
        let pid = std::process::id();
        for attempt in 0..100u32 {
            let path = parent.join(format!(".duetto-generate-{role}-{pid}-{attempt}"));
            // create_dir (not create_dir_all): failing on an existing path is what makes the name
            // ours alone. It also applies the umask, so the renamed directory gets normal modes.
            match fs::create_dir(&path) {
                Ok(()) => return Ok(Scratch { path, armed: true }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(CliError::io("create a directory in", parent, e)),
            }
        }
        Err(CliError::new(format!(
            "cannot create a scratch directory in `{}`",
            parent.display()
        )))
    }

    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}
