//! Which namespaces the container gets: its own pid, ipc, uts, mount and
//! cgroup namespaces always; a network namespace unless `network: host`.

use std::path::Path;

use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceBuilder, LinuxNamespaceType};

use super::SpecError;
use crate::manifest::{Manifest, NetworkMode};

fn new(typ: LinuxNamespaceType) -> Result<LinuxNamespace, SpecError> {
    Ok(LinuxNamespaceBuilder::default().typ(typ).build()?)
}

/// `network_namespace`: a namespace the supervisor prepared (bridge, or
/// another container's) to join instead of creating an empty one.
pub(crate) fn namespaces(
    m: &Manifest,
    network_namespace: Option<&Path>,
) -> Result<Vec<LinuxNamespace>, SpecError> {
    let mut out = vec![
        new(LinuxNamespaceType::Pid)?,
        new(LinuxNamespaceType::Ipc)?,
        new(LinuxNamespaceType::Uts)?,
        new(LinuxNamespaceType::Mount)?,
        new(LinuxNamespaceType::Cgroup)?,
    ];
    match (&m.network, network_namespace) {
        (NetworkMode::Host, _) => {}
        (_, Some(path)) => out.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::Network)
                .path(path)
                .build()?,
        ),
        (NetworkMode::None, None) => out.push(new(LinuxNamespaceType::Network)?),
        (NetworkMode::Bridge | NetworkMode::Container(_), None) => {
            return Err(SpecError::NetworkNamespaceRequired {
                network: match &m.network {
                    NetworkMode::Container(other) => format!("container:{other}"),
                    _ => "bridge".to_string(),
                },
            })
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::load_str;

    fn manifest(yaml: &str) -> Manifest {
        load_str(&format!("image: a\n{yaml}"), Path::new("web.yaml")).unwrap()
    }

    fn types(ns: &[LinuxNamespace]) -> Vec<LinuxNamespaceType> {
        ns.iter().map(|n| n.typ()).collect()
    }

    #[test]
    fn host_network_shares_the_host_namespace() {
        let ns = namespaces(&manifest("network: host"), None).unwrap();
        assert_eq!(
            types(&ns),
            [
                LinuxNamespaceType::Pid,
                LinuxNamespaceType::Ipc,
                LinuxNamespaceType::Uts,
                LinuxNamespaceType::Mount,
                LinuxNamespaceType::Cgroup
            ]
        );
    }

    #[test]
    fn none_gets_a_new_empty_namespace() {
        let ns = namespaces(&manifest("network: none"), None).unwrap();
        let net = ns
            .iter()
            .find(|n| n.typ() == LinuxNamespaceType::Network)
            .unwrap();
        assert!(net.path().is_none());
    }

    #[test]
    fn prepared_namespace_is_joined() {
        let ns = namespaces(
            &manifest("network: bridge"),
            Some(Path::new("/run/netns/web")),
        )
        .unwrap();
        let net = ns
            .iter()
            .find(|n| n.typ() == LinuxNamespaceType::Network)
            .unwrap();
        assert_eq!(net.path().as_deref(), Some(Path::new("/run/netns/web")));
    }

    #[test]
    fn bridge_without_a_namespace_is_an_error() {
        let e = namespaces(&manifest("network: bridge\n"), None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "network: bridge needs the network namespace the supervisor prepares"
        );
    }
}
