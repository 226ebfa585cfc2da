//! Whole-manifest and whole-directory tests; each field's forms are tested
//! beside its parser.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_spec::runtime::Capability;

use super::*;

fn load(text: &str) -> Result<Manifest, ManifestError> {
    load_str(text, Path::new("web.yaml"))
}

fn err(text: &str) -> String {
    load(text).unwrap_err().to_string()
}

#[test]
fn minimal_manifest_gets_defaults() {
    let m = load("image: nginx\n").unwrap();
    assert_eq!(
        m,
        Manifest {
            name: "web".into(),
            image: "nginx".into(),
            command: None,
            entrypoint: None,
            environment: vec![],
            working_dir: None,
            user: None,
            volumes: vec![],
            tmpfs: vec![],
            network: NetworkMode::Host,
            ports: vec![],
            tty: false,
            restart: RestartPolicy::No,
            stop_signal: 15,
            stop_grace_period: Duration::from_secs(10),
            pull: PullPolicy::Missing,
            cap_add: vec![],
            cap_drop: vec![],
            privileged: false,
            read_only: false,
            devices: vec![],
            sysctls: BTreeMap::new(),
            ulimits: vec![],
            mem_limit: None,
            cpus: None,
            pids_limit: None,
            hostname: None,
            depends_on: vec![],
            healthcheck: None,
            wait_for_clock: true,
            source: PathBuf::from("web.yaml"),
        }
    );
}

#[test]
fn the_irssi_example() {
    let m = load(
        "name: irssi
image: docker.io/stapelberg/irssi:latest
command: [screen, -S, irssi, irssi]
environment: { TERM: rxvt-unicode, LANG: C.UTF-8 }
volumes:
  - /perm/irssi:/home/michael/.irssi
  - /perm/irclogs:/home/michael/irclogs
network: host
tty: true
restart: always
",
    )
    .unwrap();
    assert_eq!(m.name, "irssi");
    assert_eq!(m.command.unwrap(), ["screen", "-S", "irssi", "irssi"]);
    assert_eq!(
        m.environment,
        vec![
            ("TERM".to_string(), "rxvt-unicode".to_string()),
            ("LANG".to_string(), "C.UTF-8".to_string())
        ]
    );
    assert_eq!(m.volumes.len(), 2);
    assert_eq!(m.network, NetworkMode::Host);
    assert!(m.tty);
    assert_eq!(m.restart, RestartPolicy::Always);
}

#[test]
fn every_field() {
    let m = load(
        "name: app.v2
image: registry.example.com/team/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
x-notes: anything goes here
command: serve --port 80
entrypoint: [/init]
environment: [A=1]
working_dir: /srv
user: '1000:1000'
volumes: ['/perm/app:/data:ro']
tmpfs: /run
network: none
tty: false
restart: on-failure:3
stop_signal: SIGQUIT
stop_grace_period: 1m30s
pull_policy: always
cap_add: [NET_ADMIN]
cap_drop: [ALL]
privileged: false
read_only: true
devices: [/dev/fuse]
sysctls: {kernel.shmmax: 1000}
ulimits: {nofile: 65536}
mem_limit: 1g
cpus: 1.5
pids_limit: 200
hostname: app
depends_on: {db: {condition: service_healthy}}
healthcheck: {test: [CMD, /health], interval: 5s}
wait_for_clock: false
",
    )
    .unwrap();
    assert_eq!(m.name, "app.v2");
    assert_eq!(m.command.unwrap(), ["serve", "--port", "80"]);
    assert_eq!(m.entrypoint.unwrap(), ["/init"]);
    assert_eq!(m.working_dir.unwrap(), Path::new("/srv"));
    assert_eq!(
        m.user.unwrap(),
        UserSpec {
            user: IdOrName::Id(1000),
            group: Some(IdOrName::Id(1000))
        }
    );
    assert_eq!(m.network, NetworkMode::None);
    assert_eq!(
        m.restart,
        RestartPolicy::OnFailure {
            max_retries: Some(3)
        }
    );
    assert_eq!(m.stop_signal, 3);
    assert_eq!(m.stop_grace_period, Duration::from_secs(90));
    assert_eq!(m.pull, PullPolicy::Always);
    assert_eq!(m.cap_add, vec![CapabilityName::Cap(Capability::NetAdmin)]);
    assert_eq!(m.cap_drop, vec![CapabilityName::All]);
    assert!(m.read_only);
    assert_eq!(m.devices.len(), 1);
    assert_eq!(m.sysctls["kernel.shmmax"], "1000");
    assert_eq!(
        m.ulimits,
        vec![Ulimit {
            name: "nofile".into(),
            soft: 65536,
            hard: 65536
        }]
    );
    assert_eq!(m.mem_limit, Some(1 << 30));
    assert_eq!(m.cpus, Some(1.5));
    assert_eq!(m.pids_limit, Some(200));
    assert_eq!(m.hostname.as_deref(), Some("app"));
    assert_eq!(
        m.depends_on,
        vec![Dependency {
            name: "db".into(),
            condition: DependencyCondition::ServiceHealthy
        }]
    );
    assert_eq!(m.healthcheck.unwrap().interval, Duration::from_secs(5));
    assert!(!m.wait_for_clock);
}

