//! Dependency order: which containers start first, and dependency cycles.

use std::collections::{BTreeMap, BTreeSet};

use super::types::{Manifest, NetworkMode};

/// The containers `m` needs running first: `depends_on`, and the container
/// whose network it joins.
pub(crate) fn needs(m: &Manifest) -> impl Iterator<Item = &str> {
    let network = match &m.network {
        NetworkMode::Container(other) => Some(other.as_str()),
        _ => None,
    };
    m.depends_on.iter().map(|d| d.name.as_str()).chain(network)
}

/// Topological layers: every container in a layer depends only on
/// containers in earlier layers; names within a layer are sorted.
///
/// Dependencies on names not in `manifests` are ignored. Containers caught
/// in a dependency cycle (which [`super::load_dir`] never returns) come last,
/// in one layer of their own.
pub fn start_order(manifests: &[Manifest]) -> Vec<Vec<String>> {
    let known: BTreeSet<&str> = manifests.iter().map(|m| m.name.as_str()).collect();
    let mut pending: BTreeMap<&str, BTreeSet<&str>> = manifests
        .iter()
        .map(|m| {
            let deps = needs(m)
                .filter(|d| known.contains(d) && *d != m.name)
                .collect();
            (m.name.as_str(), deps)
        })
        .collect();
    let mut layers = Vec::new();
    while !pending.is_empty() {
        let ready: Vec<&str> = pending
            .iter()
            .filter(|(_, deps)| deps.is_empty())
            .map(|(name, _)| *name)
            .collect();
        if ready.is_empty() {
            layers.push(pending.keys().map(|s| s.to_string()).collect());
            break;
        }
        for name in &ready {
            pending.remove(name);
        }
        for deps in pending.values_mut() {
            for name in &ready {
                deps.remove(name);
            }
        }
        layers.push(ready.into_iter().map(str::to_string).collect());
    }
    layers
}

/// Every dependency cycle among `manifests`, each as the path of names
/// from its alphabetically first member back to it (`[a, b, a]`).
pub(crate) fn cycles(manifests: &[Manifest]) -> Vec<Vec<String>> {
    let graph: BTreeMap<&str, Vec<&str>> = manifests
        .iter()
        .map(|m| (m.name.as_str(), needs(m).collect()))
        .collect();
    let mut found = Vec::new();
    let mut covered: BTreeSet<&str> = BTreeSet::new();
    for start in graph.keys() {
        if covered.contains(start) {
            continue;
        }
        if let Some(path) = path_back(&graph, start) {
            covered.extend(path.iter().copied());
            found.push(path.into_iter().map(str::to_string).collect());
        }
    }
    found
}

/// A shortest path `start → … → start`, if there is one (breadth-first).
fn path_back<'a>(graph: &BTreeMap<&'a str, Vec<&'a str>>, start: &'a str) -> Option<Vec<&'a str>> {
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for &next in graph.get(node).into_iter().flatten() {
            if next == start {
                let mut path = vec![start, node];
                let mut cur = node;
                while cur != start {
                    cur = *came_from.get(cur)?;
                    path.push(cur);
                }
                // Built backwards from the end: start, node, …, start.
                path.reverse();
                return Some(path);
            }
            if graph.contains_key(next) && !came_from.contains_key(next) {
                came_from.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load_str;
    use std::path::Path;

    fn m(name: &str, deps: &[&str]) -> Manifest {
        let deps = if deps.is_empty() {
            String::new()
        } else {
            format!("depends_on: [{}]\n", deps.join(", "))
        };
        load_str(
            &format!("name: {name}\nimage: alpine\n{deps}"),
            Path::new("t.yaml"),
        )
        .unwrap()
    }

    #[test]
    fn layers() {
        let all = vec![
            m("web", &["db", "cache"]),
            m("db", &[]),
            m("cache", &["db"]),
            m("lonely", &[]),
            m("proxy", &["web", "elsewhere"]),
        ];
        assert_eq!(
            start_order(&all),
            vec![
                vec!["db", "lonely"],
                vec!["cache"],
                vec!["web"],
                vec!["proxy"]
            ]
        );
    }

    #[test]
    fn network_container_counts_as_dependency() {
        let mut sidecar = m("sidecar", &[]);
        sidecar.network = NetworkMode::Container("app".into());
        let all = vec![sidecar, m("app", &[])];
        assert_eq!(start_order(&all), vec![vec!["app"], vec!["sidecar"]]);
    }

    #[test]
    fn cycles_come_last() {
        let all = vec![m("a", &["b"]), m("b", &["a"]), m("c", &[])];
        assert_eq!(start_order(&all), vec![vec!["c"], vec!["a", "b"]]);
    }

    #[test]
    fn finds_cycles() {
        let all = vec![
            m("a", &["b"]),
            m("b", &["c"]),
            m("c", &["a"]),
            m("d", &["a"]),
            m("e", &["f"]),
            m("f", &["e"]),
        ];
        assert_eq!(
            cycles(&all),
            vec![vec!["a", "b", "c", "a"], vec!["e", "f", "e"]]
        );
        assert!(cycles(&[m("x", &["y"]), m("y", &[])]).is_empty());
    }
}
