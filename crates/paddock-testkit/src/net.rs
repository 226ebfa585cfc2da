//! Network fixtures: "hosts" made of network namespaces the test creates
//! (`ip netns add` + a veth between them), and a tiny static UDP echo
//! program for the busybox image (busybox has no UDP server).
//!
//! Only addresses inside these namespaces are ever used.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use super::instance::require_tool;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Two namespaces joined by a veth: `host` (where paddockd runs,
/// 192.168.240.1) and `client` (another machine on its uplink,
/// 192.168.240.2).
pub struct TestHosts {
    pub host: String,
    pub client: String,
}

pub const HOST_IP: &str = "192.168.240.1";
pub const CLIENT_IP: &str = "192.168.240.2";

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("running ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl TestHosts {
    /// Creates the namespaces and links (no `Default`: that would hide them).
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        require_tool("ip", "iproute2");
        require_tool("nsenter", "util-linux");
        require_tool("nft", "nftables");
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{}-{n}", std::process::id());
        let hosts = Self {
            host: format!("pdt-h-{tag}"),
            client: format!("pdt-c-{tag}"),
        };
        ip(&["netns", "add", &hosts.host]);
        ip(&["netns", "add", &hosts.client]);
        let (a, b) = (format!("pdth{tag}"), format!("pdtc{tag}"));
        ip(&[
            "link",
            "add",
            &a,
            "netns",
            &hosts.host,
            "type",
            "veth",
            "peer",
            "name",
            &b,
            "netns",
            &hosts.client,
        ]);
        for (ns, link, addr) in [(&hosts.host, &a, HOST_IP), (&hosts.client, &b, CLIENT_IP)] {
            ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", link]);
            ip(&["-n", ns, "link", "set", link, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        hosts
    }

    pub fn host_path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.host)
    }

    /// Runs a command in namespace `ns`.
    pub fn run(&self, ns: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("ip netns exec")
    }

    /// Starts a long-running command in namespace `ns`; the caller kills it.
    pub fn spawn(&self, ns: &str, args: &[&str]) -> KillOnDrop {
        let child = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{ns}"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nsenter");
        KillOnDrop(child)
    }

    /// `busybox wget` from namespace `ns`: the body, or the error.
    pub fn wget(&self, ns: &str, url: &str) -> Result<String, String> {
        let out = self.run(
            ns,
            &["timeout", "5", "busybox", "wget", "-q", "-O", "-", url],
        );
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// `nft -j list table inet paddock` in the host namespace, normalised
    /// (handles dropped) for comparison.
    pub fn ruleset(&self) -> String {
        let out = self.run(&self.host, &["nft", "list", "table", "inet", "paddock"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Link names in the host namespace, sorted.
    pub fn links(&self) -> Vec<String> {
        let out = self.run(&self.host, &["ip", "-o", "link", "show"]);
        let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n).to_string())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TestHosts {
    fn drop(&mut self) {
        // Deleting a namespace deletes its links, bridge and nft tables.
        for ns in [&self.host, &self.client] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// A child process killed (by pid) when dropped.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const UDP_ECHO_C: &str = r#"
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: udp-echo serve|send IP PORT [MSG]\n"); return 2; }
    struct sockaddr_in a; memset(&a, 0, sizeof a);
    a.sin_family = AF_INET; a.sin_port = htons(atoi(argv[3]));
    if (inet_pton(AF_INET, argv[2], &a.sin_addr) != 1) { fprintf(stderr, "bad address\n"); return 2; }
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    char buf[1500], out[1600];
    if (!strcmp(argv[1], "serve")) {
        if (bind(s, (struct sockaddr *)&a, sizeof a)) { perror("bind"); return 1; }
        for (;;) {
            struct sockaddr_in p; socklen_t l = sizeof p;
            ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&p, &l);
            if (n < 0) continue;
            int m = snprintf(out, sizeof out, "echo:%.*s", (int)n, buf);
            sendto(s, out, m, 0, (struct sockaddr *)&p, l);
        }
    }
    if (argc < 5) return 2;
    struct timeval tv = { 3, 0 };
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sendto(s, argv[4], strlen(argv[4]), 0, (struct sockaddr *)&a, sizeof a);
    ssize_t n = recv(s, buf, sizeof buf - 1, 0);
    if (n < 0) { perror("recv"); return 1; }
    buf[n] = 0; printf("%s\n", buf);
    return 0;
}
"#;

/// Compiles the static UDP echo program to `out`.
pub fn build_udp_echo(out: &Path) {
    require_tool("cc", "build-essential");
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("udp-echo.c");
    std::fs::write(&src, UDP_ECHO_C).unwrap();
    let status = Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(out)
        .arg(&src)
        .status()
        .expect("cc");
    assert!(
        status.success(),
        "compiling udp-echo failed (apt-get install build-essential)"
    );
}