#[test]
fn manifest_serializes() {
    let m = load("image: nginx\nports: ['8080:80']\ncap_add: [NET_ADMIN, ALL]\n").unwrap();
    let json = serde_json::to_value(&m).unwrap();
    assert_eq!(json["ports"][0]["host_port"], 8080);
    assert_eq!(json["cap_add"], serde_json::json!(["CAP_NET_ADMIN", "ALL"]));
    assert_eq!(json["network"], "bridge");
}

#[test]
fn error_display_has_file_line_column() {
    assert_eq!(
        err("image: nginx\nports:\n  - 8080:80\n  - \"80800:80\"\n"),
        "web.yaml:4:5: ports[1]: \"80800:80\": host port must be 1-65535 (expected \"[HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]\")"
    );
}

#[test]
fn missing_image() {
    assert_eq!(
        err("name: web\n"),
        "web.yaml:1:1: image: is required (expected an image reference such as \"docker.io/library/nginx:1.27\" or \"alpine\")"
    );
}

#[test]
fn bad_image_reference() {
    let e = err("image: 'nginx@sha256:123'\n");
    assert!(
        e.starts_with("web.yaml:1:8: image: \"nginx@sha256:123\": "),
        "{e}"
    );
}

#[test]
fn bad_names() {
    assert!(err("name: -web\nimage: a\n").starts_with(
        "web.yaml:1:7: name: \"-web\": not a valid container name (expected a name matching"
    ));
    assert!(err("name: 'a b'\nimage: a\n").starts_with("web.yaml:1:7: name: \"a b\": not a valid"));
    assert!(err("name: ''\nimage: a\n").starts_with("web.yaml:1:7: name: must not be empty"));
    let long = "a".repeat(65);
    assert!(err(&format!("name: {long}\nimage: a\n")).contains("not a valid container name"));
    // Without name:, the file name must do.
    let e = load_str("image: a\n", Path::new("my web.yaml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("my web.yaml: name: \"my web\": the file name is not a valid container name"),
        "{e}"
    );
}

#[test]
fn depends_on_itself() {
    assert_eq!(
        err("name: web\nimage: a\ndepends_on: [db, web]\n"),
        format!(
            "web.yaml:3:18: depends_on: \"web\": a container cannot depend on itself (expected {})",
            health::DEPENDS_ON
        )
    );
}

#[test]
fn joins_own_network() {
    assert!(err("name: web\nimage: a\nnetwork: container:web\n")
        .starts_with("web.yaml:3:10: network: a container cannot join its own network"));
}

#[test]
fn ports_need_a_network() {
    assert!(err("image: a\nnetwork: none\nports: ['80']\n")
        .starts_with("web.yaml:3:8: ports: cannot publish ports with network: none"));
}

#[test]
fn duplicate_mount_targets() {
    assert_eq!(
        err("image: a\nvolumes: ['/perm/a:/data']\ntmpfs: [/data]\n"),
        "web.yaml:3:9: tmpfs[0]: /data is already mounted by volumes[0] (line 2) (expected each container path once)"
    );
}

