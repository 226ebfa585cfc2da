//! Limits: cgroup resources (`mem_limit`, `cpus`, `pids_limit`, devices) and
//! process rlimits (`ulimits`).

use std::str::FromStr;

use oci_spec::runtime::{
    LinuxCpuBuilder, LinuxDeviceCgroup, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources,
    LinuxResourcesBuilder, PosixRlimit, PosixRlimitBuilder, PosixRlimitType,
};

use super::SpecError;
use crate::manifest::Manifest;

/// The CFS period docker uses with `--cpus`.
pub(crate) const CPU_PERIOD: u64 = 100_000;

/// RLIMIT_NOFILE when the manifest sets none (podman's default here; the
/// kernel's 1024 soft limit, without docker's huge inherited hard limit).
pub(crate) const DEFAULT_NOFILE: u64 = 1024;

pub(crate) fn resources(
    m: &Manifest,
    devices: Vec<LinuxDeviceCgroup>,
) -> Result<LinuxResources, SpecError> {
    let mut b = LinuxResourcesBuilder::default().devices(devices);
    if let Some(limit) = m.mem_limit {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        b = b.memory(LinuxMemoryBuilder::default().limit(limit).build()?);
    }
    if let Some(cpus) = m.cpus {
        let quota = (cpus * CPU_PERIOD as f64).round() as i64;
        b = b.cpu(
            LinuxCpuBuilder::default()
                .quota(quota)
                .period(CPU_PERIOD)
                .build()?,
        );
    }
    if let Some(pids) = m.pids_limit.filter(|p| *p > 0) {
        b = b.pids(LinuxPidsBuilder::default().limit(pids).build()?);
    }
    Ok(b.build()?)
}

/// `ulimits`, plus RLIMIT_NOFILE 1024:1024 unless the manifest sets nofile.
pub(crate) fn rlimits(m: &Manifest) -> Result<Vec<PosixRlimit>, SpecError> {
    let mut out = Vec::new();
    if !m.ulimits.iter().any(|u| u.name == "nofile") {
        out.push(
            PosixRlimitBuilder::default()
                .typ(PosixRlimitType::RlimitNofile)
                .soft(DEFAULT_NOFILE)
                .hard(DEFAULT_NOFILE)
                .build()?,
        );
    }
    for u in &m.ulimits {
        let name = format!("RLIMIT_{}", u.name.to_ascii_uppercase());
        let typ = PosixRlimitType::from_str(&name).map_err(|_| SpecError::UnknownRlimit {
            name: u.name.clone(),
        })?;
        out.push(
            PosixRlimitBuilder::default()
                .typ(typ)
                .soft(u.soft)
                .hard(u.hard)
                .build()?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::load_str;
    use std::path::Path;

    fn manifest(yaml: &str) -> Manifest {
        load_str(&format!("image: a\n{yaml}"), Path::new("web.yaml")).unwrap()
    }

    #[test]
    fn limits() {
        let r = resources(
            &manifest("mem_limit: 512m\ncpus: 1.5\npids_limit: 100"),
            vec![],
        )
        .unwrap();
        assert_eq!(r.memory().as_ref().unwrap().limit(), Some(512 << 20));
        let cpu = r.cpu().as_ref().unwrap();
        assert_eq!((cpu.quota(), cpu.period()), (Some(150_000), Some(100_000)));
        assert_eq!(r.pids().as_ref().unwrap().limit(), 100);
    }

    #[test]
    fn no_limits() {
        let r = resources(&manifest("pids_limit: -1"), vec![]).unwrap();
        assert!(r.memory().is_none() && r.cpu().is_none() && r.pids().is_none());
    }

    #[test]
    fn rlimit_defaults_and_overrides() {
        let r = rlimits(&manifest("")).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].typ(), r[0].soft(), r[0].hard()),
            (PosixRlimitType::RlimitNofile, 1024, 1024)
        );
        let r = rlimits(&manifest(
            "ulimits: {nofile: {soft: 2048, hard: 4096}, nproc: 50, memlock: -1}",
        ))
        .unwrap();
        let got: Vec<_> = r.iter().map(|l| (l.typ(), l.soft(), l.hard())).collect();
        assert_eq!(
            got,
            [
                (PosixRlimitType::RlimitNofile, 2048, 4096),
                (PosixRlimitType::RlimitNproc, 50, 50),
                (PosixRlimitType::RlimitMemlock, u64::MAX, u64::MAX)
            ]
        );
    }

    #[test]
    fn every_ulimit_name_maps_to_an_rlimit() {
        for name in crate::manifest::ULIMIT_NAMES {
            rlimits(&manifest(&format!("ulimits: {{{name}: 1}}"))).unwrap();
        }
    }
}
