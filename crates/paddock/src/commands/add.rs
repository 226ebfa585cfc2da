//! `paddock add TARGET`: add a Rust program (a cargo package directory or a
//! crate name, `NAME[@VERSION]`) or a container manifest (a `.yaml` file) to
//! an instance.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

use crate::instance::config::Program;
use crate::instance::Instance;

pub struct AddArgs<'a> {
    pub instance: Option<&'a Path>,
    pub target: &'a str,
    /// The program's name under /user (default: its binary's name).
    pub name: Option<&'a str>,
    pub flags: Vec<String>,
    pub wait_for_clock: bool,
    pub dont_start: bool,
}

pub fn run(args: AddArgs<'_>) -> anyhow::Result<i32> {
    let dir = super::instance_dir::resolve(args.instance)?;
    let mut instance = Instance::load(&dir)?;
    let target = Path::new(args.target);
    if target.is_file() {
        return add_manifest(&instance, target);
    }
    let mut program = if target.is_dir() {
        local_program(&instance, target, args.name)?
    } else if target.components().count() > 1 || args.target.starts_with('.') {
        bail!("{}: no such file or directory", target.display())
    } else {
        crate_program(args.target, args.name)?
    };
    program.flags = args.flags;
    program.wait_for_clock = args.wait_for_clock;
    program.dont_start = args.dont_start;
    if instance
        .config
        .programs
        .iter()
        .any(|p| p.name == program.name)
    {
        bail!(
            "a program named {:?} is already in {} (use --name)",
            program.name,
            instance.config_path.display()
        );
    }
    let name = program.name.clone();
    instance.config.programs.push(program);
    // Check the result as `build` will before writing it.
    let text = serde_saphyr::to_string(&instance.config)?;
    let check = tempfile::NamedTempFile::new_in(&instance.dir)?;
    std::fs::write(check.path(), text)?;
    Instance::load_from(&instance.dir, check.path())?;
    instance.save()?;
    println!(
        "added program {name} (/user/{name}) to {}",
        instance.config_path.display()
    );
    Ok(0)
}

fn add_manifest(instance: &Instance, file: &Path) -> anyhow::Result<i32> {
    let manifest = paddock_manifest::load_file(file)?;
    let dir = instance.config.containers_dir(&instance.dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let dest = dir.join(format!("{}.yaml", manifest.name));
    if dest.exists() {
        bail!("{} already exists", dest.display());
    }
    let data = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    crate::instance::write_private(&dest, &data)?;
    println!("added container {} ({})", manifest.name, dest.display());
    Ok(0)
}

/// A cargo package on disk: its binaries from `cargo metadata`.
fn local_program(instance: &Instance, dir: &Path, name: Option<&str>) -> anyhow::Result<Program> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        bail!("{}: not a cargo package (no Cargo.toml)", dir.display());
    }
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(&manifest)
        .output()
        .context("running cargo metadata (is cargo installed?)")?;
    if !out.status.success() {
        bail!(
            "cargo metadata {}: {}",
            manifest.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let bins: Vec<String> = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .filter(|t| {
            t["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bin"))
        })
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect();
    let bin = match (name, bins.as_slice()) {
        (_, []) => bail!("{}: the package has no binary", dir.display()),
        (_, [only]) => only.clone(),
        (Some(n), many) if many.iter().any(|b| b == n) => n.to_string(),
        (_, many) => bail!(
            "{}: several binaries ({}): pick one with --name",
            dir.display(),
            many.join(", ")
        ),
    };
    let abs = std::path::absolute(dir)?;
    let path = abs
        .strip_prefix(&instance.dir)
        .map(|p| PathBuf::from(".").join(p))
        .unwrap_or(abs.clone());
    Ok(Program {
        name: name.unwrap_or(&bin).to_string(),
        path: Some(path),
        krate: None,
        version: None,
        bin: Some(bin),
        flags: Vec::new(),
        env: Default::default(),
        wait_for_clock: false,
        dont_start: false,
    })
}

fn crate_program(spec: &str, name: Option<&str>) -> anyhow::Result<Program> {
    let (krate, version) = match spec.split_once('@') {
        Some((k, v)) => (k, Some(v.to_string())),
        None => (spec, None),
    };
    if krate.is_empty()
        || !krate
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        bail!("{spec:?} is neither a file, a directory, nor a crate name");
    }
    Ok(Program {
        name: name.unwrap_or(krate).to_string(),
        path: None,
        krate: Some(krate.to_string()),
        version,
        bin: None,
        flags: Vec::new(),
        env: Default::default(),
        wait_for_clock: false,
        dont_start: false,
    })
}
