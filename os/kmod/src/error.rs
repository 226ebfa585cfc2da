//! Errors of module loading; every message names the module or file involved.

use std::path::PathBuf;

use nix::errno::Errno;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An index file or module file could not be read.
    #[error("read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },

    /// A line of modules.dep, modules.alias or modules.builtin is malformed.
    #[error("{path}:{line}: {reason}")]
    Parse {
        path: PathBuf,
        line: usize,
        reason: String,
    },

    /// The module is in none of modules.dep, modules.builtin, modules.alias.
    #[error("module {name}: not found in {dir}/modules.dep, modules.builtin or modules.alias")]
    NotFound { name: String, dir: PathBuf },

    /// The module file is compressed and could not be decompressed.
    #[error("module {name}: decompress {path}: {reason}")]
    Decompress {
        name: String,
        path: PathBuf,
        reason: String,
    },

    /// The kernel refused the module.
    #[error("module {name}{}: load {path}: {source}{}", chain_text(.needed_by), hint(*.source))]
    Load {
        name: String,
        needed_by: Vec<String>,
        path: PathBuf,
        source: Errno,
    },

    /// modules.dep describes a dependency cycle.
    #[error("module {name}: dependency cycle through {}", .chain.join(" -> "))]
    Cycle { name: String, chain: Vec<String> },

    /// The running kernel's release could not be determined.
    #[error("uname: {0}")]
    Uname(Errno),
}

fn chain_text(chain: &[String]) -> String {
    if chain.is_empty() {
        String::new()
    } else {
        format!(" (needed by {})", chain.join(" <- "))
    }
}

fn hint(errno: Errno) -> &'static str {
    match errno {
        Errno::ENOEXEC => " (invalid module format: built for another kernel?)",
        Errno::ENOENT => " (unknown symbol or missing dependency; see the kernel log)",
        Errno::EPERM => " (needs CAP_SYS_MODULE, or module loading is disabled)",
        Errno::EKEYREJECTED | Errno::ENOKEY => " (signature rejected)",
        _ => "",
    }
}
