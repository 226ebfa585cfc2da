//! Bridged networking end to end, with real namespaces and real packets:
//! paddockd runs inside a network namespace the test made (its "host"),
//! another namespace is a machine on the host's uplink, and traffic goes
//! through the published ports from there, from the host itself and from
//! other containers.

use paddock_testkit as support;

use std::time::Duration;

use support::instance::{build_busybox_image, busybox_rootfs, Instance};
use support::net::{build_udp_echo, TestHosts, CLIENT_IP, HOST_IP};

const IMAGE: &str = "paddock.test/net:1";

/// An instance whose paddockd runs in `hosts.host`, with a busybox image
/// (plus `udp-echo`) imported into its store.
fn setup() -> (TestHosts, Instance) {
    let hosts = TestHosts::new();
    let mut inst = Instance::new(&[]);
    inst.netns = Some(hosts.host_path());
    // The image is imported into <root>/var: no /perm bind mount over it.
    inst.write_daemon_config(
        "clock:\n  wait: false\nbind_var: false\nbackoff:\n  initial: 100ms\n  max: 2s\n  reset_after: 10s\n",
    );
    let rootfs = tempfile::tempdir().unwrap();
    busybox_rootfs(rootfs.path());
    build_udp_echo(&rootfs.path().join("bin/udp-echo"));
    build_busybox_image(inst.root(), rootfs.path(), IMAGE, "--import");
    (hosts, inst)
}

fn web(name: &str, ports: &str) -> String {
    format!(
        "name: {name}\nimage: {IMAGE}\npull: never\nrestart: always\nports: {ports}\nstop_grace_period: 1s\n\
         command: [sh, -c, 'echo hello from {name} > /var/www/index.html; exec httpd -f -p 80 -h /var/www']\n"
    )
}

