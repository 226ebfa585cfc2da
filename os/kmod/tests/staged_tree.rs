//! The loader and coldplug against a staged /lib/modules tree and a staged
//! sysfs, with a recording kernel (real module files are not needed: the
//! fake kernel reads each file's content, which names the module).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use paddock_kmod::{coldplug, Compression, Error, Kernel, Loader, ModuleIndex, Outcome};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    /// finit_module(content, compressed flag)
    Finit(String, bool),
    /// init_module(content): userspace decompression happened
    Init(String),
}

#[derive(Default)]
struct FakeKernel {
    loaded: RefCell<HashSet<String>>,
    calls: RefCell<Vec<Call>>,
    decompresses: Vec<Compression>,
    fail: HashMap<String, Errno>,
    /// Loading this module makes a device with this modalias appear at this path.
    on_load: HashMap<String, (PathBuf, String)>,
}

impl FakeKernel {
    fn record(&self, content: String, call: Call) -> Result<(), Errno> {
        let name = content
            .strip_prefix("MODULE:")
            .expect("staged module content")
            .to_string();
        if let Some(errno) = self.fail.get(&name) {
            return Err(*errno);
        }
        self.calls.borrow_mut().push(call);
        if let Some((dir, alias)) = self.on_load.get(&name) {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join("modalias"), format!("{alias}\n")).unwrap();
        }
        self.loaded.borrow_mut().insert(name);
        Ok(())
    }

    fn names(&self) -> Vec<String> {
        self.calls
            .borrow()
            .iter()
            .map(|c| match c {
                Call::Finit(n, _) | Call::Init(n) => n.strip_prefix("MODULE:").unwrap().to_string(),
            })
            .collect()
    }
}

impl Kernel for FakeKernel {
    fn supports_modules(&self) -> bool {
        true
    }
    fn is_loaded(&self, name: &str) -> bool {
        self.loaded.borrow().contains(name)
    }
    fn decompresses(&self, c: Compression) -> bool {
        self.decompresses.contains(&c)
    }
    fn finit_module(&self, file: &File, compressed: bool) -> Result<(), Errno> {
        let mut raw = Vec::new();
        (&*file).read_to_end(&mut raw).unwrap();
        // A compressed file handed to the kernel: it would decompress; so do we.
        let content = if compressed {
            let mut out = Vec::new();
            lzma_rs::xz_decompress(&mut raw.as_slice(), &mut out)
                .map(|_| out)
                .unwrap_or_else(|_| zstd::decode_all(raw.as_slice()).unwrap())
        } else {
            raw
        };
        let content = String::from_utf8(content).unwrap();
        self.record(content.clone(), Call::Finit(content, compressed))
    }
    fn init_module(&self, image: &[u8]) -> Result<(), Errno> {
        let content = String::from_utf8(image.to_vec()).unwrap();
        self.record(content.clone(), Call::Init(content))
    }
}

/// Writes a module tree: bridge (xz) → stp (zst) → llc (plain); squashfs
/// (plain, alias fs-squashfs); virtio_pci/virtio_blk with device aliases;
/// loop built in.
fn stage(dir: &Path) {
    let put = |rel: &str, name: &str| {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let content = format!("MODULE:{name}").into_bytes();
        let bytes = match Compression::of(&path) {
            Compression::Xz => {
                let mut out = Vec::new();
                lzma_rs::xz_compress(&mut content.as_slice(), &mut out).unwrap();
                out
            }
            Compression::Zstd => zstd::encode_all(content.as_slice(), 3).unwrap(),
            _ => content,
        };
        std::fs::write(path, bytes).unwrap();
    };
    put("kernel/net/bridge/bridge.ko.xz", "bridge");
    put("kernel/net/802/stp.ko.zst", "stp");
    put("kernel/net/llc/llc.ko", "llc");
    put("kernel/fs/squashfs/squashfs.ko", "squashfs");
    put("kernel/drivers/virtio/virtio_pci.ko", "virtio_pci");
    put("kernel/drivers/block/virtio_blk.ko", "virtio_blk");
    put("kernel/drivers/net/virtio_net.ko", "virtio_net");
    put("kernel/drivers/broken/broken-drv.ko", "broken_drv");
    std::fs::write(
        dir.join("modules.dep"),
        "kernel/net/bridge/bridge.ko.xz: kernel/net/802/stp.ko.zst kernel/net/llc/llc.ko\n\
         kernel/net/802/stp.ko.zst: kernel/net/llc/llc.ko\n\
         kernel/net/llc/llc.ko:\n\
         kernel/fs/squashfs/squashfs.ko:\n\
         kernel/drivers/virtio/virtio_pci.ko:\n\
         kernel/drivers/block/virtio_blk.ko:\n\
         kernel/drivers/net/virtio_net.ko:\n\
         kernel/drivers/broken/broken-drv.ko: kernel/net/llc/llc.ko\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("modules.builtin"),
        "kernel/drivers/block/loop.ko\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("modules.alias"),
        "# Aliases extracted from modules themselves.\n\
         alias fs-squashfs squashfs\n\
         alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci\n\
         alias virtio:d00000002v* virtio_blk\n\
         alias virtio:d00000001v* virtio_net\n\
         alias pci:v00008086d000010D3sv*sd*bc*sc*i* broken_drv\n",
    )
    .unwrap();
}

fn loader(dir: &Path, kernel: FakeKernel) -> Loader<FakeKernel> {
    Loader::new(ModuleIndex::open(dir).unwrap(), kernel)
}

