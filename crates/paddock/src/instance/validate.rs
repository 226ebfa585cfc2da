//! Checks on a parsed `config.yaml` that types cannot express.

use std::collections::BTreeSet;
use std::path::Path;

use super::config::{InstanceConfig, Network};

/// Smallest ESP that still holds a FAT32 file system (65525 clusters).
const MIN_ESP: u64 = 40 << 20;
const MIN_ROOT: u64 = 16 << 20;
const MIN_PERM: u64 = 8 << 20;

pub fn check(c: &InstanceConfig, dir: &Path) -> Result<(), String> {
    hostname(&c.hostname).map_err(|m| format!("hostname: {m}"))?;
    if c.update_password.len() < 8 {
        return Err("update_password: at least 8 characters".into());
    }
    match (&c.kernel.package, &c.kernel.deb) {
        (Some(_), Some(_)) => return Err("kernel: give package or deb, not both".into()),
        (None, None) => return Err("kernel: give package or deb".into()),
        (Some(p), None) if !is_package_name(p) => {
            return Err(format!(
                "kernel.package: {p:?} is not a Debian package name"
            ))
        }
        (None, Some(deb)) if !dir.join(deb).is_file() => {
            return Err(format!(
                "kernel.deb: {} does not exist",
                dir.join(deb).display()
            ))
        }
        _ => {}
    }
    let mut names = BTreeSet::new();
    for (i, p) in c.programs.iter().enumerate() {
        let at = format!("programs[{i}]");
        program_name(&p.name).map_err(|m| format!("{at}.name: {m}"))?;
        if !names.insert(p.name.as_str()) {
            return Err(format!("{at}.name: {:?} appears twice", p.name));
        }
        match (&p.path, &p.krate) {
            (Some(_), Some(_)) => return Err(format!("{at}: give path or crate, not both")),
            (None, None) => return Err(format!("{at}: give path (a cargo package) or crate")),
            (Some(path), None) if !dir.join(path).join("Cargo.toml").is_file() => {
                return Err(format!(
                    "{at}.path: {} has no Cargo.toml",
                    dir.join(path).display()
                ))
            }
            (Some(_), None) if p.version.is_some() => {
                return Err(format!("{at}.version: only with crate"))
            }
            _ => {}
        }
        for key in p.env.keys() {
            if key.is_empty() || key.contains('=') || key.contains('\0') {
                return Err(format!("{at}.env: {key:?} is not a variable name"));
            }
        }
    }
    let registries = serde_saphyr::to_string(&c.registries).map_err(|e| e.to_string())?;
    paddock_store::RegistriesConfig::parse(&registries, Path::new("registries"))
        .map_err(|e| e.to_string())?;
    if let Network::Static(s) = &c.network {
        if !s.address.contains('/') {
            return Err(format!(
                "network.static.address: {:?} needs a prefix length (e.g. 192.168.1.10/24)",
                s.address
            ));
        }
    }
    let timeout = c.update.health_timeout_secs.unwrap_or(60);
    let hold = c.update.healthy_for_secs.unwrap_or(5);
    if hold >= timeout {
        return Err(format!(
            "update.healthy_for_secs ({hold}) must be less than update.health_timeout_secs \
             ({timeout}): a new slot could never be kept"
        ));
    }
    if c.update.tries == Some(0) {
        return Err("update.tries: at least 1".into());
    }
    if c.http_port == 0 {
        return Err("http_port: must be 1-65535".into());
    }
    if c.https_port == 0 || c.https_port == c.http_port {
        return Err("https_port: must be 1-65535 and not http_port".into());
    }
    for (what, size, min) in [
        ("disk.esp", c.disk.esp.0, MIN_ESP),
        ("disk.root", c.disk.root.0, MIN_ROOT),
        ("disk.perm", c.disk.perm.0, MIN_PERM),
    ] {
        if size < min {
            return Err(format!("{what}: at least {}", super::size::ByteSize(min)));
        }
        if !size.is_multiple_of(1 << 20) {
            return Err(format!("{what}: must be a whole number of MiB"));
        }
    }
    Ok(())
}

/// RFC 1123 host name label(s).
pub fn hostname(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?}: use letters, digits and '-', at most 63 characters"
        ))
    }
}

fn program_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(format!("{name:?}: use letters, digits, '-', '_' and '.'"))
    }
}

fn is_package_name(p: &str) -> bool {
    p.len() >= 2
        && p.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
}
