//! `paddock validate [PATH…]`: check manifests without running anything.

use std::path::PathBuf;

use paddock_manifest as manifest;
use paddock_wire::paths::Paths;

pub fn run(paths: &Paths, targets: &[PathBuf]) -> anyhow::Result<i32> {
    let targets = if targets.is_empty() {
        vec![paths.manifests()]
    } else {
        targets.to_vec()
    };
    let mut ok = 0;
    let mut bad = 0;
    for target in targets {
        if target.is_dir() {
            let report = manifest::load_dir(&target);
            for m in &report.manifests {
                println!("ok: {} ({})", m.source.display(), m.name);
            }
            for e in &report.errors {
                eprintln!("{e}");
            }
            ok += report.manifests.len();
            bad += report.errors.len();
        } else {
            match manifest::load_file(&target) {
                Ok(m) => {
                    println!("ok: {} ({})", target.display(), m.name);
                    ok += 1;
                }
                Err(e) => {
                    eprintln!("{e}");
                    bad += 1;
                }
            }
        }
    }
    println!("{ok} valid, {bad} with errors");
    Ok(i32::from(bad > 0))
}
