//! The module index of one kernel: `modules.dep`, `modules.builtin` and
//! `modules.alias` in `/lib/modules/<release>` as written by `depmod`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::fnmatch::{fnmatch, literal_prefix};
use crate::Error;

/// A loadable module: its file (relative to the index directory) and the
/// names of the modules it needs, as listed in modules.dep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleEntry {
    pub path: PathBuf,
    pub deps: Vec<String>,
}

#[derive(Debug, Clone)]
struct Alias {
    pattern: String,
    prefix_len: usize,
    module: String,
}

/// The parsed index files of one module directory.
#[derive(Debug, Clone)]
pub struct ModuleIndex {
    dir: PathBuf,
    modules: HashMap<String, ModuleEntry>,
    builtin: HashSet<String>,
    aliases: Vec<Alias>,
}

/// Module names treat `-` and `_` alike; the kernel uses `_`.
pub fn normalize(name: &str) -> String {
    name.replace('-', "_")
}

/// The module name of a file path: `kernel/net/802/stp.ko.xz` → `stp`.
pub fn name_from_path(path: &str) -> Option<String> {
    let file = path.rsplit('/').next()?;
    let stem = file.split(".ko").next()?;
    if stem.is_empty() || !file.contains(".ko") {
        return None;
    }
    Some(normalize(stem))
}

impl ModuleIndex {
    /// Reads the index of `dir` (e.g. `/lib/modules/6.1.0-30-cloud-amd64`).
    /// `modules.dep` is required; `modules.builtin` and `modules.alias` are
    /// optional (an index with no aliases can still load by name).
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, Error> {
        let dir = dir.into();
        let dep_path = dir.join("modules.dep");
        let modules = parse_dep(&dep_path, &read(&dep_path)?)?;
        let builtin = match read_optional(&dir.join("modules.builtin"))? {
            Some(text) => parse_builtin(&text),
            None => HashSet::new(),
        };
        let alias_path = dir.join("modules.alias");
        let aliases = match read_optional(&alias_path)? {
            Some(text) => parse_alias(&alias_path, &text)?,
            None => Vec::new(),
        };
        Ok(Self {
            dir,
            modules,
            builtin,
            aliases,
        })
    }

    /// The index of the running kernel: `/lib/modules/$(uname -r)`.
    pub fn for_running_kernel() -> Result<Self, Error> {
        Self::open(running_kernel_dir()?)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The loadable module called `name` (`-` and `_` alike).
    pub fn module(&self, name: &str) -> Option<&ModuleEntry> {
        self.modules.get(&normalize(name))
    }

    /// Whether `name` is compiled into the kernel (modules.builtin).
    pub fn is_builtin(&self, name: &str) -> bool {
        self.builtin.contains(&normalize(name))
    }

    /// The modules whose alias patterns match `modalias` (e.g. a device's
    /// sysfs `modalias`, or an alias such as `fs-squashfs`), in index order,
    /// without duplicates.
    pub fn resolve_alias(&self, modalias: &str) -> Vec<&str> {
        let mut found: Vec<&str> = Vec::new();
        for alias in &self.aliases {
            if modalias
                .as_bytes()
                .starts_with(&alias.pattern.as_bytes()[..alias.prefix_len])
                && fnmatch(&alias.pattern, modalias)
                && !found.contains(&alias.module.as_str())
            {
                found.push(&alias.module);
            }
        }
        found
    }
}

/// `/lib/modules/<uname -r>`.
pub fn running_kernel_dir() -> Result<PathBuf, Error> {
    let uts = nix::sys::utsname::uname().map_err(Error::Uname)?;
    Ok(Path::new("/lib/modules").join(uts.release()))
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn read_optional(path: &Path) -> Result<Option<String>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// `kernel/net/bridge/bridge.ko: kernel/net/802/stp.ko kernel/net/llc/llc.ko`
fn parse_dep(path: &Path, text: &str) -> Result<HashMap<String, ModuleEntry>, Error> {
    let mut modules = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parse_err = |reason: String| Error::Parse {
            path: path.to_path_buf(),
            line: n + 1,
            reason,
        };
        let (module, deps) = line
            .split_once(':')
            .ok_or_else(|| parse_err("expected `module.ko: deps…`".into()))?;
        let name = name_from_path(module)
            .ok_or_else(|| parse_err(format!("{module:?} is not a module file name")))?;
        let deps = deps
            .split_whitespace()
            .map(|d| {
                name_from_path(d)
                    .ok_or_else(|| parse_err(format!("{d:?} is not a module file name")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        modules.insert(
            name,
            ModuleEntry {
                path: PathBuf::from(module),
                deps,
            },
        );
    }
    Ok(modules)
}

/// One module path per line: `kernel/drivers/block/loop.ko`.
fn parse_builtin(text: &str) -> HashSet<String> {
    text.lines()
        .filter_map(|l| name_from_path(l.trim()))
        .collect()
}

/// `alias pci:v00001AF4d00001000sv*sd*bc*sc*i* virtio_pci`
fn parse_alias(path: &Path, text: &str) -> Result<Vec<Alias>, Error> {
    let mut aliases = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next(), words.next()) {
            (Some("alias"), Some(pattern), Some(module), None) => aliases.push(Alias {
                prefix_len: literal_prefix(pattern).len(),
                pattern: pattern.to_string(),
                module: normalize(module),
            }),
            _ => {
                return Err(Error::Parse {
                    path: path.to_path_buf(),
                    line: n + 1,
                    reason: "expected `alias PATTERN MODULE`".into(),
                })
            }
        }
    }
    Ok(aliases)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_paths() {
        assert_eq!(
            name_from_path("kernel/net/802/stp.ko").as_deref(),
            Some("stp")
        );
        assert_eq!(
            name_from_path("kernel/fs/squashfs/squashfs.ko.xz").as_deref(),
            Some("squashfs")
        );
        assert_eq!(
            name_from_path("kernel/drivers/virtio/virtio-pci.ko.zst").as_deref(),
            Some("virtio_pci")
        );
        assert_eq!(name_from_path("README"), None);
    }

    #[test]
    fn dep_lines() {
        let text =
            "kernel/net/bridge/bridge.ko.xz: kernel/net/802/stp.ko.xz kernel/net/llc/llc.ko.xz\n\
                    kernel/net/802/stp.ko.xz: kernel/net/llc/llc.ko.xz\n\
                    kernel/net/llc/llc.ko.xz:\n";
        let m = parse_dep(Path::new("modules.dep"), text).unwrap();
        assert_eq!(m["bridge"].deps, vec!["stp", "llc"]);
        assert_eq!(m["llc"].deps, Vec::<String>::new());
        assert_eq!(m["stp"].path, PathBuf::from("kernel/net/802/stp.ko.xz"));
    }

    #[test]
    fn bad_dep_line_names_file_and_line() {
        let err = parse_dep(Path::new("/x/modules.dep"), "a.ko:\nnonsense\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "/x/modules.dep:2: expected `module.ko: deps…`"
        );
    }

    #[test]
    fn bad_alias_line() {
        let err =
            parse_alias(Path::new("modules.alias"), "alias a b\nalias onlyone\n").unwrap_err();
        assert!(err.to_string().starts_with("modules.alias:2:"), "{err}");
    }
}
