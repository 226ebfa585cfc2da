//! `paddock build`: an instance → a GPT disk image (ESP with systemd-boot
//! and a kernel + initramfs per slot, root A and B as SquashFS, /perm as
//! ext4), byte-for-byte reproducible from the same inputs.
//!
//! Every check that can fail on bad input (config, manifests, tools,
//! binaries) runs before the slow steps; the image is written to a temp
//! file beside the output and renamed into place only when complete.
//!
//! API: [`BuildOptions`], [`build`] → [`BuildReport`]; [`disk::Layout`] and
//! [`perm::make_from`] are shared with `paddock write`.

pub mod binaries;
pub mod disk;
mod elf;
mod error;
mod esp;
pub mod generation;
mod ids;
mod initramfs;
mod kernel;
mod libs;
pub mod perm;
mod preload;
mod rootfs;
pub mod sbom;
pub mod signed_update;
mod squashfs;
mod system_config;
mod tls;
mod tool;
mod verity;

use std::path::{Path, PathBuf};

pub use error::{BuildError, Result};
pub use ids::Ids;

use crate::instance::Instance;
use error::io_err;
use paddock_wire::build_info::{BuildInfo, KernelPackage};

/// Partition names, in disk order.
pub const ESP: &str = "esp";
pub const ROOT_A: &str = "root-a";
pub const ROOT_B: &str = "root-b";
pub const PERM: &str = "perm";

/// What to build and from what.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub instance: PathBuf,
    pub output: PathBuf,
    /// Prebuilt system binaries (else built from `workspace`).
    pub bin_dir: Option<PathBuf>,
    /// Cargo profile for building them from `workspace` (`release`).
    pub profile: String,
    /// The paddock source tree (its Cargo.toml's directory).
    pub workspace: Option<PathBuf>,
    /// Downloaded kernel packages.
    pub cache: PathBuf,
    /// SOURCE_DATE_EPOCH; default: the environment, else the workspace's
    /// last commit, else config.yaml's modification time.
    pub epoch: Option<u64>,
    /// Also keep the signed update here (`paddock update`, `paddock build
    /// --update-dir`): see [`signed_update`].
    pub artifacts: Option<PathBuf>,
}

/// The finished image.
#[derive(Debug)]
pub struct BuildReport {
    pub output: PathBuf,
    pub sbom_path: PathBuf,
    pub sbom: sbom::Sbom,
    pub layout: disk::Layout,
    /// `build.json`'s `version`: paddock's version, the epoch and a hash of
    /// the root's contents.
    pub version: String,
    /// The signed update statement of this build.
    pub update: signed_update::SignedUpdate,
}