#[test]
fn wrong_types_everywhere() {
    for (yaml, want) in [
        ("tty: maybe", "web.yaml:2:6: tty: \"maybe\" is not a boolean (expected true or false)"),
        ("privileged: 1", "web.yaml:2:13: privileged: found a number (expected true or false)"),
        ("read_only: [true]", "web.yaml:2:12: read_only: found a list (expected true or false)"),
        ("wait_for_clock: {}", "web.yaml:2:17: wait_for_clock: found a mapping (expected true or false)"),
        ("stop_grace_period: 10", "web.yaml:2:20: stop_grace_period: \"10\": a duration needs a unit (expected a duration such as \"10s\", \"1m30s\" or \"500ms\")"),
        ("stop_grace_period: -1s", "web.yaml:2:20: stop_grace_period: \"-1s\": must not be negative (expected a duration such as \"10s\", \"1m30s\" or \"500ms\")"),
        ("working_dir: srv", "web.yaml:2:14: working_dir: \"srv\": path must be absolute (expected an absolute path in the container)"),
        ("hostname: -bad-", "web.yaml:2:11: hostname: \"-bad-\": not a valid host name (expected a host name such as \"web\" or \"web.example.com\")"),
        ("volumes: /a:/b", "web.yaml:2:10: volumes: found a string (expected a list of \"HOST_PATH:CONTAINER_PATH[:ro|rw]\" with absolute paths, or {type: bind|tmpfs, source, target, read_only})"),
    ] {
        assert_eq!(err(&format!("image: a\n{yaml}\n")), want, "for {yaml}");
    }
}

#[test]
fn all_errors_of_a_file_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.yaml"),
        "image: a\ntty: maybe\ncpus: 0\nrestart: sometimes\n",
    )
    .unwrap();
    let report = load_dir(dir.path());
    let lines: Vec<(u32, u32)> = report.errors.iter().map(|e| (e.line, e.column)).collect();
    assert_eq!(lines, vec![(2, 6), (3, 7), (4, 10)]);
    assert!(report.manifests.is_empty());
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn names(report: &LoadReport) -> Vec<&str> {
    report.manifests.iter().map(|m| m.name.as_str()).collect()
}

#[test]
fn directory_loads_good_files_and_reports_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "web.yaml", "image: nginx\ndepends_on: [db]\n");
    write(d, "db.yml", "image: postgres\n");
    write(d, "broken.yaml", "image: a\nports: ['99999']\n");
    write(d, "notes.txt", "not a manifest");
    write(d, ".hidden.yaml", "garbage: [");
    std::fs::create_dir(d.join("dir.yaml")).unwrap();
    let report = load_dir(d);
    assert_eq!(names(&report), vec!["db", "web"]);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].file, d.join("broken.yaml"));
    assert_eq!((report.errors[0].line, report.errors[0].column), (2, 9));
}

#[test]
fn duplicate_names_name_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "a.yaml", "name: web\nimage: nginx\n");
    write(d, "b.yaml", "image: nginx\nname: web\n");
    write(d, "c.yaml", "image: other\n");
    let report = load_dir(d);
    assert_eq!(names(&report), vec!["c"]);
    let msgs: Vec<String> = report.errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        msgs,
        vec![
            format!("{}:1:7: name: \"web\": also declared in {} (expected each container name in one file)", d.join("a.yaml").display(), d.join("b.yaml").display()),
            format!("{}:2:7: name: \"web\": also declared in {} (expected each container name in one file)", d.join("b.yaml").display(), d.join("a.yaml").display()),
        ]
    );
}

#[test]
fn unknown_dependencies_remove_the_dependants() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "web.yaml", "image: nginx\ndepends_on:\n  - app\n");
    write(d, "app.yaml", "image: app\ndepends_on: [dbb]\n");
    write(d, "db.yaml", "image: postgres\n");
    let report = load_dir(d);
    assert_eq!(names(&report), vec!["db"]);
    let msgs: Vec<String> = report.errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        msgs,
        vec![
            format!("{}:2:14: depends_on: \"dbb\": no such container (expected the name of another manifest)", d.join("app.yaml").display()),
            format!("{}:3:5: depends_on: \"app\": that container has errors, so this one cannot start either", d.join("web.yaml").display()),
        ]
    );
}

