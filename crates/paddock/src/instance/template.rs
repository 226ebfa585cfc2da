//! The `config.yaml` that `paddock new` writes: every key, commented.

use rand::Rng;

/// The comment at the top of every config file.
pub const HEADER: &str = "# paddock instance: `paddock build` turns this into a disk image.\n\
# Keys are described in the README (\"Building an appliance image\").\n";

/// A random 20-character password (letters and digits).
pub fn generate_password() -> String {
    const CHARS: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| char::from(CHARS[rng.gen_range(0..CHARS.len())]))
        .collect()
}

pub fn config_yaml(name: &str, password: &str) -> String {
    format!(
        "{HEADER}\
hostname: {name}
# For updates and the web interface; keep it secret.
update_password: {password}
# A Debian kernel package (fetched with apt-get download, cached in
# ~/.cache/paddock) or a local .deb file:  kernel: {{deb: ./linux-image.deb}}
kernel:
  package: linux-image-cloud-amd64
# Rust programs, each built into /user/<name> (`paddock add`).
programs: []
#  - name: hello
#    path: ./hello            # a cargo package; or  crate: NAME  (+ version:)
#    flags: [--port, \"8080\"]
#    env: {{RUST_LOG: info}}
#    wait_for_clock: true
#    dont_start: false
# Container manifests (paddockd's format), relative to this file.
containers: containers
# registries.yaml on the device, e.g. insecure: [\"10.0.2.2:5000\"]
registries: {{}}
# Put container images into the image: true, false, or a list of names.
preload: false
network: dhcp
ntp_servers: [pool.ntp.org]
# The breakglass SSH server (`ssh HOST paddock ps`): keys come from
# breakglass.authorized_keys next to this file (copied to /perm).
# true: started at boot; false: only on demand (web UI, paddock start).
breakglass: false
disk:
  esp: 100MiB
  root: 256MiB   # each of root A and root B
  perm: 64MiB
"
    )
}
