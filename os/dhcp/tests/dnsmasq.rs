//! paddock-dhcp against a real DHCP server: Debian's dnsmasq in a network
//! namespace, the client in another, joined by a veth pair. Each test makes
//! its own namespaces (unique names) and removes them, and stops the
//! processes it started by pid.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

const DNSMASQ: &str = "/usr/sbin/dnsmasq";

struct Net {
    srv: String,
    cli: String,
    dir: tempfile::TempDir,
    procs: Vec<Child>,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("run ip (apt-get install iproute2)");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ip_output(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Net {
    /// Server namespace with `srv0` at 10.77.0.1/24, client namespace with `eth0`.
    fn new(tag: &str) -> Self {
        assert!(
            Path::new(DNSMASQ).exists(),
            "{DNSMASQ} is missing: apt-get install dnsmasq-base"
        );
        let base = format!("pdk-dhcp-{}-{tag}", std::process::id());
        let net = Self {
            srv: format!("{base}-s"),
            cli: format!("{base}-c"),
            dir: tempfile::tempdir().unwrap(),
            procs: Vec::new(),
        };
        ip(&["netns", "add", &net.srv]);
        ip(&["netns", "add", &net.cli]);
        ip(&[
            "link", "add", "srv0", "netns", &net.srv, "type", "veth", "peer", "name", "eth0",
            "netns", &net.cli,
        ]);
        ip(&["-n", &net.srv, "addr", "add", "10.77.0.1/24", "dev", "srv0"]);
        ip(&["-n", &net.srv, "link", "set", "srv0", "up"]);
        ip(&["-n", &net.cli, "link", "set", "lo", "up"]);
        net
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn spawn_in(&mut self, ns: &str, program: &str, args: &[String], log: &str) {
        let log = std::fs::File::create(self.path(log)).unwrap();
        // `ip netns exec` execs the program: the child's pid is the program's.
        let child = Command::new("ip")
            .args(["netns", "exec", ns, program])
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.procs.push(child);
    }

    /// dnsmasq serving `range` with a 2 minute lease, T1 = 2 s, T2 = 4 s.
    fn dnsmasq(&mut self, range: &str, extra: &[&str]) -> usize {
        let mut args: Vec<String> = [
            "--keep-in-foreground",
            "--conf-file=",
            "--port=0",
            "--interface=srv0",
            "--bind-interfaces",
            "--no-ping",
            "--user=root",
            "--log-dhcp",
            "--log-facility=-",
            "--dhcp-option=option:router,10.77.0.1",
            "--dhcp-option=option:dns-server,10.77.0.1",
            "--dhcp-option=option:ntp-server,10.77.0.3",
            "--dhcp-option=option:T1,2",
            "--dhcp-option=option:T2,4",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(format!("--dhcp-range={range},255.255.255.0,2m"));
        args.push(format!(
            "--dhcp-leasefile={}",
            self.path("leases").display()
        ));
        args.push(format!("--pid-file={}", self.path("dnsmasq.pid").display()));
        args.extend(extra.iter().map(|s| s.to_string()));
        let srv = self.srv.clone();
        let n = self.procs.len();
        self.spawn_in(&srv, DNSMASQ, &args, &format!("dnsmasq{n}.log"));
        n
    }

    fn client(&mut self, extra: &[&str]) {
        let mut args: Vec<String> = vec![
            "--interface".into(),
            "eth0".into(),
            "--hostname".into(),
            "testbox".into(),
        ];
        for (flag, file) in [
            ("--resolv-conf", "resolv.conf"),
            ("--ntp-servers-file", "ntp-servers"),
            ("--lease-file", "lease.json"),
        ] {
            args.push(flag.into());
            args.push(self.path(file).display().to_string());
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let cli = self.cli.clone();
        self.spawn_in(
            &cli,
            env!("CARGO_BIN_EXE_paddock-dhcp"),
            &args,
            "client.log",
        );
    }

    fn stop(&mut self, index: usize) {
        let child = &mut self.procs[index];
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
        let _ = child.wait();
    }

    fn lease(&self) -> Option<serde_json::Value> {
        let text = std::fs::read_to_string(self.path("lease.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Waits until the lease file satisfies `ok`; shows the logs on timeout.
    fn wait_lease(
        &self,
        timeout: Duration,
        what: &str,
        ok: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.lease().filter(|l| ok(l)) {
                return l;
            }
            if Instant::now() > deadline {
                let client = std::fs::read_to_string(self.path("client.log")).unwrap_or_default();
                let server = std::fs::read_to_string(self.path("dnsmasq0.log")).unwrap_or_default();
                panic!("timed out waiting for {what}: lease {:?}\nclient:\n{client}\nserver:\n{server}", self.lease());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn client_addresses(&self) -> String {
        ip_output(&["-n", &self.cli, "-4", "addr", "show", "dev", "eth0"])
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for child in &mut self.procs {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
            let _ = child.wait();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.srv])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.cli])
            .status();
    }
}

fn how(l: &serde_json::Value) -> &str {
    l["how"].as_str().unwrap_or("")
}

#[test]
fn lease_configures_the_interface_and_renews() {
    let mut net = Net::new("renew");
    net.dnsmasq("10.77.0.50,10.77.0.60", &[]);
    net.client(&[]);
    let lease = net.wait_lease(Duration::from_secs(15), "a lease", |l| how(l) == "discover");
    let address = lease["address"].as_str().unwrap().to_string();
    assert!(
        address.starts_with("10.77.0.5") || address == "10.77.0.60/24",
        "{address}"
    );
    assert_eq!(lease["server"], "10.77.0.1");
    // The server's T1 (dnsmasq rounds it up a little) and lease time.
    assert!(matches!(lease["t1_secs"].as_u64(), Some(2..=3)), "{lease}");
    assert_eq!(lease["lease_secs"].as_u64(), Some(120));

    assert!(
        net.client_addresses().contains(&format!("inet {address}")),
        "{}",
        net.client_addresses()
    );
    let routes = ip_output(&["-n", &net.cli, "route", "show", "default"]);
    assert!(
        routes.contains("default via 10.77.0.1 dev eth0"),
        "{routes}"
    );
    let resolv = std::fs::read_to_string(net.path("resolv.conf")).unwrap();
    assert!(resolv.contains("nameserver 10.77.0.1\n"), "{resolv}");
    assert_eq!(
        std::fs::read_to_string(net.path("ntp-servers")).unwrap(),
        "10.77.0.3\n"
    );
    // The server learned our name (option 12).
    let leases = std::fs::read_to_string(net.path("leases")).unwrap();
    assert!(leases.contains(" testbox "), "{leases}");

    let renewed = net.wait_lease(Duration::from_secs(6), "a renewal at T1", |l| {
        how(l) == "renew"
    });
    assert_eq!(renewed["address"], address.as_str());
}

#[test]
fn rebinds_when_the_server_stops_answering_unicast() {
    let mut net = Net::new("rebind");
    let first = net.dnsmasq("10.77.0.50,10.77.0.60", &[]);
    net.client(&[]);
    let lease = net.wait_lease(Duration::from_secs(15), "a lease", |l| how(l) == "discover");
    // The server moves to 10.77.0.2: renewals (unicast to .1) go unanswered,
    // the broadcast after T2 reaches it.
    net.stop(first);
    let srv = net.srv.clone();
    ip(&["-n", &srv, "addr", "flush", "dev", "srv0"]);
    ip(&["-n", &srv, "addr", "add", "10.77.0.2/24", "dev", "srv0"]);
    net.dnsmasq("10.77.0.50,10.77.0.60", &["--dhcp-authoritative"]);
    let rebound = net.wait_lease(Duration::from_secs(10), "a rebind", |l| how(l) == "rebind");
    assert_eq!(rebound["server"], "10.77.0.2");
    assert_eq!(rebound["address"], lease["address"]);
}

#[test]
fn nak_drops_the_address_and_starts_over() {
    let mut net = Net::new("nak");
    let first = net.dnsmasq("10.77.0.50,10.77.0.60", &[]);
    net.client(&[]);
    let lease = net.wait_lease(Duration::from_secs(15), "a lease", |l| how(l) == "discover");
    let old = lease["address"].as_str().unwrap().to_string();
    // The network was renumbered: the renewal is refused.
    net.stop(first);
    std::fs::remove_file(net.path("leases")).unwrap();
    net.dnsmasq("10.77.0.100,10.77.0.110", &["--dhcp-authoritative"]);
    let new = net.wait_lease(Duration::from_secs(15), "a new lease", |l| {
        l["address"]
            .as_str()
            .is_some_and(|a| a.starts_with("10.77.0.1") && a != old)
    });
    assert_eq!(how(&new), "discover");
    let addrs = net.client_addresses();
    assert!(
        !addrs.contains(&format!("inet {old}")),
        "old address removed: {addrs}"
    );
    assert!(
        addrs.contains(&format!("inet {}", new["address"].as_str().unwrap())),
        "{addrs}"
    );
    let log = std::fs::read_to_string(net.path("client.log")).unwrap();
    assert!(log.contains("NAK"), "{log}");
}

#[test]
fn static_configuration() {
    let mut net = Net::new("static");
    net.client(&[
        "--static",
        "10.77.0.9/24",
        "--gateway",
        "10.77.0.1",
        "--dns",
        "10.77.0.1",
        "--ntp",
        "10.77.0.3",
    ]);
    let lease = net.wait_lease(Duration::from_secs(10), "static config", |l| {
        how(l) == "static"
    });
    assert_eq!(lease["address"], "10.77.0.9/24");
    assert!(net.client_addresses().contains("inet 10.77.0.9/24"));
    let routes = ip_output(&["-n", &net.cli, "route", "show", "default"]);
    assert!(
        routes.contains("default via 10.77.0.1 dev eth0"),
        "{routes}"
    );
    assert_eq!(
        std::fs::read_to_string(net.path("resolv.conf")).unwrap(),
        "# written by paddock-dhcp\nnameserver 10.77.0.1\n"
    );
    assert_eq!(
        std::fs::read_to_string(net.path("ntp-servers")).unwrap(),
        "10.77.0.3\n"
    );
    // It stays running (a service that exits would be restarted by init).
    std::thread::sleep(Duration::from_millis(300));
    assert!(net.procs[0].try_wait().unwrap().is_none());
}

#[test]
fn bad_static_address_is_a_clear_error() {
    let net = Net::new("badstatic");
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &net.cli,
            env!("CARGO_BIN_EXE_paddock-dhcp"),
            "--interface",
            "eth0",
            "--static",
            "10.77.0.9",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--static \"10.77.0.9\": expected an IPv4 address with prefix length"),
        "{err}"
    );
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &net.cli,
            env!("CARGO_BIN_EXE_paddock-dhcp"),
            "--interface",
            "nosuch0",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("no interface named nosuch0"));
}
