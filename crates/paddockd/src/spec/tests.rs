//! Specs built for representative manifests, compared with what docker
//! would run.

use std::path::{Path, PathBuf};

use oci_spec::image::ImageConfiguration;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use serde_json::{json, Value};

use super::*;
use crate::manifest::load_str;

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\nmichael:x:1000:1000::/home/michael:/bin/bash\n";
const GROUP: &str = "root:x:0:\nwheel:x:10:michael\nwww-data:x:33:\naudio:x:29:michael\n";

struct Fixture {
    rootfs: tempfile::TempDir,
    prefix: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let rootfs = tempfile::tempdir().unwrap();
        std::fs::create_dir(rootfs.path().join("etc")).unwrap();
        std::fs::write(rootfs.path().join("etc/passwd"), PASSWD).unwrap();
        std::fs::write(rootfs.path().join("etc/group"), GROUP).unwrap();
        Self {
            rootfs,
            prefix: tempfile::tempdir().unwrap(),
        }
    }

    fn build(&self, manifest: &str, image: Value) -> Result<Spec, SpecError> {
        self.build_with(manifest, image, None)
    }

    fn build_with(
        &self,
        manifest: &str,
        image: Value,
        netns: Option<&str>,
    ) -> Result<Spec, SpecError> {
        let m = load_str(manifest, Path::new("web.yaml")).unwrap();
        let image: ImageConfiguration = serde_json::from_value(image).unwrap();
        build_spec(&SpecInput {
            manifest: &m,
            image_config: &image,
            rootfs: self.rootfs.path(),
            root_prefix: self.prefix.path(),
            etc_files: EtcFiles {
                resolv_conf: "/run/paddock/etc/web/resolv.conf".into(),
                hosts: "/run/paddock/etc/web/hosts".into(),
                hostname: "/run/paddock/etc/web/hostname".into(),
            },
            cgroups_path: "/paddock/web".into(),
            network_namespace: netns.map(PathBuf::from),
        })
    }
}

/// An image config as registries serve it (nginx-like).
fn nginx() -> Value {
    json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "NGINX_VERSION=1.27.0"],
            "Entrypoint": ["/docker-entrypoint.sh"],
            "Cmd": ["nginx", "-g", "daemon off;"],
            "ExposedPorts": {"80/tcp": {}},
            "StopSignal": "SIGQUIT",
            "WorkingDir": ""
        },
        "rootfs": {"type": "layers", "diff_ids": []}
    })
}

/// The spec as JSON, capability sets sorted (they are sets).
fn to_json(spec: &Spec) -> Value {
    let mut v = serde_json::to_value(spec).unwrap();
    if let Some(caps) = v["process"]["capabilities"].as_object_mut() {
        for set in caps.values_mut() {
            if let Some(list) = set.as_array_mut() {
                list.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            }
        }
    }
    v
}

const DOCKER_CAPS: [&str; 14] = [
    "CAP_AUDIT_WRITE",
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_MKNOD",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

#[test]
fn nginx_with_defaults_matches_docker() {
    let f = Fixture::new();
    let spec = f
        .build("image: nginx\nname: web\nnetwork: none\n", nginx())
        .unwrap();
    let v = to_json(&spec);
    assert_eq!(v["ociVersion"], oci_spec::runtime::VERSION);
    assert_eq!(v["hostname"], "web");
    assert_eq!(
        v["root"],
        json!({"path": f.rootfs.path(), "readonly": false})
    );
    assert_eq!(
        v["process"],
        json!({
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "HOSTNAME=web",
                "NGINX_VERSION=1.27.0",
                "HOME=/root"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": DOCKER_CAPS,
                "effective": DOCKER_CAPS,
                "permitted": DOCKER_CAPS,
                "inheritable": [],
                "ambient": []
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        })
    );
    let linux = &v["linux"];
    assert_eq!(linux["cgroupsPath"], "/paddock/web");
    assert_eq!(
        linux["namespaces"],
        json!([{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}, {"type": "network"}])
    );
    assert_eq!(linux["maskedPaths"], json!(security::MASKED_PATHS));
    assert_eq!(linux["readonlyPaths"], json!(security::READONLY_PATHS));
    assert_eq!(linux["seccomp"]["defaultAction"], "SCMP_ACT_ALLOW");
    assert_eq!(
        linux["resources"]["devices"][0],
        json!({"allow": false, "type": "a", "access": "rwm"})
    );
    assert!(linux.get("sysctl").is_none());
    assert!(linux["resources"].get("memory").is_none());
    assert_eq!(v["mounts"].as_array().unwrap().len(), 10);
}

#[test]
fn spec_survives_a_json_round_trip() {
    let f = Fixture::new();
    let spec = f
        .build("image: nginx\nnetwork: host\nports: ['8080:80']\ntty: true\nsysctls: {kernel.shmmax: '65536'}\n", nginx())
        .unwrap();
    let text = serde_json::to_string_pretty(&spec).unwrap();
    let back: Spec = serde_json::from_str(&text).unwrap();
    assert_eq!(back, spec);
}

#[test]
fn tty_sets_terminal_and_term() {
    let f = Fixture::new();
    let spec = f
        .build("image: nginx\nnetwork: host\ntty: true\n", nginx())
        .unwrap();
    let v = to_json(&spec);
    assert_eq!(v["process"]["terminal"], true);
    assert_eq!(v["process"]["env"][2], "TERM=xterm");
}

#[test]
fn host_network_has_no_network_namespace() {
    let f = Fixture::new();
    let spec = f.build("image: nginx\nnetwork: host\n", nginx()).unwrap();
    let namespaces = spec
        .linux()
        .as_ref()
        .unwrap()
        .namespaces()
        .as_ref()
        .unwrap();
    assert!(!namespaces
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::Network));
}

