//! `paddock edit`: open the instance's config.yaml in $EDITOR and keep the
//! edit only when it is valid.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context};

use crate::instance::Instance;

pub fn run(instance: Option<&Path>) -> anyhow::Result<i32> {
    let dir = super::instance_dir::resolve(instance)?;
    let current = Instance::load(&dir)?;
    let draft = dir.join(".config.yaml.edit");
    std::fs::copy(&current.config_path, &draft)
        .with_context(|| format!("copying to {}", draft.display()))?;
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".to_string());
    let words = shlex::split(&editor).unwrap_or_else(|| vec![editor.clone()]);
    let Some((program, args)) = words.split_first() else {
        bail!("$EDITOR is empty")
    };
    let status = Command::new(program)
        .args(args)
        .arg(&draft)
        .status()
        .with_context(|| format!("starting editor {program:?}"))?;
    if !status.success() {
        bail!(
            "editor {program:?} failed ({status}); your edit is in {}",
            draft.display()
        );
    }
    match Instance::load_from(&dir, &draft) {
        Ok(_) => {
            std::fs::rename(&draft, &current.config_path)
                .with_context(|| format!("saving {}", current.config_path.display()))?;
            println!("saved {}", current.config_path.display());
            Ok(0)
        }
        Err(e) => {
            eprintln!("{e}");
            eprintln!(
                "config.yaml is unchanged; your edit is in {} (fix it and copy it over, or run paddock edit again)",
                draft.display()
            );
            Ok(1)
        }
    }
}