pub async fn build(opts: &BuildOptions) -> Result<BuildReport> {
    // 1. Everything that only needs reading: fail before doing work.
    let instance = Instance::load(&opts.instance)?;
    let c = &instance.config;
    let epoch = resolve_epoch(opts, &instance);
    let keys = crate::instance::keys::Keys::of(&instance.dir);
    let update_keys = keys.update_keys()?;
    let password_salt = keys.password_salt()?;
    for (t, p) in [
        ("mksquashfs", "squashfs-tools"),
        ("mkfs.ext4", "e2fsprogs"),
        ("depmod", "kmod"),
        ("dpkg-deb", "dpkg"),
    ] {
        tool::find(t, p)?;
    }
    if !Path::new(esp::SYSTEMD_BOOT).is_file() {
        return Err(BuildError::MissingTool {
            tool: esp::SYSTEMD_BOOT.into(),
            package: "systemd-boot-efi".into(),
        });
    }
    let containers_dir = c.containers_dir(&instance.dir);
    let manifests = if containers_dir.is_dir() {
        let report = paddock_manifest::load_dir(&containers_dir);
        if !report.errors.is_empty() {
            let all: Vec<String> = report.errors.iter().map(|e| e.to_string()).collect();
            return Err(BuildError::Containers(all.join("\n")));
        }
        report.manifests
    } else if c.containers == Path::new("containers") {
        Vec::new()
    } else {
        return Err(BuildError::Containers(format!(
            "{} is not a directory",
            containers_dir.display()
        )));
    };
    if let crate::instance::config::Preload::Only(names) = &c.preload {
        for n in names {
            if !manifests.iter().any(|m| &m.name == n) {
                return Err(BuildError::Containers(format!(
                    "preload names {n:?}, which is not a container in {}",
                    containers_dir.display()
                )));
            }
        }
    }
    let registries_yaml = serde_saphyr::to_string(&c.registries)
        .map_err(|e| BuildError::Layout(format!("registries: {e}")))?;
    let registries =
        paddock_store::RegistriesConfig::parse(&registries_yaml, &instance.config_path)
            .map_err(|e| BuildError::Containers(e.to_string()))?;
    let mut system_json = system_config::build(c, password_salt)?;
    if c.update != Default::default() {
        system_json.update = Some(paddock_wire::system::UpdateSettings {
            health_timeout_secs: c.update.health_timeout_secs,
            healthy_for_secs: c.update.healthy_for_secs,
            tries: c.update.tries,
        });
    }
    let out_dir = match opts.output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !out_dir.is_dir() {
        return Err(BuildError::Layout(format!(
            "output directory {} does not exist",
            out_dir.display()
        )));
    }
    let work = tempfile::Builder::new()
        .prefix("paddock-build-")
        .tempdir()
        .map_err(io_err("creating a temp dir in", &std::env::temp_dir()))?;
    let work = work.path();

    // 2. Binaries first (a program that fails to build is the likeliest error).
    let workspace = opts.workspace.clone().or_else(default_workspace);
    let source =
        match (&opts.bin_dir, &workspace) {
            (Some(dir), _) => binaries::Source::Prebuilt(dir),
            (None, Some(ws)) => binaries::Source::Workspace(ws),
            (None, None) => return Err(BuildError::Binary(
                "no system binaries: pass --bin-dir DIR or --workspace (the paddock source tree)"
                    .into(),
            )),
        };
    eprintln!("paddock build: system binaries");
    let system = binaries::system(source, &opts.profile, epoch)?;
    let mut programs = Vec::new();
    for p in &c.programs {
        eprintln!("paddock build: program {}", p.name);
        programs.push((
            p.name.clone(),
            binaries::program(p, &instance.dir, work, epoch)?,
        ));
    }

    // 3. Kernel.
    eprintln!("paddock build: kernel");
    let deb = c.kernel.deb.as_ref().map(|d| instance.dir.join(d));
    let input = match (&deb, &c.kernel.package) {
        (Some(d), _) => kernel::KernelInput::Deb(d),
        (None, Some(p)) => kernel::KernelInput::Package(p),
        (None, None) => return Err(BuildError::Kernel("config.yaml names no kernel".into())),
    };
    let kernel = kernel::prepare(input, &opts.cache)?;

    // 4. Root file system.
    eprintln!("paddock build: root file system");
    let root = work.join("root");
    rootfs::skeleton(&root)?;
    for (name, path) in &system {
        binaries::install(path, &root.join("usr/bin").join(name))?;
    }
    for (name, path) in &programs {
        binaries::install(path, &root.join("user").join(name))?;
    }
    let all: Vec<(&str, &Path)> = system
        .iter()
        .chain(programs.iter().map(|(n, p)| (n, p)))
        .map(|(n, p)| (n.as_str(), p.as_path()))
        .collect();
    let libraries = install_libs(&all, &root)?;
    let etc = root.join("etc/paddock");
    rootfs::write(&etc.join("system.json"), system_json.to_json().as_bytes())?;
    rootfs::write(&etc.join("paddockd.yaml"), paddockd_yaml(epoch).as_bytes())?;
    rootfs::write(&etc.join("registries.yaml"), registries_yaml.as_bytes())?;
    rootfs::write(
        &etc.join(paddock_wire::paths::UPDATE_KEY_FILE),
        update_keys.current.public().to_pem().as_bytes(),
    )?;
    let device_tls = tls::device(&keys, &device_names(c), chrono::Utc::now().timestamp())?;
    rootfs::write(&etc.join("tls/cert.pem"), device_tls.chain.as_bytes())?;
    rootfs::write_private(&etc.join("tls/key.pem"), device_tls.key.as_bytes())?;
    for m in &manifests {
        let data = std::fs::read(&m.source).map_err(io_err("reading", &m.source))?;
        rootfs::write(
            &etc.join("containers").join(format!("{}.yaml", m.name)),
            &data,
        )?;
    }
    rootfs::copy_tree(
        &kernel.modules,
        &root.join("lib/modules").join(&kernel.release),
    )?;
    let images = preload::wanted(&manifests, |n| c.preload.includes(n));
    if !images.is_empty() {
        eprintln!("paddock build: preloading {} image(s)", images.len());
    }
    preload::fetch(
        &images,
        registries,
        work,
        &root.join("usr/share/paddock/preload"),
        epoch,
    )
    .await?;
    // The version names the contents: any change of a file changes it.
    let contents = serde_json::to_vec(&sbom::list_tree(&root)?)
        .map_err(|e| BuildError::Layout(e.to_string()))?;
    let content_hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&contents));
    let image_version = format!(
        "{}+{epoch}.{}",
        env!("CARGO_PKG_VERSION"),
        &content_hash[..12]
    );
    paddock_wire::boot_entry::check_version(&image_version).map_err(BuildError::Layout)?;
    let generation = generation::next(&generation::read(&instance.dir)?, &content_hash);
    let build_json = BuildInfo {
        version: Some(image_version.clone()),
        generation: Some(generation.generation),
        build_time: chrono::DateTime::from_timestamp(i64::try_from(epoch).unwrap_or(0), 0)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        kernel: Some(kernel.release.clone()),
        instance: Some(c.hostname.clone()),
        paddock_version: Some(env!("CARGO_PKG_VERSION").to_string()),
        source_date_epoch: Some(epoch),
        hostname: Some(c.hostname.clone()),
        kernel_package: Some(KernelPackage {
            package: kernel.package.clone(),
            version: kernel.package_version.clone(),
            release: kernel.release.clone(),
        }),
        preloaded: images.clone(),
    };
    rootfs::write(
        &etc.join("build.json"),
        &serde_json::to_vec_pretty(&build_json).map_err(|e| BuildError::Layout(e.to_string()))?,
    )?;
    let root_files = sbom::list_tree(&root)?;
    let root_img = work.join("root.squashfs");
    squashfs::make(&root, &root_img, epoch)?;
    let verity = verity::append_hash_tree(&root_img)?;
    let root_len = std::fs::metadata(&root_img)
        .map_err(io_err("reading", &root_img))?
        .len();
    if root_len > c.disk.root.0 {
        return Err(BuildError::TooBig {
            what: "the root file system",
            need: format!("{:.1}MiB", root_len as f64 / 1048576.0),
            setting: "disk.root",
            have: c.disk.root.to_string(),
        });
    }

    // 5. Initramfs and ESP.
    eprintln!("paddock build: initramfs and ESP");
    let initrd_tree = work.join("initramfs");
    rootfs::mkdir(&initrd_tree)?;
    for d in ["dev", "proc", "sys", "newroot", "run", "tmp"] {
        rootfs::mkdir(&initrd_tree.join(d))?;
    }
    let init = &system["paddock-init"];
    binaries::install(init, &initrd_tree.join("init"))?;
    install_libs(&[("paddock-init", init.as_path())], &initrd_tree)?;
    kernel::initramfs_modules(&kernel, &initrd_tree)?;
    let initrd = initramfs::make(&initrd_tree, epoch)?;
    let vmlinuz = std::fs::read(&kernel.vmlinuz).map_err(io_err("reading", &kernel.vmlinuz))?;
    let ids = Ids::new(&c.hostname, &c.update_password);
    let layout = disk::Layout::new(
        ids.uuid("disk"),
        &[
            (ESP, c.disk.esp.0),
            (ROOT_A, c.disk.root.0),
            (ROOT_B, c.disk.root.0),
            (PERM, c.disk.perm.0),
        ],
        |name| ids.uuid(name),
    );
    let part_guid = |slot: paddock_wire::slot::Slot| {
        layout
            .part(slot.partname())
            .map(|p| p.guid.to_string())
            .unwrap_or_default()
    };
    let mut esp_files = vec![
        esp::EspFile {
            path: "EFI/BOOT/BOOTX64.EFI".into(),
            data: std::fs::read(esp::SYSTEMD_BOOT)
                .map_err(io_err("reading", Path::new(esp::SYSTEMD_BOOT)))?,
        },
        esp::EspFile {
            path: "loader/loader.conf".into(),
            data: esp::LOADER_CONF.as_bytes().to_vec(),
        },
    ];
    esp_files.extend(esp::initial_entries(
        part_guid,
        &image_version,
        Some(&verity),
    ));
    for slot in ['a', 'b'] {
        esp_files.push(esp::EspFile {
            path: format!("paddock/{slot}/vmlinuz"),
            data: vmlinuz.clone(),
        });
        esp_files.push(esp::EspFile {
            path: format!("paddock/{slot}/initrd"),
            data: initrd.clone(),
        });
    }
    let esp_need: u64 = esp_files.iter().map(|f| f.data.len() as u64).sum();
    if esp_need + (8 << 20) > c.disk.esp.0 {
        return Err(BuildError::TooBig {
            what: "the ESP",
            need: format!("{:.1}MiB", (esp_need + (8 << 20)) as f64 / 1048576.0),
            setting: "disk.esp",
            have: c.disk.esp.to_string(),
        });
    }
    let initrd_file = work.join("initrd");
    rootfs::write(&initrd_file, &initrd)?;
    let update = signed_update::sign(
        &update_keys,
        &signed_update::Inputs {
            instance: &c.hostname,
            version: &image_version,
            generation: generation.generation,
            root: &root_img,
            vmlinuz: &kernel.vmlinuz,
            initrd: &initrd_file,
            verity: Some(verity.clone()),
        },
    )?;
    if let Some(dir) = &opts.artifacts {
        std::fs::create_dir_all(dir).map_err(io_err("creating", dir))?;
        for (name, from) in [
            ("root.squashfs", &root_img),
            ("vmlinuz", &kernel.vmlinuz),
            ("initrd", &initrd_file),
        ] {
            std::fs::copy(from, dir.join(name)).map_err(io_err("copying", from))?;
        }
        rootfs::write(&dir.join("version"), image_version.as_bytes())?;
        update.write(dir)?;
    }
    let esp_img = work.join("esp.img");
    esp::make(&esp_img, c.disk.esp.0, ids.u32("esp-volume"), &esp_files)?;
    let perm_img = work.join("perm.img");
    std::fs::File::create(&perm_img)
        .and_then(|f| f.set_len(c.disk.perm.0))
        .map_err(io_err("creating", &perm_img))?;
    let perm_stage = work.join("perm");
    rootfs::mkdir(&perm_stage)?;
    let perm_files = perm::stage_instance_files(&instance.dir, &perm_stage)?;
    let perm_from = perm_files.then_some(perm_stage.as_path());
    perm::make_from(
        &perm_img,
        0,
        c.disk.perm.0,
        ids.uuid("perm-fs"),
        epoch,
        perm_from,
    )?;

    // 6. The disk, in a temp file renamed at the end.
    eprintln!("paddock build: disk image");
    let name = opts
        .output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp-"))
        .tempfile_in(&out_dir)
        .map_err(io_err("creating a temp file in", &out_dir))?;
    {
        let f = tmp.as_file_mut();
        f.set_len(layout.total)
            .map_err(io_err("sizing", &opts.output))?;
        for (part, img) in [
            (ESP, &esp_img),
            (ROOT_A, &root_img),
            (ROOT_B, &root_img),
            (PERM, &perm_img),
        ] {
            let p = layout
                .part(part)
                .ok_or_else(|| BuildError::Layout(format!("no partition {part}")))?;
            disk::copy_sparse(img, f, p.start, p.size)?;
        }
        layout.write_gpt(f)?;
        f.sync_all().map_err(io_err("syncing", &opts.output))?;
    }
    let image_sha256 = sbom::sha256_file(tmp.path())?;
    let mut esp_list = Vec::new();
    for f in &esp_files {
        esp_list.push(sbom::FileEntry {
            path: f.path.clone(),
            size: f.data.len() as u64,
            sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&f.data)),
        });
    }
    let sbom = sbom::Sbom {
        image_sha256,
        image_bytes: layout.total,
        source_date_epoch: epoch,
        kernel: sbom::KernelInfo {
            package: kernel.package.clone(),
            version: kernel.package_version.clone(),
            release: kernel.release.clone(),
            deb_sha256: kernel.deb_sha256.clone(),
        },
        root: root_files,
        esp: esp_list,
        libraries,
        crates: workspace
            .as_ref()
            .map(|ws| sbom::crates(&ws.join("Cargo.lock")))
            .unwrap_or_default(),
    };
    let sbom_path = PathBuf::from(format!("{}.sbom.json", opts.output.display()));
    let sbom_json =
        serde_json::to_vec_pretty(&sbom).map_err(|e| BuildError::Layout(e.to_string()))?;
    tmp.persist(&opts.output).map_err(|e| BuildError::Io {
        context: "renaming into place",
        path: opts.output.clone(),
        source: e.error,
    })?;
    crate::instance::write_private(&sbom_path, &sbom_json)?;
    generation::write(&instance.dir, &generation)?;
    Ok(BuildReport {
        output: opts.output.clone(),
        sbom_path,
        sbom,
        layout,
        version: image_version,
        update,
    })
}