#[test]
fn bridge_joins_the_prepared_namespace() {
    let f = Fixture::new();
    let spec = f
        .build_with(
            "image: nginx\nnetwork: bridge\n",
            nginx(),
            Some("/run/netns/paddock-web"),
        )
        .unwrap();
    let v = to_json(&spec);
    assert_eq!(
        v["linux"]["namespaces"][5],
        json!({"type": "network", "path": "/run/netns/paddock-web"})
    );
    let e = f
        .build("image: nginx\nnetwork: bridge\n", nginx())
        .unwrap_err();
    assert!(matches!(e, SpecError::NetworkNamespaceRequired { .. }));
}

#[test]
fn image_user_is_resolved_in_the_rootfs() {
    let f = Fixture::new();
    let mut image = nginx();
    image["config"]["User"] = json!("www-data");
    let spec = f
        .build("image: nginx\nnetwork: none\n", image.clone())
        .unwrap();
    let v = to_json(&spec);
    assert_eq!(v["process"]["user"], json!({"uid": 33, "gid": 33}));
    assert!(v["process"]["env"]
        .as_array()
        .unwrap()
        .contains(&json!("HOME=/var/www")));

    // The manifest overrides the image's user, with docker's supplementary groups.
    let spec = f
        .build(
            "image: nginx\nnetwork: none\nuser: michael\n",
            image.clone(),
        )
        .unwrap();
    assert_eq!(
        to_json(&spec)["process"]["user"],
        json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 29]})
    );
    let spec = f
        .build(
            "image: nginx\nnetwork: none\nuser: '1000:29'\n",
            image.clone(),
        )
        .unwrap();
    assert_eq!(
        to_json(&spec)["process"]["user"],
        json!({"uid": 1000, "gid": 29})
    );

    let e = f
        .build("image: nginx\nnetwork: none\nuser: ghost\n", image)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "user \"ghost\": no user named \"ghost\" in the image's /etc/passwd"
    );
}

#[test]
fn manifest_command_entrypoint_env_and_workdir() {
    let f = Fixture::new();
    let spec = f
        .build(
            "image: nginx\nnetwork: none\nentrypoint: /bin/sh -c\ncommand: ['echo $NGINX_VERSION']\nenvironment: {NGINX_VERSION: '2', X: y}\nworking_dir: /srv\nhostname: box\n",
            nginx(),
        )
        .unwrap();
    let v = to_json(&spec);
    assert_eq!(
        v["process"]["args"],
        json!(["/bin/sh", "-c", "echo $NGINX_VERSION"])
    );
    assert_eq!(
        v["process"]["env"],
        json!([
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOSTNAME=box",
            "NGINX_VERSION=2",
            "X=y",
            "HOME=/root"
        ])
    );
    assert_eq!(v["process"]["cwd"], "/srv");
    assert_eq!(v["hostname"], "box");
}

#[test]
fn capabilities_follow_add_and_drop() {
    let f = Fixture::new();
    let spec = f
        .build(
            "image: nginx\nnetwork: none\ncap_drop: [ALL]\ncap_add: [NET_BIND_SERVICE, SYS_TIME]\n",
            nginx(),
        )
        .unwrap();
    let v = to_json(&spec);
    let want = json!(["CAP_NET_BIND_SERVICE", "CAP_SYS_TIME"]);
    assert_eq!(v["process"]["capabilities"]["bounding"], want);
    assert_eq!(v["process"]["capabilities"]["effective"], want);
    // SYS_TIME unlocks settimeofday in the seccomp profile.
    let denied = &v["linux"]["seccomp"]["syscalls"][0]["names"];
    assert!(!denied.as_array().unwrap().contains(&json!("settimeofday")));
    assert!(denied.as_array().unwrap().contains(&json!("mount")));
}

