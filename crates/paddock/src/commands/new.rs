//! `paddock new NAME [--dir DIR]`: create an instance directory.

use std::path::Path;

use crate::instance::Instance;

pub fn run(name: &str, dir: Option<&Path>) -> anyhow::Result<i32> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => super::instance_dir::default_for(name)?,
    };
    let instance = Instance::create(&dir, name)?;
    println!("created {}", instance.config_path.display());
    println!("  update password: {}", instance.config.update_password);
    println!("next:");
    println!(
        "  paddock add --instance {} ./my-program     # or a crate name, or a manifest.yaml",
        dir.display()
    );
    println!("  paddock build --instance {} -o {name}.img", dir.display());
    Ok(0)
}
