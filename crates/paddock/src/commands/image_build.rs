//! `paddock image build`: an OCI image from directories, one layer each,
//! pushed to a registry and/or imported into the local store.

use std::path::PathBuf;

use clap::Subcommand;
use paddock_store::build::{self, ImageBuildConfig};
use paddock_store::{Platform, RegistriesConfig, Store};
use paddock_wire::paths::Paths;

#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    /// Build an image from directories.
    Build {
        /// The first layer's directory.
        #[arg(long)]
        rootfs: PathBuf,
        /// Further layers, in order.
        #[arg(long = "layer")]
        layers: Vec<PathBuf>,
        /// The image's name, e.g. 127.0.0.1:5000/demo/busybox:latest.
        #[arg(long)]
        tag: String,
        /// Push to the tag's registry (plain HTTP only where registries.yaml allows).
        #[arg(long)]
        push: bool,
        /// Import into the local store under <root>.
        #[arg(long)]
        import: bool,
        /// Entrypoint, as a JSON array or a single word.
        #[arg(long)]
        entrypoint: Option<String>,
        /// Default command, as a JSON array or a single word.
        #[arg(long)]
        cmd: Option<String>,
        /// Environment, KEY=VALUE.
        #[arg(long)]
        env: Vec<String>,
        #[arg(long)]
        workdir: Option<String>,
        #[arg(long)]
        user: Option<String>,
        /// os/arch[/variant].
        #[arg(long, default_value = "linux/amd64")]
        platform: String,
    },
}

fn words(arg: Option<String>) -> anyhow::Result<Option<Vec<String>>> {
    match arg {
        None => Ok(None),
        Some(s) if s.trim_start().starts_with('[') => Ok(Some(serde_json::from_str(&s)?)),
        Some(s) => Ok(Some(vec![s])),
    }
}

pub async fn run(paths: &Paths, command: ImageCommand) -> anyhow::Result<i32> {
    let ImageCommand::Build {
        rootfs,
        layers,
        tag,
        push,
        import,
        entrypoint,
        cmd,
        env,
        workdir,
        user,
        platform,
    } = command;
    let mut dirs = vec![rootfs];
    dirs.extend(layers);
    let platform: Platform = platform
        .parse()
        .map_err(|e| anyhow::anyhow!("--platform {platform:?}: {e}"))?;
    let config = ImageBuildConfig {
        entrypoint: words(entrypoint)?,
        cmd: words(cmd)?,
        env,
        workdir,
        user,
        platform,
        ..ImageBuildConfig::default()
    };
    let image = build::build_image(&dirs, config)?;
    println!("built {tag} {}", image.manifest_digest);
    if push {
        let registries = RegistriesConfig::load(&paths.registries_config())?;
        build::push(&image, &tag, &registries).await?;
        println!("pushed {tag}");
    }
    if import {
        let store = Store::open(paths)?;
        store.import(&image, &tag).await?;
        println!("imported {tag} into {}", paths.store().display());
    }
    Ok(0)
}