#[test]
fn privileged_drops_the_confinement() {
    let f = Fixture::new();
    let spec = f
        .build("image: nginx\nnetwork: none\nprivileged: true\n", nginx())
        .unwrap();
    let v = to_json(&spec);
    let bounding = v["process"]["capabilities"]["bounding"].as_array().unwrap();
    assert!(bounding.contains(&json!("CAP_SYS_ADMIN")));
    assert!(bounding.len() >= 38);
    assert_eq!(v["process"]["noNewPrivileges"], false);
    let linux = &v["linux"];
    assert!(linux.get("seccomp").is_none());
    assert_eq!(linux["maskedPaths"], json!([]));
    assert_eq!(linux["readonlyPaths"], json!([]));
    assert_eq!(
        linux["resources"]["devices"],
        json!([{"allow": true, "type": "a", "access": "rwm"}])
    );
    assert!(linux["devices"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["path"] == "/dev/null"));
}

#[test]
fn read_only_root() {
    let f = Fixture::new();
    let spec = f
        .build("image: nginx\nnetwork: none\nread_only: true\n", nginx())
        .unwrap();
    assert_eq!(spec.root().as_ref().unwrap().readonly(), Some(true));
}

#[test]
fn volumes_tmpfs_and_limits() {
    let f = Fixture::new();
    let spec = f
        .build(
            "image: nginx\nnetwork: none\nvolumes: ['/perm/www:/usr/share/nginx/html:ro']\ntmpfs: ['/var/cache/nginx:size=64m']\nmem_limit: 256m\ncpus: 0.5\npids_limit: 64\nulimits: {nofile: 4096}\nsysctls: {net.core.somaxconn: 1024}\ndevices: ['/dev/null:/dev/extra-null:r']\n",
            nginx(),
        )
        .unwrap();
    let v = to_json(&spec);
    let mounts = v["mounts"].as_array().unwrap();
    assert_eq!(
        mounts[10],
        json!({
            "destination": "/var/cache/nginx",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["noexec", "nosuid", "nodev", "size=67108864"]
        })
    );
    assert_eq!(
        mounts[11],
        json!({
            "destination": "/usr/share/nginx/html",
            "type": "bind",
            "source": f.prefix.path().join("perm/www"),
            "options": ["rbind", "rprivate", "ro"]
        })
    );
    assert!(f.prefix.path().join("perm/www").is_dir());
    let resources = &v["linux"]["resources"];
    assert_eq!(resources["memory"], json!({"limit": 256 << 20}));
    assert_eq!(resources["cpu"], json!({"quota": 50000, "period": 100000}));
    assert_eq!(resources["pids"], json!({"limit": 64}));
    assert_eq!(
        resources["devices"].as_array().unwrap().last().unwrap(),
        &json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "r"})
    );
    assert_eq!(v["linux"]["devices"][0]["path"], "/dev/extra-null");
    assert_eq!(
        v["process"]["rlimits"],
        json!([{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 4096}])
    );
    assert_eq!(v["linux"]["sysctl"], json!({"net.core.somaxconn": "1024"}));
}

#[test]
fn image_without_a_command() {
    let f = Fixture::new();
    let image = json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}});
    let e = f
        .build("image: scratch-app\nnetwork: none\n", image.clone())
        .unwrap_err();
    assert!(matches!(e, SpecError::NoCommand));
    let spec = f
        .build(
            "image: scratch-app\nnetwork: none\ncommand: [/app]\n",
            image,
        )
        .unwrap();
    assert_eq!(
        spec.process().as_ref().unwrap().args().as_ref().unwrap(),
        &["/app".to_string()]
    );
}

#[test]
fn relative_rootfs_is_refused() {
    let m = load_str(
        "image: a\nnetwork: none\ncommand: [x]\n",
        Path::new("web.yaml"),
    )
    .unwrap();
    let image = ImageConfiguration::default();
    let e = build_spec(&SpecInput {
        manifest: &m,
        image_config: &image,
        rootfs: Path::new("rootfs"),
        root_prefix: Path::new("/"),
        etc_files: EtcFiles {
            resolv_conf: "/a".into(),
            hosts: "/b".into(),
            hostname: "/c".into(),
        },
        cgroups_path: "/paddock/a".into(),
        network_namespace: None,
    })
    .unwrap_err();
    assert!(matches!(e, SpecError::RelativeRootfs { .. }));
}
