//! The shared libraries dynamically linked binaries need on the device.
//!
//! paddockd links libnftnl and libmnl, and Debian ships no static libmnl,
//! so the system binaries are dynamic. Their dependency closure (the ELF
//! interpreter and every `DT_NEEDED` soname, recursively) is resolved the
//! way glibc's loader does without an `ld.so.cache`: `DT_RUNPATH`/`DT_RPATH`
//! first, then the multiarch and plain system directories. Each library is
//! placed in the image at the very path it was found at (symlinks on the
//! build host followed to the file), so the device's loader finds it at its
//! standard path; the interpreter goes to its `PT_INTERP` path.

use std::collections::{btree_map::Entry, BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::elf::{self, ElfInfo};
use super::error::{BuildError, Result};

/// A file to copy into the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Library {
    /// The host file (symlinks resolved).
    pub source: PathBuf,
    /// Which binary or library first needed it (for error messages and the log).
    pub needed_by: String,
}

/// Debian's multiarch tuple for an ELF `e_machine`.
fn multiarch(machine: u16) -> Option<&'static str> {
    use goblin::elf::header::{EM_386, EM_AARCH64, EM_ARM, EM_RISCV, EM_X86_64};
    match machine {
        EM_X86_64 => Some("x86_64-linux-gnu"),
        EM_AARCH64 => Some("aarch64-linux-gnu"),
        EM_386 => Some("i386-linux-gnu"),
        EM_ARM => Some("arm-linux-gnueabihf"),
        EM_RISCV => Some("riscv64-linux-gnu"),
        _ => None,
    }
}

/// The loader's default directories (relative to the root), in order.
fn system_dirs(info: &ElfInfo) -> Vec<String> {
    let mut dirs = Vec::new();
    if let Some(t) = multiarch(info.machine) {
        dirs.push(format!("lib/{t}"));
        dirs.push(format!("usr/lib/{t}"));
    }
    if info.is_64 {
        dirs.push("lib64".into());
        dirs.push("usr/lib64".into());
    }
    dirs.push("lib".into());
    dirs.push("usr/lib".into());
    dirs
}

/// Everything `binaries` need, keyed by the path in the image (relative,
/// e.g. `lib/x86_64-linux-gnu/libc.so.6`), resolved under `sysroot` (`/`
/// for the build host). Static binaries add nothing.
pub fn closure(binaries: &[(&str, &Path)], sysroot: &Path) -> Result<BTreeMap<String, Library>> {
    let mut found: BTreeMap<String, Library> = BTreeMap::new();
    // (who needs it, its ELF info)
    let mut queue: Vec<(String, ElfInfo)> = Vec::new();
    for (name, path) in binaries {
        let info = elf::read(path)
            .map_err(|e| BuildError::Binary(format!("{name} ({}): {e}", path.display())))?;
        queue.push((name.to_string(), info));
    }
    let mut seen: BTreeSet<String> = BTreeSet::new();
    while let Some((who, info)) = queue.pop() {
        if let Some(interp) = &info.interpreter {
            let rel = interp.trim_start_matches('/').to_string();
            if let Entry::Vacant(slot) = found.entry(rel) {
                let source = resolve(&sysroot.join(slot.key())).ok_or_else(|| {
                    BuildError::Binary(format!(
                        "{who} needs the dynamic loader {interp}, which is not on this machine (apt-get install libc6)"
                    ))
                })?;
                slot.insert(Library {
                    source,
                    needed_by: who.clone(),
                });
            }
        }
        let mut dirs: Vec<String> = info
            .search
            .iter()
            .flat_map(|s| s.split(':'))
            .filter(|d| d.starts_with('/') && !d.contains('$'))
            .map(|d| d.trim_matches('/').to_string())
            .collect();
        dirs.extend(system_dirs(&info));
        for soname in &info.needed {
            // One copy per soname: the loader loads a soname once.
            if !seen.insert(soname.clone()) {
                continue;
            }
            let hit = dirs.iter().find_map(|d| {
                let candidate = sysroot.join(d).join(soname);
                let source = resolve(&candidate)?;
                let lib = elf::read(&source).ok()?;
                (lib.machine == info.machine && lib.is_64 == info.is_64)
                    .then(|| (format!("{d}/{soname}"), source, lib))
            });
            let Some((rel, source, lib)) = hit else {
                return Err(BuildError::Binary(format!(
                    "{who} needs {soname}, which is in none of /{} on this machine (install the package that has it: dpkg -S {soname} on a machine that has it, or apt-file search)",
                    dirs.join(", /")
                )));
            };
            found.insert(
                rel.clone(),
                Library {
                    source,
                    needed_by: who.clone(),
                },
            );
            queue.push((rel, lib));
        }
    }
    Ok(found)
}

/// The Debian package that holds a library and its version (`libc6
/// 2.36-9+deb12u10`), asked of dpkg under the path the loader uses and
/// then the file's real path (merged /usr); `None` off Debian.
pub fn debian_package(image_path: &str, source: &Path) -> Option<String> {
    let query = |args: &[&str]| -> Option<String> {
        let out = std::process::Command::new("dpkg-query")
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let owner = [format!("/{image_path}"), source.display().to_string()]
        .iter()
        .find_map(|p| query(&["-S", p]))?;
    let package = owner.lines().next()?.split(": ").next()?.to_string();
    let version = query(&["-W", "-f=${Version}", &package])?;
    Some(format!("{package} {version}"))
}

/// The regular file `path` is or points to.
fn resolve(path: &Path) -> Option<PathBuf> {
    let real = std::fs::canonicalize(path).ok()?;
    real.is_file().then_some(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ls_needs_libc_and_the_loader_at_their_standard_paths() {
        let libs = closure(&[("ls", Path::new("/bin/ls"))], Path::new("/")).unwrap();
        let interp = elf::read(Path::new("/bin/ls"))
            .unwrap()
            .interpreter
            .unwrap();
        assert!(
            libs.contains_key(interp.trim_start_matches('/')),
            "{libs:?}"
        );
        let libc = libs
            .iter()
            .find(|(k, _)| k.ends_with("/libc.so.6"))
            .unwrap_or_else(|| panic!("no libc.so.6 in {libs:?}"));
        assert!(libc.0.starts_with("lib/"), "{libc:?}");
        assert!(libc.1.source.is_file());
        assert!(!libc.1.source.is_symlink());
    }

    #[test]
    fn static_binaries_need_nothing() {
        if Path::new("/bin/busybox").exists() {
            let libs = closure(&[("busybox", Path::new("/bin/busybox"))], Path::new("/")).unwrap();
            assert!(libs.is_empty(), "{libs:?}");
        }
    }

    #[test]
    fn a_missing_library_is_named() {
        let root = tempfile::tempdir().unwrap();
        let err = closure(&[("ls", Path::new("/bin/ls"))], root.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("ls needs"), "{err}");
    }
}
