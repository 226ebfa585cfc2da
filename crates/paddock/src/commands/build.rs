//! `paddock build [--instance DIR] [-o FILE]`: make the disk image and
//! print its size, partitions and contents.

use std::path::PathBuf;

use crate::build::{self, BuildOptions};

pub struct BuildArgs {
    pub instance: Option<PathBuf>,
    pub output: Option<PathBuf>,
    pub bin_dir: Option<PathBuf>,
    pub workspace: Option<PathBuf>,
    pub profile: String,
    pub epoch: Option<u64>,
    pub quiet: bool,
    pub update_dir: Option<PathBuf>,
}

pub async fn run(args: BuildArgs) -> anyhow::Result<i32> {
    let instance = super::instance_dir::resolve(args.instance.as_deref())?;
    let output = match args.output {
        Some(o) => o,
        None => {
            let name = crate::instance::Instance::load(&instance)?.config.hostname;
            PathBuf::from(format!("{name}.img"))
        }
    };
    let opts = BuildOptions {
        instance,
        output,
        bin_dir: args
            .bin_dir
            .or_else(|| std::env::var_os("PADDOCK_BIN_DIR").map(PathBuf::from)),
        workspace: args.workspace,
        profile: args.profile,
        cache: cache_dir(),
        epoch: args.epoch,
        artifacts: args.update_dir.clone(),
    };
    let report = build::build(&opts).await?;
    if !args.quiet {
        build::sbom::print(&report.sbom);
    }
    println!("partitions:");
    for p in &report.layout.parts {
        println!(
            "  {:<7} {:>6} MiB at {:>6} MiB  PARTUUID={}",
            p.name,
            p.size >> 20,
            p.start >> 20,
            p.guid
        );
    }
    println!(
        "wrote {} ({} bytes = {} MiB, sparse), sha256 {}",
        report.output.display(),
        report.sbom.image_bytes,
        report.sbom.image_bytes >> 20,
        report.sbom.image_sha256
    );
    println!("contents listed in {}", report.sbom_path.display());
    let keys: Vec<&str> = report
        .update
        .signatures
        .iter()
        .map(|s| s.key.as_str())
        .collect();
    println!(
        "version {}, generation {}, signed by update key {}",
        report.version,
        report.update.statement.generation,
        keys.join(" and ")
    );
    if let Some(dir) = &args.update_dir {
        println!("signed update in {}", dir.display());
    }
    Ok(0)
}

/// `$XDG_CACHE_HOME/paddock` or `~/.cache/paddock`.
pub fn cache_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(x).join("paddock");
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cache/paddock"))
        .unwrap_or_else(|| std::env::temp_dir().join("paddock-cache"))
}
