//! The files other programs read: resolv.conf (DNS), the NTP server list
//! for paddock-ntp, and a lease summary. Written atomically (paddock_sys:
//! temp file, fsync, rename) so a reader never sees half a file.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("write {path}: {source}")]
pub struct WriteError {
    path: PathBuf,
    source: std::io::Error,
}

/// Writes a file others read (mode 0644), by paddock_sys's one rule.
/// Its directory (`/run`, `/run/paddock`) is made if missing.
pub fn write_public(path: &Path, contents: &[u8]) -> Result<(), WriteError> {
    let err = |source| WriteError {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    paddock_sys::fs::write_atomic(path, contents, paddock_sys::fs::PUBLIC).map_err(err)
}

pub fn resolv_conf(dns: &[IpAddr], domain: Option<&str>) -> String {
    let mut s = String::from("# written by paddock-dhcp\n");
    if let Some(d) = domain {
        s.push_str(&format!("search {d}\n"));
    }
    for d in dns {
        s.push_str(&format!("nameserver {d}\n"));
    }
    s
}

/// One server per line, as paddock-ntp reads it.
pub fn ntp_servers(servers: &[IpAddr]) -> String {
    servers.iter().map(|s| format!("{s}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_replaces() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("sub/resolv.conf");
        let dns: Vec<IpAddr> = vec!["10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()];
        write_public(&p, resolv_conf(&dns, Some("lan")).as_bytes()).unwrap();
        write_public(&p, resolv_conf(&dns, Some("lan")).as_bytes()).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "# written by paddock-dhcp\nsearch lan\nnameserver 10.0.0.1\nnameserver 10.0.0.2\n"
        );
        assert_eq!(
            std::fs::read_dir(p.parent().unwrap()).unwrap().count(),
            1,
            "no temp files left"
        );
        assert_eq!(ntp_servers(&dns), "10.0.0.1\n10.0.0.2\n");
    }
}