fn exec(inst: &Instance, name: &str, cmd: &[&str]) -> Result<String, String> {
    let mut args = vec!["exec", name, "--"];
    args.extend_from_slice(cmd);
    let out = inst.paddock(&args);
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// `wget` of `url` inside container `name`: the body, or the error.
fn container_wget(inst: &Instance, name: &str, url: &str) -> Result<String, String> {
    exec(inst, name, &["timeout", "5", "wget", "-q", "-O", "-", url])
}

/// Retries `f` for a few seconds (a fresh httpd needs a moment to listen).
fn eventually<T>(inst: &Instance, what: &str, mut f: impl FnMut() -> Result<T, String>) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        match f() {
            Ok(v) => return v,
            Err(e) if std::time::Instant::now() > deadline => {
                panic!("{what}: {e}\n{}", inst.daemon_log())
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

#[test]
fn published_ports_answer_from_everywhere() {
    let (hosts, mut inst) = setup();
    inst.write_manifest("web.yaml", &web("web", "[\"8080:80\"]"));
    inst.write_manifest(
        "echo.yaml",
        &format!(
            "name: echo\nimage: {IMAGE}\npull: never\nports: [\"5353:5353/udp\"]\n\
             command: [udp-echo, serve, 0.0.0.0, '5353']\n"
        ),
    );
    inst.write_manifest(
        "other.yaml",
        &format!(
            "name: other\nimage: {IMAGE}\npull: never\nnetwork: bridge\ncommand: [sleep, '1000']\n"
        ),
    );
    inst.write_manifest(
        "sidecar.yaml",
        &format!(
            "name: sidecar\nimage: {IMAGE}\npull: never\nnetwork: container:web\n\
             depends_on: [web]\ncommand: [sleep, '1000']\n"
        ),
    );
    inst.write_manifest(
        "alone.yaml",
        &format!(
            "name: alone\nimage: {IMAGE}\npull: never\nnetwork: none\ncommand: [sleep, '1000']\n"
        ),
    );
    inst.start();
    for name in ["web", "echo", "other", "sidecar", "alone"] {
        inst.wait_state(name, "running");
    }
    let status = inst.container("web").unwrap();
    assert_eq!(status["ports"][0], "0.0.0.0:8080->80/tcp", "{status}");
    let web_ip = status["address"].as_str().unwrap().to_string();
    assert!(web_ip.starts_with("10.88."), "{web_ip}");

    // From another machine on the uplink.
    let body = eventually(&inst, "web from the client", || {
        hosts.wget(&hosts.client, &format!("http://{HOST_IP}:8080/"))
    });
    assert_eq!(body, "hello from web\n");
    // From the host itself: loopback and its own address.
    assert_eq!(
        hosts.wget(&hosts.host, "http://127.0.0.1:8080/").unwrap(),
        "hello from web\n"
    );
    assert_eq!(
        hosts
            .wget(&hosts.host, &format!("http://{HOST_IP}:8080/"))
            .unwrap(),
        "hello from web\n"
    );
    // From another container: through the host's address (hairpin) and by name.
    assert_eq!(
        container_wget(&inst, "other", &format!("http://{HOST_IP}:8080/")).unwrap(),
        "hello from web\n"
    );
    assert_eq!(
        container_wget(&inst, "other", "http://web/").unwrap(),
        "hello from web\n"
    );
    let hosts_file = exec(&inst, "other", &["cat", "/etc/hosts"]).unwrap();
    assert!(
        hosts_file.contains(&format!("{web_ip}\tweb")),
        "{hosts_file}"
    );
    // UDP.
    let echo = eventually(&inst, "udp echo from the client", || {
        exec_host_udp(&hosts, &hosts.client, HOST_IP, "5353", "ping")
    });
    assert_eq!(echo, "echo:ping\n");
    // Out to a server on the uplink, masqueraded behind the host's address.
    let www = tempfile::tempdir().unwrap();
    std::fs::write(www.path().join("index.html"), "uplink\n").unwrap();
    let www_dir = www.path().display().to_string();
    let _server = hosts.spawn(
        &hosts.client,
        &[
            "busybox",
            "httpd",
            "-f",
            "-p",
            &format!("{CLIENT_IP}:9090"),
            "-h",
            &www_dir,
        ],
    );
    let body = eventually(&inst, "the uplink server from a container", || {
        container_wget(&inst, "other", &format!("http://{CLIENT_IP}:9090/"))
    });
    assert_eq!(body, "uplink\n");
    // container:web shares web's namespace; none has only loopback.
    assert_eq!(
        container_wget(&inst, "sidecar", "http://127.0.0.1/").unwrap(),
        "hello from web\n"
    );
    let links = exec(&inst, "alone", &["ip", "-o", "link"]).unwrap();
    assert_eq!(links.lines().count(), 1, "{links}");
    assert!(links.contains("lo:"), "{links}");
}

/// Sends one UDP datagram with the static udp-echo from namespace `ns`.
fn exec_host_udp(
    hosts: &TestHosts,
    ns: &str,
    ip: &str,
    port: &str,
    msg: &str,
) -> Result<String, String> {
    let program = udp_echo_on_host();
    let out = hosts.run(ns, &[program.to_str().unwrap(), "send", ip, port, msg]);
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The udp-echo program built once for the test process itself.
fn udp_echo_on_host() -> std::path::PathBuf {
    static BUILT: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        build_udp_echo(&dir.path().join("udp-echo"));
        dir
    });
    dir.path().join("udp-echo")
}

#[test]
fn port_conflicts_are_errors_on_the_container_that_loses() {
    let (hosts, mut inst) = setup();
    // A host service on 8081.
    let www = tempfile::tempdir().unwrap();
    let _service = hosts.spawn(
        &hosts.host,
        &[
            "busybox",
            "httpd",
            "-f",
            "-p",
            "8081",
            "-h",
            &www.path().display().to_string(),
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    inst.write_manifest("a.yaml", &web("a", "[\"8081:80\"]"));
    inst.write_manifest("b.yaml", &web("b", "[\"8082:80\"]"));
    inst.start();
    let a = inst.wait_state("a", "failed");
    assert!(
        a["last_error"]
            .as_str()
            .unwrap()
            .contains("host port 8081/tcp is in use by another program on the host"),
        "{a}"
    );
    inst.wait_state("b", "running");
    // A second container on b's port loses, with b named.
    inst.write_manifest("c.yaml", &web("c", "[\"8082:80\"]"));
    let out = inst.paddock(&["apply"]);
    assert!(out.status.success());
    let c = inst.wait_state("c", "failed");
    assert!(
        c["last_error"]
            .as_str()
            .unwrap()
            .contains("port 8082/tcp is already published by container b"),
        "{c}"
    );
    // b is unharmed.
    let body = eventually(&inst, "b", || {
        hosts.wget(&hosts.client, &format!("http://{HOST_IP}:8082/"))
    });
    assert_eq!(body, "hello from b\n");
}

#[test]
fn restarts_reconcile_without_duplicates_and_removal_leaves_nothing() {
    let (hosts, mut inst) = setup();
    inst.write_manifest(
        "web.yaml",
        &web("web", "[\"8080:80\", \"127.0.0.1:8443:80\"]"),
    );
    inst.write_manifest("db.yaml", &web("db", "[\"9000-9001:80-81\"]"));
    inst.start();
    inst.wait_state("web", "running");
    inst.wait_state("db", "running");
    let url = format!("http://{HOST_IP}:8080/");
    eventually(&inst, "web", || hosts.wget(&hosts.client, &url));
    let allocations = inst.root().join("var/lib/paddock/network/allocations.json");
    let before = (
        hosts.ruleset(),
        hosts.links(),
        std::fs::read_to_string(&allocations).unwrap(),
    );
    assert!(before.0.contains("dnat ip to"), "{}", before.0);
    assert_eq!(
        before.1.iter().filter(|l| l.starts_with("pd-")).count(),
        2,
        "{:?}",
        before.1
    );

    // kill -9 and a clean restart: the same rules, links and addresses.
    inst.kill_daemon();
    inst.start();
    inst.wait_state("web", "running");
    let after_kill = (
        hosts.ruleset(),
        hosts.links(),
        std::fs::read_to_string(&allocations).unwrap(),
    );
    assert_eq!(before, after_kill);
    assert_eq!(hosts.wget(&hosts.client, &url).unwrap(), "hello from web\n");

    // A container restart keeps its published port working.
    let out = inst.paddock(&["restart", "web"]);
    assert!(out.status.success());
    inst.wait_state("web", "running");
    eventually(&inst, "web after its restart", || {
        hosts.wget(&hosts.client, &url)
    });
    assert_eq!(hosts.ruleset(), before.0);

    // A clean stop and start (containers stopped and started again):
    // still the same rules, links and addresses.
    inst.stop_daemon();
    assert!(
        !hosts.ruleset().contains("dnat"),
        "a stopped paddockd leaves no rules"
    );
    inst.start();
    inst.wait_state("web", "running");
    inst.wait_state("db", "running");
    eventually(&inst, "web after paddockd restarted", || {
        hosts.wget(&hosts.client, &url)
    });
    assert_eq!(hosts.ruleset(), before.0);
    assert_eq!(hosts.links(), before.1);

    // A container removed while paddockd was dead: its veth, rules and
    // address go when paddockd comes back.
    inst.kill_daemon();
    inst.remove_manifest("db.yaml");
    inst.start();
    inst.wait_for(Duration::from_secs(20), "db's rules to go", || {
        (!hosts.ruleset().contains("9000")).then_some(())
    });
    assert_eq!(
        hosts
            .links()
            .iter()
            .filter(|l| l.starts_with("pd-"))
            .count(),
        1
    );
    let record = std::fs::read_to_string(&allocations).unwrap();
    assert!(!record.contains("\"db\""), "{record}");
    assert_eq!(hosts.wget(&hosts.client, &url).unwrap(), "hello from web\n");

    // Everything removed: only the empty bridge and table remain.
    inst.remove_manifest("web.yaml");
    assert!(inst.paddock(&["apply"]).status.success());
    let rules = hosts.ruleset();
    assert!(!rules.contains("chain"), "{rules}");
    let links = hosts.links();
    assert!(!links.iter().any(|l| l.starts_with("pd-")), "{links:?}");
    assert!(links.contains(&"paddock0".to_string()), "{links:?}");
    assert_eq!(std::fs::read_to_string(&allocations).unwrap().trim(), "{}");
    assert!(hosts.wget(&hosts.client, &url).is_err());
}

#[test]
fn a_loopback_resolver_is_reached_through_the_gateway() {
    let (hosts, mut inst) = setup();
    std::fs::create_dir_all(inst.root().join("etc")).unwrap();
    std::fs::write(
        inst.root().join("etc/resolv.conf"),
        "nameserver 127.0.0.53\nsearch lan\n",
    )
    .unwrap();
    let program = udp_echo_on_host();
    let _resolver = hosts.spawn(
        &hosts.host,
        &[program.to_str().unwrap(), "serve", "127.0.0.53", "53"],
    );
    inst.write_manifest(
        "c.yaml",
        &format!(
            "name: c\nimage: {IMAGE}\npull: never\nnetwork: bridge\ncommand: [sleep, '1000']\n"
        ),
    );
    inst.start();
    inst.wait_state("c", "running");
    let conf = exec(&inst, "c", &["cat", "/etc/resolv.conf"]).unwrap();
    assert_eq!(conf, "nameserver 10.88.0.1\nsearch lan\n");
    let answer = eventually(&inst, "the host's loopback resolver", || {
        exec(
            &inst,
            "c",
            &["udp-echo", "send", "10.88.0.1", "53", "query"],
        )
    });
    assert_eq!(answer, "echo:query\n");
}

#[test]
fn a_subnet_the_host_already_uses_is_refused() {
    let (_hosts, mut inst) = setup();
    inst.write_daemon_config(
        "clock:\n  wait: false\nbind_var: false\nnetwork:\n  subnet: 192.168.240.0/25\n",
    );
    inst.write_manifest("web.yaml", &web("web", "[\"8080:80\"]"));
    inst.start();
    let web = inst.wait_state("web", "failed");
    let error = web["last_error"].as_str().unwrap();
    assert!(
        error.contains("network.subnet 192.168.240.0/25 overlaps 192.168.240.0/24 on pdth"),
        "{error}"
    );
}
