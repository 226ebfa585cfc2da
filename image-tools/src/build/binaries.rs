//! The system binaries (paddock-init and the services, paddockd,
//! paddock-runner) and the user's programs, all static so the image needs
//! no shared libraries: prebuilt in a directory (`--bin-dir`,
//! `$PADDOCK_BIN_DIR`), or built here with cargo
//! (`--target <triple>`, `RUSTFLAGS=-C target-feature=+crt-static`).

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
];

/// The Rust target the image runs.
pub const TARGET: &str = "x86_64-unknown-linux-gnu";

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

/// A cargo command that builds static binaries reproducibly.
fn static_cargo(epoch: u64) -> Command {
    let mut cmd = Command::new(cargo());
    let mut flags = std::env::var("PADDOCK_RUSTFLAGS").unwrap_or_default();
    flags.push_str(" -C target-feature=+crt-static");
    cmd.env("RUSTFLAGS", flags.trim())
        .env("SOURCE_DATE_EPOCH", epoch.to_string())
        .stdin(Stdio::null());
    cmd
}

/// The system binaries by name.
pub fn system(source: Source<'_>, epoch: u64) -> Result<BTreeMap<String, PathBuf>> {
    let found = match source {
        Source::Prebuilt(dir) => {
            let missing: Vec<&str> = SYSTEM
                .iter()
                .copied()
                .filter(|b| !dir.join(b).is_file())
                .collect();
            if !missing.is_empty() {
                return Err(BuildError::Binary(format!(
                    "{} lacks {} (build them with cargo build --release --target {TARGET}, RUSTFLAGS=\"-C target-feature=+crt-static\")",
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
            let mut cmd = static_cargo(epoch);
            cmd.current_dir(ws)
                .args([
                    "build",
                    "--release",
                    "--locked",
                    "--workspace",
                    "--target",
                    TARGET,
                ])
                .arg("--manifest-path")
                .arg(ws.join("Cargo.toml"));
            for b in SYSTEM {
                cmd.args(["--bin", b]);
            }
            cargo_executables(cmd, "building the system binaries")?
        }
    };
    for (name, path) in &found {
        check_static(name, path)?;
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
        let mut cmd = static_cargo(epoch);
        cmd.args(["build", "--release", "--target", TARGET, "--manifest-path"])
            .arg(&manifest);
        if let Some(bin) = &p.bin {
            cmd.args(["--bin", bin]);
        }
        let exes = cargo_executables(cmd, &format!("building program {}", p.name))?;
        pick(exes, p).map_err(fail)?
    } else if let Some(krate) = &p.krate {
        let root = work.join("install").join(&p.name);
        let mut cmd = static_cargo(epoch);
        cmd.args([
            "install", "--locked", "--quiet", "--target", TARGET, "--root",
        ])
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
    check_static(&p.name, &exe)?;
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

fn check_static(name: &str, path: &Path) -> Result<()> {
    match super::elf::is_static(path) {
        Ok(true) => Ok(()),
        Ok(false) => Err(BuildError::Binary(format!(
            "{name} ({}) is dynamically linked: the device has no shared libraries (build with RUSTFLAGS=\"-C target-feature=+crt-static\" --target {TARGET})",
            path.display()
        ))),
        Err(e) => Err(BuildError::Binary(format!("{name} ({}): {e}", path.display()))),
    }
}