#[test]
fn dependency_on_a_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "web.yaml", "image: nginx\ndepends_on: [db]\n");
    write(d, "db.yaml", "image: postgres\ntty: perhaps\n");
    let report = load_dir(d);
    assert!(report.manifests.is_empty());
    assert_eq!(report.errors.len(), 2);
    assert!(
        report.errors[1]
            .message
            .contains("that container has errors"),
        "{}",
        report.errors[1]
    );
}

#[test]
fn cycles_are_reported_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "a.yaml", "image: x\ndepends_on: [b]\n");
    write(d, "b.yaml", "image: x\ndepends_on: [c]\n");
    write(d, "c.yaml", "image: x\ndepends_on: [a]\n");
    write(d, "d.yaml", "image: x\ndepends_on: [a]\n");
    write(d, "e.yaml", "image: x\n");
    let report = load_dir(d);
    assert_eq!(names(&report), vec!["e"]);
    let msgs: Vec<String> = report.errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        msgs,
        vec![
            format!("{}:2:14: depends_on: \"b\": dependency cycle: a -> b -> c -> a", d.join("a.yaml").display()),
            format!("{}:2:14: depends_on: \"c\": dependency cycle: a -> b -> c -> a", d.join("b.yaml").display()),
            format!("{}:2:14: depends_on: \"a\": dependency cycle: a -> b -> c -> a", d.join("c.yaml").display()),
            format!("{}:2:14: depends_on: \"a\": that container has errors, so this one cannot start either", d.join("d.yaml").display()),
        ]
    );
}

#[test]
fn missing_directory() {
    let report = load_dir(Path::new("/nonexistent/paddock/containers"));
    assert!(report.manifests.is_empty());
    assert_eq!(report.errors.len(), 1);
    assert!(report.errors[0]
        .to_string()
        .starts_with("/nonexistent/paddock/containers: cannot read the manifest directory:"));
}

#[test]
fn load_file_reports_unreadable_and_binary_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bin.yaml");
    std::fs::write(&p, b"image: \xff\n").unwrap();
    let e = load_file(&p).unwrap_err();
    assert_eq!(e.line, 0);
    assert!(e.message.starts_with("not UTF-8 text"), "{e}");
    let e = load_file(&dir.path().join("missing.yaml")).unwrap_err();
    assert!(e.message.starts_with("cannot read:"), "{e}");
}

#[test]
fn environment_without_value_comes_from_paddockd() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("env.yaml");
    // PATH is set in every test environment.
    std::fs::write(
        &p,
        "image: a\nenvironment: [PATH, PADDOCK_SURELY_UNSET_VARIABLE]\n",
    )
    .unwrap();
    let m = load_file(&p).unwrap();
    assert_eq!(
        m.environment,
        vec![("PATH".to_string(), std::env::var("PATH").unwrap())]
    );
}

#[test]
fn fixtures_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/manifests");
    let report = load_dir(&dir);
    assert_eq!(report.errors, vec![], "fixtures should all be valid");
    assert_eq!(
        start_order(&report.manifests),
        vec![vec!["db", "irssi"], vec!["web"]]
    );
}

#[test]
fn yaml_1_1_booleans_stay_strings_but_boolean_fields_accept_them() {
    let m = load("image: a\ncommand: [x, y, no, on]\nenvironment: {DEBUG: yes}\nrestart: no\ntty: yes\nprivileged: off\n").unwrap();
    assert_eq!(m.command.unwrap(), ["x", "y", "no", "on"]);
    assert_eq!(
        m.environment,
        vec![("DEBUG".to_string(), "yes".to_string())]
    );
    assert_eq!(m.restart, RestartPolicy::No);
    assert!(m.tty);
    assert!(!m.privileged);
}

#[test]
fn compose_aliases_network_mode_and_pull_policy() {
    let m = load("image: a\nnetwork_mode: host\npull_policy: never\n").unwrap();
    assert_eq!(m.network, NetworkMode::Host);
    assert_eq!(m.pull, PullPolicy::Never);
    assert!(err("image: a\nnetwork: host\nnetwork_mode: host\n").contains("duplicate field"));
}