/// Copies the shared libraries `binaries` need into `tree`; what it copied.
fn install_libs(binaries: &[(&str, &Path)], tree: &Path) -> Result<Vec<sbom::LibraryEntry>> {
    let mut copied = Vec::new();
    for (rel, lib) in libs::closure(binaries, Path::new("/"))? {
        let to = tree.join(&rel);
        if let Some(dir) = to.parent() {
            rootfs::mkdir(dir)?;
        }
        rootfs::install(&lib.source, &to)?;
        copied.push(sbom::LibraryEntry {
            package: libs::debian_package(&rel, &lib.source),
            source: lib.source.display().to_string(),
            path: rel,
            needed_by: lib.needed_by,
        });
    }
    Ok(copied)
}

/// The names the device's certificate is for: its host name, that name
/// under `.local`, and a static address.
fn device_names(c: &crate::instance::InstanceConfig) -> Vec<String> {
    let mut names = vec![c.hostname.clone(), format!("{}.local", c.hostname)];
    if let crate::instance::config::Network::Static(st) = &c.network {
        if let Some((addr, _)) = st.address.split_once('/') {
            names.push(addr.to_string());
        }
    }
    names
}

/// paddockd's settings on the device: the NTP client's marker, and a clock
/// before the image was built is certainly wrong.
fn paddockd_yaml(epoch: u64) -> String {
    let not_before = chrono::DateTime::from_timestamp(i64::try_from(epoch).unwrap_or(0), 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into());
    format!(
        "# Written by paddock build.\nclock:\n  synced_marker: /run/paddock/clock-synced\n  not_before: \"{not_before}\"\n"
    )
}

/// The workspace this `paddock` was built from, when it is still there.
fn default_workspace() -> Option<PathBuf> {
    if let Some(ws) = std::env::var_os("PADDOCK_WORKSPACE") {
        return Some(PathBuf::from(ws));
    }
    // crates/paddock → the workspace root.
    let ws = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()?
        .parent()?
        .to_path_buf();
    ws.join("Cargo.toml").is_file().then_some(ws)
}

fn resolve_epoch(opts: &BuildOptions, instance: &Instance) -> u64 {
    if let Some(e) = opts.epoch {
        return e;
    }
    if let Some(e) = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse().ok())
    {
        return e;
    }
    let git = opts
        .workspace
        .clone()
        .or_else(default_workspace)
        .and_then(|ws| {
            std::process::Command::new("git")
                .arg("-C")
                .arg(ws)
                .args(["log", "-1", "--format=%ct"])
                .output()
                .ok()
        })
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok());
    if let Some(e) = git {
        return e;
    }
    std::fs::metadata(&instance.config_path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
