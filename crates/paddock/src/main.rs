//! `paddock`: the command line for paddock.
//!
//! On the device it talks to paddockd over `/run/paddock/paddockd.sock` (ps,
//! logs, exec, start/stop/restart, images, apply). Anywhere it checks
//! manifests (`validate`) and builds OCI images from directories
//! (`image build`). On a workstation it makes appliance images: `new`,
//! `add`, `edit` an instance, `build` a disk image, `write` it to a disk.
//! With `--host HOST[:PORT]` ps, logs, exec, start/stop/restart (services
//! too), images and apply talk to a device over its web server instead.

mod build;
mod client;
mod commands;
mod instance;
mod remote;
mod terminal;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "paddock",
    version,
    about = "paddock: containers on an appliance"
)]
struct Cli {
    /// Filesystem prefix for /etc/paddock, /perm, /var and /run.
    #[arg(long, global = true, default_value = "/")]
    root: PathBuf,
    /// paddockd's API socket (default: <root>/run/paddock/paddockd.sock).
    #[arg(long, global = true)]
    socket: Option<PathBuf>,
    /// Talk to a device's web server (HOST[:PORT]; port: the instance's
    /// http_port, else 80) instead of the local paddockd.
    #[arg(long, global = true, value_name = "HOST[:PORT]")]
    host: Option<String>,
    /// The instance directory (build, edit, add; with --host its
    /// update_password is the device's password and its CA checks the
    /// device's HTTPS certificate); env PADDOCK_INSTANCE.
    #[arg(long, global = true, value_name = "DIR")]
    instance: Option<PathBuf>,
    /// The device's password when there is no --instance and no
    /// $PADDOCK_PASSWORD.
    #[arg(long, global = true)]
    password: Option<String>,
    /// With --host and no instance CA: speak plain HTTP and send the
    /// password in the clear (a device built without keys).
    #[arg(long, global = true)]
    insecure_http: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check manifests without running anything.
    Validate {
        /// Manifest files or directories of them (default: <root>/etc/paddock/containers).
        paths: Vec<PathBuf>,
    },
    /// List containers.
    Ps {
        #[arg(long)]
        json: bool,
    },
    /// Show a container's output.
    Logs {
        name: String,
        #[arg(short, long)]
        follow: bool,
        /// Only the last N lines.
        #[arg(long)]
        tail: Option<usize>,
    },
    /// Run a command in a running container.
    Exec {
        /// Keep stdin open.
        #[arg(short, long)]
        interactive: bool,
        /// Allocate a terminal.
        #[arg(short, long)]
        tty: bool,
        /// Environment variables, KEY=VALUE.
        #[arg(short, long)]
        env: Vec<String>,
        name: String,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Start a stopped container.
    Start { name: String },
    /// Stop a container (stop signal, grace period, SIGKILL).
    Stop { name: String },
    /// Restart a container.
    Restart { name: String },
    /// Re-read the manifests and restart what changed.
    Apply,
    /// Pull an image into the store.
    Pull { reference: String },
    /// List the images in the store.
    Images {
        #[arg(long)]
        json: bool,
    },
    /// Remove an image no container uses.
    Rmi { reference: String },
    /// Remove images, layers and blobs no container uses.
    Prune,
    /// Create an instance directory (config.yaml + containers/).
    New {
        name: String,
        /// Where (default: ~/paddock/NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Add a Rust program (cargo package dir, or crate[@version]) or a container manifest (.yaml).
    Add {
        /// The program's name under /user/ (default: its binary's name).
        #[arg(long)]
        name: Option<String>,
        /// Start the program only once the clock is synchronised.
        #[arg(long)]
        wait_for_clock: bool,
        /// Install the program but do not start it at boot.
        #[arg(long)]
        dont_start: bool,
        target: String,
        /// Command-line flags for the program.
        #[arg(last = true)]
        flags: Vec<String>,
    },
    /// Edit the instance's config.yaml in $EDITOR (kept only when valid).
    Edit,
    /// Build the instance and install it on a running device over the
    /// network (the inactive slot; rolled back automatically if unhealthy).
    /// The device is `--host HOST[:PORT]`, its password `--password`,
    /// `$PADDOCK_PASSWORD` or the instance's update_password.
    Update {
        /// Prebuilt system binaries (paddock-init, paddockd, …); env PADDOCK_BIN_DIR.
        #[arg(long)]
        bin_dir: Option<PathBuf>,
        #[arg(long)]
        workspace: Option<PathBuf>,
        #[arg(long, default_value = "release")]
        profile: String,
        #[arg(long)]
        epoch: Option<u64>,
        /// Seconds to wait for the device to come back.
        #[arg(long, default_value_t = 600)]
        timeout_secs: u64,
        /// Update even when the device already runs the built version.
        #[arg(long)]
        force: bool,
        /// Send a signed update made earlier by `paddock build --update-dir
        /// DIR` instead of building (the keys need not be on this machine).
        #[arg(long, value_name = "DIR")]
        from: Option<PathBuf>,
    },
    /// Build the instance's disk image (GPT: ESP, root A/B, perm).
    Build {
        /// Output file (default: HOSTNAME.img).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Prebuilt system binaries (paddock-init, paddockd, …); env PADDOCK_BIN_DIR.
        #[arg(long)]
        bin_dir: Option<PathBuf>,
        /// The paddock source tree to build them from (default: the one paddock was built from).
        #[arg(long)]
        workspace: Option<PathBuf>,
        /// Cargo profile for building them.
        #[arg(long, default_value = "release")]
        profile: String,
        /// SOURCE_DATE_EPOCH for every time stamp in the image.
        #[arg(long)]
        epoch: Option<u64>,
        /// Do not list the files.
        #[arg(short, long)]
        quiet: bool,
        /// Also keep the signed update here (root, kernel, initramfs,
        /// update.json and its signatures) for `paddock update --from`.
        #[arg(long, value_name = "DIR")]
        update_dir: Option<PathBuf>,
    },
    /// Write an image to a disk or file (like gok overwrite --full); /perm fills the rest.
    Write {
        /// The image from `paddock build`.
        #[arg(long, short)]
        image: PathBuf,
        /// The device or file to overwrite.
        #[arg(long)]
        full: PathBuf,
        /// Size of the target file (e.g. 4GiB); devices use their size.
        #[arg(long)]
        target_size: Option<instance::size::ByteSize>,
    },
    /// The instance's keys: update signing, Secure Boot, the device CA.
    Keys {
        #[command(subcommand)]
        command: commands::keys::KeysCommand,
    },
    /// OCI image tools.
    Image {
        #[command(subcommand)]
        command: commands::image_build::ImageCommand,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cli = Cli::parse();
    paddock_sys::logging::Logging::from_env("PADDOCK_LOG", "warn")
        .with_target(true)
        .init();
    let code = match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("paddock: {e:#}");
            1
        }
    };
    std::process::exit(code);
}

async fn run(cli: Cli) -> anyhow::Result<i32> {
    let paths = paddock_wire::paths::Paths::new(&cli.root);
    let socket = cli.socket.clone().unwrap_or_else(|| paths.api_socket());
    let client = match &cli.host {
        Some(host) => client::Client::remote(&remote::Device::resolve(
            host,
            cli.instance
                .clone()
                .or_else(|| std::env::var_os("PADDOCK_INSTANCE").map(PathBuf::from))
                .as_deref(),
            std::env::var("PADDOCK_PASSWORD").ok(),
            cli.password.clone(),
            cli.insecure_http,
        )?)?,
        None => client::Client::new(&socket),
    };
    let instance = cli.instance;
    use commands::*;
    match cli.command {
        Command::Validate { paths: targets } => validate::run(&paths, &targets),
        Command::Ps { json } => ps::run(&client, json).await,
        Command::Logs { name, follow, tail } => logs::run(&client, &name, follow, tail).await,
        Command::Exec {
            interactive,
            tty,
            env,
            name,
            command,
        } => exec::run(&client, &name, command, interactive, tty, env).await,
        Command::Start { name } => control::container(&client, &name, "start").await,
        Command::Stop { name } => control::container(&client, &name, "stop").await,
        Command::Restart { name } => control::container(&client, &name, "restart").await,
        Command::Apply => control::apply(&client).await,
        Command::Pull { reference } => images::pull(&client, &reference).await,
        Command::Images { json } => images::list(&client, json).await,
        Command::Rmi { reference } => images::remove(&client, &reference).await,
        Command::Prune => images::prune(&client).await,
        Command::New { name, dir } => new::run(&name, dir.as_deref()),
        Command::Add {
            name,
            wait_for_clock,
            dont_start,
            target,
            flags,
        } => add::run(add::AddArgs {
            instance: instance.as_deref(),
            target: &target,
            name: name.as_deref(),
            flags,
            wait_for_clock,
            dont_start,
        }),
        Command::Edit => edit::run(instance.as_deref()),
        Command::Update {
            bin_dir,
            workspace,
            profile,
            epoch,
            timeout_secs,
            force,
            from,
        } => {
            let host = cli
                .host
                .clone()
                .ok_or_else(|| anyhow::anyhow!("paddock update needs --host HOST[:PORT]"))?;
            let password = cli.password.clone().or_else(|| {
                std::env::var("PADDOCK_PASSWORD")
                    .ok()
                    .filter(|p| !p.is_empty())
            });
            commands::update::run(commands::update::UpdateArgs {
                instance,
                host,
                password,
                bin_dir,
                workspace,
                profile,
                epoch,
                timeout: std::time::Duration::from_secs(timeout_secs),
                force,
                from,
            })
            .await
        }
        Command::Build {
            output,
            bin_dir,
            workspace,
            profile,
            epoch,
            quiet,
            update_dir,
        } => {
            commands::build::run(commands::build::BuildArgs {
                update_dir,
                instance,
                output,
                bin_dir,
                workspace,
                profile,
                epoch,
                quiet,
            })
            .await
        }
        Command::Write {
            image,
            full,
            target_size,
        } => write::run(&image, &full, target_size.map(|s| s.0)),
        Command::Keys { command } => keys::run(instance.as_deref(), command),
        Command::Image { command } => image_build::run(&paths, command).await,
    }
}
