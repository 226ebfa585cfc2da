//! `paddock keys init|show|rotate [--finish]`: the instance's keys
//! (`keys/`, see `instance::keys`).

use std::path::Path;

use clap::Subcommand;

use crate::instance::keys::Keys;
use crate::instance::Instance;

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Make the keys that are missing (for an instance made before signed
    /// updates; `paddock new` makes them). Never overwrites a key.
    Init,
    /// Print the update key's fingerprint and where the keys are.
    Show,
    /// Replace the update key. Builds are signed by the old key too until
    /// `--finish`, so devices that trust it install the new one.
    Rotate {
        /// Every device runs a build with the new key: forget the old one.
        #[arg(long)]
        finish: bool,
    },
}

pub fn run(instance: Option<&Path>, command: KeysCommand) -> anyhow::Result<i32> {
    let dir = super::instance_dir::resolve(instance)?;
    let instance = Instance::load(&dir)?;
    let keys = Keys::of(&instance.dir);
    match command {
        KeysCommand::Init => {
            let made = keys.init(&instance.config.hostname)?;
            if made.is_empty() {
                println!("{}: every key is there; nothing made", keys.dir.display());
            }
            for path in made {
                println!("made {}", path.display());
            }
            show(&keys)
        }
        KeysCommand::Show => show(&keys),
        KeysCommand::Rotate { finish: false } => {
            let (old, new) = keys.rotate_update_key()?;
            println!("update key rotated: {old} → {new}");
            println!("builds are signed by both until `paddock keys rotate --finish`");
            Ok(0)
        }
        KeysCommand::Rotate { finish: true } => {
            if keys.forget_previous()? {
                println!("the previous update key is gone; builds are signed by the new one only");
            } else {
                println!("no rotation under way");
            }
            Ok(0)
        }
    }
}

fn show(keys: &Keys) -> anyhow::Result<i32> {
    match keys.update_public()? {
        Some(k) => println!(
            "update key {}  ({})",
            k.fingerprint(),
            keys.update_pub_path().display()
        ),
        None => println!("no update key: run `paddock keys init`"),
    }
    Ok(0)
}
