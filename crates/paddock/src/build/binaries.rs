//! The system binaries (paddock-init and the services, paddockd,
//! paddock-runner, paddock-breakglass, and the `paddock` CLI itself so
//! `ssh HOST paddock ps` works on the device) and the user's programs: prebuilt in a directory
//! (`--bin-dir`, `$PADDOCK_BIN_DIR`), or built here with cargo. They are
//! linked dynamically (paddockd needs libmnl, which Debian ships only as a
//! shared library); [`super::libs`] finds what they need so the build can
//! copy it into the image. Installing strips debug info, so the test
//! suite's own debug builds make a bootable image too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::error::{io_err, BuildError, Result};
use super::tool;
use crate::instance::config::Program;

/// Binaries every image has, installed in /usr/bin.
pub const SYSTEM: &[&str] = &[
    "paddock-init",
    "paddock-dhcp",
    "paddock-ntp",
    "paddock-randomd",
    "paddockd",
    "paddock-runner",
    "paddock-breakglass",
    // The CLI (package paddock, crates/paddock/): talks to the local
    // paddockd socket, for `ssh -t HOST paddock exec -it NAME -- sh`.
    "paddock",
];

/// Where the system binaries come from.
pub enum Source<'a> {
    Prebuilt(&'a Path),
    /// The paddock workspace (its root Cargo.toml's directory).
    Workspace(&'a Path),
}

fn cargo() -> PathBuf {
    std::env::var_os("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("cargo"))
}

/// A cargo command that builds reproducibly (`$PADDOCK_RUSTFLAGS`, if
/// set, become its RUSTFLAGS; otherwise the caller's apply, so a build
/// shares the target directory with `cargo build --release`).
fn cargo_cmd(epoch: u64) -> Command {
    let mut cmd = Command::new(cargo());
    if let Ok(flags) = std::env::var("PADDOCK_RUSTFLAGS") {
        cmd.env("RUSTFLAGS", flags.trim());
    }
    cmd.env("SOURCE_DATE_EPOCH", epoch.to_string())
        .stdin(Stdio::null());
    cmd
}

/// The system binaries by name; `profile` is cargo's (`release`).
pub fn system(source: Source<'_>, profile: &str, epoch: u64) -> Result<BTreeMap<String, PathBuf>> {
    let found = match source {
        Source::Prebuilt(dir) => {
            let missing: Vec<&str> = SYSTEM
                .iter()
                .copied()
                .filter(|b| !dir.join(b).is_file())
                .collect();
            if !missing.is_empty() {
                return Err(BuildError::Binary(format!(
                    "{} lacks {} (build them with cargo build --release --workspace)",
                    dir.display(),
                    missing.join(", ")
                )));
            }
            SYSTEM
                .iter()
                .map(|b| (b.to_string(), dir.join(b)))
                .collect()
        }
        Source::Workspace(ws) => {
            let mut cmd = cargo_cmd(epoch);
            cmd.current_dir(ws)
                .args(["build", "--locked", "--workspace", "--profile", profile])
                .arg("--manifest-path")
                .arg(ws.join("Cargo.toml"));
            // The whole workspace, as `cargo build --release --workspace`
            // builds it: `--bin` filters change the dependencies' features
            // (measured: zstd-sys and aws-lc-sys built a second time).
            let mut exes = cargo_executables(cmd, "building the system binaries")?;
            let mut found = BTreeMap::new();
            for b in SYSTEM {
                let exe = exes.remove(*b).ok_or_else(|| {
                    BuildError::Binary(format!("cargo build --workspace made no {b}"))
                })?;
                found.insert(b.to_string(), exe);
            }
            found
        }
    };
    for (name, path) in &found {
        check_elf(name, path)?;
    }
    Ok(found)
}

/// Builds one user program; returns its executable.
pub fn program(p: &Program, instance_dir: &Path, work: &Path, epoch: u64) -> Result<PathBuf> {
    let fail = |message: String| BuildError::Program {
        name: p.name.clone(),
        message,
    };
    let exe = if let Some(path) = &p.path {
        let manifest = instance_dir.join(path).join("Cargo.toml");
        let mut cmd = cargo_cmd(epoch);
        cmd.args(["build", "--release", "--manifest-path"])
            .arg(&manifest);
        if let Some(bin) = &p.bin {
            cmd.args(["--bin", bin]);
        }
        let exes = cargo_executables(cmd, &format!("building program {}", p.name))?;
        pick(exes, p).map_err(fail)?
    } else if let Some(krate) = &p.krate {
        let root = work.join("install").join(&p.name);
        let mut cmd = cargo_cmd(epoch);
        cmd.args(["install", "--locked", "--quiet", "--root"])
            .arg(&root);
        if let Some(v) = &p.version {
            cmd.args(["--version", v]);
        }
        if let Some(bin) = &p.bin {
            cmd.args(["--bin", bin]);
        }
        cmd.arg(krate);
        tool::run(cmd, &format!("cargo install {krate} (program {})", p.name))?;
        let bin_dir = root.join("bin");
        let exes: BTreeMap<String, PathBuf> = std::fs::read_dir(&bin_dir)
            .map_err(io_err("reading", &bin_dir))?
            .flatten()
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .collect();
        pick(exes, p).map_err(fail)?
    } else {
        return Err(fail("neither path nor crate".into()));
    };
    check_elf(&p.name, &exe)?;
    Ok(exe)
}

fn pick(exes: BTreeMap<String, PathBuf>, p: &Program) -> std::result::Result<PathBuf, String> {
    let want = p.bin.as_deref().unwrap_or(&p.name);
    if let Some(e) = exes.get(want) {
        return Ok(e.clone());
    }
    let mut all = exes.into_iter();
    match (all.next(), all.next()) {
        (Some((_, only)), None) => Ok(only),
        (None, _) => Err("the build produced no executable".into()),
        (Some((a, _)), Some((b, _))) => Err(format!(
            "several executables ({a}, {b}, …): set bin: in config.yaml"
        )),
    }
}

/// Runs a cargo build with JSON messages; the executables it produced.
fn cargo_executables(mut cmd: Command, what: &str) -> Result<BTreeMap<String, PathBuf>> {
    cmd.arg("--message-format=json-render-diagnostics");
    let out = tool::run(cmd, what)?;
    let mut exes = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] == "compiler-artifact" {
            if let Some(exe) = msg["executable"].as_str() {
                let exe = PathBuf::from(exe);
                if let Some(name) = exe.file_name() {
                    exes.insert(name.to_string_lossy().into_owned(), exe);
                }
            }
        }
    }
    Ok(exes)
}

fn check_elf(name: &str, path: &Path) -> Result<()> {
    super::elf::read(path)
        .map(|_| ())
        .map_err(|e| BuildError::Binary(format!("{name} ({}): {e}", path.display())))
}

/// Copies an executable into the image, mode 0755, without its debug info.
pub fn install(from: &Path, to: &Path) -> Result<()> {
    let debug = super::elf::read(from).is_ok_and(|i| i.has_debug_info);
    if !debug {
        return super::rootfs::install(from, to);
    }
    let strip = tool::find("strip", "binutils")?;
    let mut cmd = Command::new(strip);
    cmd.arg("--strip-debug").arg("-o").arg(to).arg(from);
    tool::run(cmd, &format!("strip {}", from.display()))?;
    std::fs::set_permissions(to, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .map_err(super::error::io_err("chmod", to))
}
