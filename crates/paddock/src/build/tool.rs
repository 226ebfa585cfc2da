//! Running the host tools a build needs (mksquashfs, mkfs.ext4, depmod,
//! dpkg-deb, apt-get, cargo) with errors that say what to install.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use super::error::{BuildError, Result};

/// `tool` on $PATH or in the sbin directories (Debian keeps mkfs/depmod there).
pub fn find(tool: &str, package: &str) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from));
    for dir in dirs {
        let p = dir.join(tool);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(BuildError::MissingTool {
        tool: tool.to_string(),
        package: package.to_string(),
    })
}

/// Runs `cmd`, capturing output; a failure carries the tail of stderr.
pub fn run(mut cmd: Command, what: &str) -> Result<Output> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| BuildError::Command {
            what: what.to_string(),
            status: "not started".into(),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(BuildError::Command {
            what: what.to_string(),
            status: out.status.to_string(),
            detail: tail(&out.stderr, &out.stdout),
        });
    }
    Ok(out)
}

/// The last lines of stderr (or stdout when stderr is empty).
pub fn tail(stderr: &[u8], stdout: &[u8]) -> String {
    let text = if stderr.iter().all(u8::is_ascii_whitespace) {
        String::from_utf8_lossy(stdout)
    } else {
        String::from_utf8_lossy(stderr)
    };
    let lines: Vec<&str> = text.trim().lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}
