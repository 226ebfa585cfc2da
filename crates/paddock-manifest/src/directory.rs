//! Loading a whole directory of manifests and the checks that span files:
//! one name per container, dependencies that exist, no dependency cycles.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::error::{ManifestError, Pos};
use super::order::{cycles, needs};
use super::types::Manifest;
use super::validate::Checked;
use super::{load_checked, LoadReport};

/// Manifest files in `dir` (`*.yaml`, `*.yml`), sorted by name.
fn manifest_files(dir: &Path) -> Result<Vec<PathBuf>, ManifestError> {
    let unreadable = |e: std::io::Error| {
        ManifestError::new(
            dir,
            Pos::UNKNOWN,
            format!("cannot read the manifest directory: {e}"),
        )
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let path = entry.map_err(unreadable)?.path();
        let is_yaml = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        );
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if is_yaml && !hidden && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Loads every manifest in `dir`. A file with errors is reported and left
/// out; so is a manifest whose dependencies are unknown, left out or in a
/// cycle. The rest load regardless.
pub fn load_dir(dir: &Path) -> LoadReport {
    let lookup = |k: &str| std::env::var(k).ok();
    let mut report = LoadReport::default();
    let files = match manifest_files(dir) {
        Ok(files) => files,
        Err(e) => {
            report.errors.push(e);
            return report;
        }
    };
    let mut loaded = Vec::new();
    // Names that may belong to a file with errors: its declared name is
    // unknown, so its file name stands in.
    let mut broken: BTreeSet<String> = BTreeSet::new();
    for file in files {
        match load_checked(&file, &lookup) {
            Ok(c) => loaded.push(c),
            Err(errors) => {
                if let Some(stem) = file.file_stem() {
                    broken.insert(stem.to_string_lossy().into_owned());
                }
                report.errors.extend(errors);
            }
        }
    }
    let loaded = cross_check(loaded, &mut broken, &mut report.errors);
    report.manifests = loaded.into_iter().map(|c| c.manifest).collect();
    report
}

/// The directory-wide checks; returns the manifests that pass.
pub(crate) fn cross_check(
    loaded: Vec<Checked>,
    broken: &mut BTreeSet<String>,
    errors: &mut Vec<ManifestError>,
) -> Vec<Checked> {
    let mut loaded = remove_duplicate_names(loaded, broken, errors);
    loop {
        loaded = remove_missing_dependencies(loaded, broken, errors);
        let manifests: Vec<Manifest> = loaded.iter().map(|c| c.manifest.clone()).collect();
        let found = cycles(&manifests);
        if found.is_empty() {
            return loaded;
        }
        let mut in_cycle = BTreeSet::new();
        for cycle in &found {
            let text = cycle.join(" -> ");
            for pair in cycle.windows(2) {
                let (from, to) = (&pair[0], &pair[1]);
                if let Some(c) = loaded.iter().find(|c| &c.manifest.name == from) {
                    let (at, what) = dependency_position(c, to);
                    errors.push(ManifestError::new(
                        &c.manifest.source,
                        at,
                        format!("{what}: {to:?}: dependency cycle: {text}"),
                    ));
                }
                in_cycle.insert(from.clone());
            }
        }
        broken.extend(in_cycle.iter().cloned());
        loaded.retain(|c| !in_cycle.contains(&c.manifest.name));
    }
}

/// Where `c` names `dep`: its `depends_on` entry, or `network: container:…`.
fn dependency_position(c: &Checked, dep: &str) -> (Pos, &'static str) {
    let m = &c.manifest;
    if let Some(i) = m.depends_on.iter().position(|d| d.name == dep) {
        return (c.depends_at[i], "depends_on");
    }
    (c.network_at, "network")
}

fn remove_duplicate_names(
    loaded: Vec<Checked>,
    broken: &mut BTreeSet<String>,
    errors: &mut Vec<ManifestError>,
) -> Vec<Checked> {
    let mut by_name: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for c in &loaded {
        by_name
            .entry(c.manifest.name.clone())
            .or_default()
            .push(c.manifest.source.clone());
    }
    let (keep, dups): (Vec<_>, Vec<_>) = loaded
        .into_iter()
        .partition(|c| by_name.get(&c.manifest.name).map_or(0, Vec::len) <= 1);
    for c in dups {
        let others: Vec<String> = by_name
            .get(&c.manifest.name)
            .into_iter()
            .flatten()
            .filter(|p| **p != c.manifest.source)
            .map(|p| p.display().to_string())
            .collect();
        errors.push(ManifestError::new(
            &c.manifest.source,
            c.name_at,
            format!(
                "name: {:?}: also declared in {} (expected each container name in one file)",
                c.manifest.name,
                others.join(", ")
            ),
        ));
        broken.insert(c.manifest.name.clone());
    }
    keep
}

/// Removes manifests that need a container that is not there, repeatedly
/// (a dependant of a removed manifest is removed too).
fn remove_missing_dependencies(
    mut loaded: Vec<Checked>,
    broken: &mut BTreeSet<String>,
    errors: &mut Vec<ManifestError>,
) -> Vec<Checked> {
    loop {
        let names: BTreeSet<String> = loaded.iter().map(|c| c.manifest.name.clone()).collect();
        let mut removed = Vec::new();
        for c in &loaded {
            let missing: Vec<&str> = needs(&c.manifest).filter(|d| !names.contains(*d)).collect();
            for dep in &missing {
                let (at, what) = dependency_position(c, dep);
                let problem = if broken.contains(*dep) {
                    "that container has errors, so this one cannot start either".to_string()
                } else {
                    "no such container (expected the name of another manifest)".to_string()
                };
                errors.push(ManifestError::new(
                    &c.manifest.source,
                    at,
                    format!("{what}: {dep:?}: {problem}"),
                ));
            }
            if !missing.is_empty() {
                removed.push(c.manifest.name.clone());
            }
        }
        if removed.is_empty() {
            return loaded;
        }
        broken.extend(removed.iter().cloned());
        loaded.retain(|c| !removed.contains(&c.manifest.name));
    }
}
