//! The build's generation: the instance's `generation.json` records the
//! last generation and the hash of that build's root contents. A build
//! whose contents differ takes the next number, one with the same contents
//! the same number, so a rebuild stays byte-identical and a device can
//! refuse anything not newer than what it runs (anti-rollback). Keep the
//! file with the instance (commit it): a lost file restarts at 1 and
//! devices refuse those builds until the count passes theirs.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{io_err, BuildError, Result};

/// The file's name inside an instance directory.
pub const FILE: &str = "generation.json";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub generation: u64,
    /// SHA-256 of the root's file list (what `build.json`'s version names).
    pub contents: String,
}

/// The record of the instance in `dir` (zero when there is none).
pub fn read(dir: &Path) -> Result<Record> {
    let path = dir.join(FILE);
    match std::fs::read(&path) {
        Ok(data) => serde_json::from_slice(&data)
            .map_err(|e| BuildError::Layout(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Record::default()),
        Err(e) => Err(io_err("reading", &path)(e)),
    }
}

/// The generation of a build with these `contents`.
pub fn next(last: &Record, contents: &str) -> Record {
    if last.contents == contents && last.generation > 0 {
        return last.clone();
    }
    Record {
        generation: last.generation + 1,
        contents: contents.to_string(),
    }
}

/// Records a finished build.
pub fn write(dir: &Path, record: &Record) -> Result<PathBuf> {
    let path = dir.join(FILE);
    let mut data =
        serde_json::to_vec_pretty(record).map_err(|e| BuildError::Layout(e.to_string()))?;
    data.push(b'\n');
    paddock_sys::fs::write_atomic(&path, &data, paddock_sys::fs::PUBLIC)
        .map_err(io_err("writing", &path))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_contents_same_generation_new_contents_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let first = next(&read(dir.path()).unwrap(), "aa");
        assert_eq!(first.generation, 1);
        write(dir.path(), &first).unwrap();
        let last = read(dir.path()).unwrap();
        assert_eq!(next(&last, "aa"), first);
        assert_eq!(next(&last, "bb").generation, 2);
    }
}