#[test]
fn dependencies_load_first_and_compression_is_handled() {
    let tmp = tempfile::tempdir().unwrap();
    stage(tmp.path());
    // The kernel decompresses zstd itself, xz is decompressed here.
    let kernel = FakeKernel {
        decompresses: vec![Compression::Zstd],
        ..Default::default()
    };
    let l = loader(tmp.path(), kernel);
    assert_eq!(l.load("bridge").unwrap(), Outcome::Loaded);
    assert_eq!(
        *l.kernel().calls.borrow(),
        vec![
            Call::Finit("MODULE:llc".into(), false),
            Call::Finit("MODULE:stp".into(), true),
            Call::Init("MODULE:bridge".into()),
        ]
    );
    // A second request loads nothing.
    assert_eq!(l.load("bridge").unwrap(), Outcome::AlreadyLoaded);
    assert_eq!(l.kernel().calls.borrow().len(), 3);
}

#[test]
fn builtin_and_aliases() {
    let tmp = tempfile::tempdir().unwrap();
    stage(tmp.path());
    let l = loader(tmp.path(), FakeKernel::default());
    assert_eq!(l.load("loop").unwrap(), Outcome::Builtin);
    assert_eq!(l.load("fs-squashfs").unwrap(), Outcome::Loaded);
    assert_eq!(l.kernel().names(), vec!["squashfs"]);
    // `-` and `_` are the same in module names.
    assert_eq!(l.load("virtio-pci").unwrap(), Outcome::Loaded);
}

#[test]
fn errors_name_the_module() {
    let tmp = tempfile::tempdir().unwrap();
    stage(tmp.path());
    let l = loader(tmp.path(), FakeKernel::default());
    let err = l.load("nosuchmod").unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }));
    assert!(
        err.to_string()
            .starts_with("module nosuchmod: not found in "),
        "{err}"
    );

    let kernel = FakeKernel {
        fail: [("llc".to_string(), Errno::ENOEXEC)].into(),
        ..Default::default()
    };
    let l = loader(tmp.path(), kernel);
    let err = l.load("bridge").unwrap_err().to_string();
    assert!(
        err.starts_with("module llc (needed by stp <- bridge): load "),
        "{err}"
    );
    assert!(err.contains("llc.ko: ENOEXEC"), "{err}");
    assert!(err.contains("invalid module format"), "{err}");
    assert!(
        l.kernel().names().is_empty(),
        "nothing above the failed dependency is loaded"
    );

    // A module that is not valid xz.
    std::fs::write(tmp.path().join("kernel/net/bridge/bridge.ko.xz"), b"not xz").unwrap();
    let l = loader(tmp.path(), FakeKernel::default());
    let err = l.load("bridge").unwrap_err().to_string();
    assert!(err.starts_with("module bridge: decompress "), "{err}");
}

#[test]
fn missing_index_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let err = ModuleIndex::open(tmp.path().join("6.1.0-nope"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("read ") && err.contains("6.1.0-nope/modules.dep"),
        "{err}"
    );
}

#[test]
fn coldplug_follows_new_devices_and_keeps_going() {
    let tmp = tempfile::tempdir().unwrap();
    let modules = tmp.path().join("modules");
    let sys = tmp.path().join("sys/devices");
    stage(&modules);
    let pci = sys.join("pci0000:00");
    for (dev, alias) in [
        (
            "0000:00:03.0",
            "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00",
        ),
        (
            "0000:00:04.0",
            "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00",
        ),
        (
            "0000:00:05.0",
            "pci:v00001234d00001111sv00000000sd00000000bc03sc00i00",
        ),
    ] {
        std::fs::create_dir_all(pci.join(dev)).unwrap();
        std::fs::write(pci.join(dev).join("modalias"), alias).unwrap();
    }
    // sysfs links back up the tree; the walk must not follow them.
    std::os::unix::fs::symlink(&sys, pci.join("0000:00:03.0/subsystem")).unwrap();

    let kernel = FakeKernel {
        fail: [("broken_drv".to_string(), Errno::ENOENT)].into(),
        // virtio_pci reveals the virtio block device only once loaded.
        on_load: [(
            "virtio_pci".to_string(),
            (
                pci.join("0000:00:03.0/virtio0"),
                "virtio:d00000002v00001AF4".to_string(),
            ),
        )]
        .into(),
        ..Default::default()
    };
    let l = loader(&modules, kernel);
    let report = coldplug(&l, &sys);
    assert_eq!(report.loaded, vec!["virtio_pci", "virtio_blk"]);
    assert_eq!(report.devices, 4);
    assert_eq!(report.errors.len(), 1);
    assert!(
        report.errors[0]
            .to_string()
            .starts_with("module broken_drv: load"),
        "{}",
        report.errors[0]
    );
    // The failing driver's dependency was loaded before it failed.
    assert_eq!(l.kernel().names(), vec!["virtio_pci", "llc", "virtio_blk"]);
}

/// On the running kernel: bridge is in /sys/module here, and a kernel
/// without module support (no /proc/modules) has everything built in.
#[test]
fn ensure_loaded_on_this_host() {
    paddock_kmod::ensure_loaded(&["bridge"]).unwrap();
    if !Path::new("/proc/modules").exists() {
        paddock_kmod::ensure_loaded(&["bridge", "veth", "nf_tables"]).unwrap();
    }
}
