//! Manifest errors: where in which file, and what was expected there.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_saphyr::Location;

/// A problem in one manifest file, with the position it refers to.
///
/// Displays as `file:line:column: message`, or `file: message` when the
/// problem has no position (the file could not be read, say).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ManifestError {
    pub file: PathBuf,
    /// 1-based; 0 when the error has no position.
    pub line: u32,
    /// 1-based; 0 when the error has no position.
    pub column: u32,
    pub message: String,
}

impl ManifestError {
    pub(crate) fn new(file: &Path, at: Pos, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            line: at.line(),
            column: at.column(),
            message: message.into(),
        }
    }

    fn render(&self) -> String {
        if self.line == 0 {
            format!("{}: {}", self.file.display(), self.message)
        } else {
            format!(
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.message
            )
        }
    }
}

/// A 1-based line and column in a manifest file; 0:0 when unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    line: u32,
    column: u32,
}

impl Pos {
    pub(crate) const UNKNOWN: Pos = Pos { line: 0, column: 0 };

    pub(crate) const fn new(line: u32, column: u32) -> Self {
        Self { line, column }
    }

    pub(crate) fn line(&self) -> u32 {
        self.line
    }

    pub(crate) fn column(&self) -> u32 {
        self.column
    }
}

impl From<Location> for Pos {
    fn from(l: Location) -> Self {
        let clamp = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        Self::new(clamp(l.line()), clamp(l.column()))
    }
}

/// A problem found while reading one file, before the file name is attached.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Issue {
    pub(crate) at: Pos,
    pub(crate) message: String,
}

impl Issue {
    /// `path: problem (expected FORM)`; `path` may be empty (the whole
    /// document), `expected` may be empty (nothing useful to add).
    pub(crate) fn new(at: Pos, path: &str, problem: &str, expected: &str) -> Self {
        let mut message = String::new();
        if !path.is_empty() {
            message.push_str(path);
            message.push_str(": ");
        }
        message.push_str(problem);
        if !expected.is_empty() {
            message.push_str(" (expected ");
            message.push_str(expected);
            message.push(')');
        }
        Self { at, message }
    }

    /// Like [`Issue::new`] with the offending value quoted after the path:
    /// `ports[1]: "80800:80": host port must be 1-65535 (expected …)`.
    pub(crate) fn value(at: Pos, path: &str, value: &str, problem: &str, expected: &str) -> Self {
        Self::new(at, path, &format!("{value:?}: {problem}"), expected)
    }

    pub(crate) fn in_file(self, file: &Path) -> ManifestError {
        ManifestError::new(file, self.at, self.message)
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}",
            self.at.line(),
            self.at.column(),
            self.message
        )
    }
}
