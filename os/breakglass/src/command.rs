//! What a session runs: the exec request's command line split like a
//! shell would (shlex; no shell on the device), the program looked up in
//! the device's PATH; or, for a shell request, `sh` or `busybox sh`.

use std::path::{Path, PathBuf};

/// init's PATH for services, also used here.
pub const PATH: &str = "/user:/usr/bin:/usr/sbin:/bin:/sbin";

/// A program with its arguments, ready to spawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub path: PathBuf,
    /// argv, including argv[0].
    pub argv: Vec<String>,
}

/// Why nothing can be run; the message goes to the client's stderr.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CommandError {
    #[error("cannot parse the command {0:?} (unbalanced quotes?)")]
    Parse(String),
    #[error("empty command")]
    Empty,
    #[error("{0}: command not found (PATH {1})")]
    NotFound(String, String),
    #[error("no shell in this image; run a command instead, e.g. `paddock ps`")]
    NoShell,
}

impl CommandError {
    /// The exit status a shell would report.
    pub fn exit_status(&self) -> u32 {
        match self {
            CommandError::Parse(_) | CommandError::Empty => 2,
            CommandError::NotFound(..) | CommandError::NoShell => 127,
        }
    }
}

/// An exec request's command line.
pub fn exec(line: &str, path: &str) -> Result<Program, CommandError> {
    let argv = shlex::split(line).ok_or_else(|| CommandError::Parse(line.to_string()))?;
    let first = argv.first().ok_or(CommandError::Empty)?;
    let exe = lookup(first, path)
        .ok_or_else(|| CommandError::NotFound(first.clone(), path.to_string()))?;
    Ok(Program { path: exe, argv })
}

/// A shell request: `sh` from PATH, else `busybox sh`.
pub fn shell(path: &str) -> Result<Program, CommandError> {
    if let Some(sh) = lookup("sh", path) {
        return Ok(Program {
            path: sh,
            argv: vec!["sh".into()],
        });
    }
    if let Some(bb) = lookup("busybox", path) {
        return Ok(Program {
            path: bb,
            argv: vec!["busybox".into(), "sh".into()],
        });
    }
    Err(CommandError::NoShell)
}

/// `name` if it has a slash, else the first executable file of that name
/// in `path`'s directories.
pub fn lookup(name: &str, path: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Some(PathBuf::from(name));
    }
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_looks_up() {
        let dir = tempfile::tempdir().unwrap();
        let bb = dir.path().join("busybox");
        std::os::unix::fs::symlink("/bin/busybox", &bb).unwrap();
        let path = format!("/nonexistent:{}:/bin", dir.path().display());
        let p = exec("busybox echo 'a b' \"c\"", &path).unwrap();
        assert_eq!(p.path, bb);
        assert_eq!(p.argv, ["busybox", "echo", "a b", "c"]);
        assert_eq!(exec("/x/y z", PATH).unwrap().path, Path::new("/x/y"));
        assert_eq!(
            exec("no-such-program-here", PATH),
            Err(CommandError::NotFound(
                "no-such-program-here".into(),
                PATH.into()
            ))
        );
        assert_eq!(exec("  ", PATH), Err(CommandError::Empty));
        assert!(matches!(exec("echo 'a", PATH), Err(CommandError::Parse(_))));
    }

    #[test]
    fn shell_falls_back_to_busybox() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            shell(dir.path().to_str().unwrap()),
            Err(CommandError::NoShell)
        );
        let bb = dir.path().join("busybox");
        std::os::unix::fs::symlink("/bin/busybox", &bb).unwrap();
        let p = shell(dir.path().to_str().unwrap()).unwrap();
        assert_eq!(p.argv, ["busybox", "sh"]);
        assert_eq!(p.path, bb);
    }
}
