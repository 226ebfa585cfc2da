//! systemd-boot loader entries, one per slot: the file names and contents
//! that `paddock build` writes and init's updater renames. The names make
//! systemd-boot's own ordering do the A/B choice and the rollback:
//!
//! `loader/entries/paddock-<generation>-<slot>[+<left>[-<done>]].conf`,
//! the generation zero-padded to 8 digits.
//!
//! systemd-boot 252 (Debian 12's `systemd-boot-efi`, `config_entry_compare`
//! in src/boot/efi/boot.c) sorts entries with no tries left (`+0-N`) last,
//! then — with no `sort-key` in either entry — by id with
//! `-strverscmp_improved`, newest first; with no `default` in loader.conf
//! (and no `LoaderEntryDefault`/`LoaderEntryOneShot` EFI variable) it boots
//! the first entry of that order. Before booting an entry with a counter it
//! renames the file (`+2` → `+1-1` → `+0-2`). So: the highest generation
//! boots while it has tries; once they are used up the other slot's entry
//! (no counter: "good") is first again. Marking good = renaming the counter
//! away. Older systemd-boot (< 251) sorted ascending, bad first, and booted
//! the last entry: the same choice.

use serde::Serialize;

pub use crate::slot::Slot;
pub use crate::update::EntryState;
use crate::verity::VerityParams;

/// Directory of the entries, relative to the ESP's root.
pub const ENTRIES_DIR: &str = "loader/entries";

/// `loader/loader.conf`: no `default`, so the entries' order decides.
pub const LOADER_CONF: &str = "timeout 0\nconsole-mode keep\neditor no\n";

/// One `paddock-*.conf` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub file: String,
    pub generation: u64,
    pub slot: Slot,
    /// `None`: no counter, the entry is good.
    pub tries_left: Option<u32>,
    pub tries_done: Option<u32>,
}

impl Entry {
    /// Good (no counter), on probation (tries left), bad (none left).
    pub fn state(&self) -> EntryState {
        match self.tries_left {
            None => EntryState::Good,
            Some(0) => EntryState::Bad,
            Some(_) => EntryState::Probation,
        }
    }

    /// The id without the counter: `paddock-00000003-b`.
    pub fn id(&self) -> String {
        entry_id(self.generation, self.slot)
    }

    /// Parses a file name; `None` for files that are not ours.
    pub fn parse(file: &str) -> Option<Entry> {
        let stem = file.strip_suffix(".conf")?;
        let rest = stem.strip_prefix("paddock-")?;
        let (id, counter) = match rest.split_once('+') {
            Some((id, c)) => (id, Some(c)),
            None => (rest, None),
        };
        let (generation, slot) = id.split_once('-')?;
        if generation.is_empty() || !generation.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let generation: u64 = generation.parse().ok()?;
        let mut chars = slot.chars();
        let slot = match (chars.next(), chars.next()) {
            (Some(c), None) => Slot::from_letter(c)?,
            _ => return None,
        };
        let (tries_left, tries_done) = match counter {
            None => (None, None),
            Some(c) => {
                let (left, done) = match c.split_once('-') {
                    Some((l, d)) => (l, Some(d.parse::<u32>().ok()?)),
                    None => (c, None),
                };
                (Some(left.parse::<u32>().ok()?), done)
            }
        };
        Some(Entry {
            file: file.to_string(),
            generation,
            slot,
            tries_left,
            tries_done,
        })
    }
}

/// `paddock-00000003-b`.
pub fn entry_id(generation: u64, slot: Slot) -> String {
    format!("paddock-{generation:08}-{slot}")
}

/// The file name of a new entry: with `tries`, on probation.
pub fn file_name(generation: u64, slot: Slot, tries: Option<u32>) -> String {
    match tries {
        Some(t) => format!("{}+{t}.conf", entry_id(generation, slot)),
        None => format!("{}.conf", entry_id(generation, slot)),
    }
}

/// Seconds from a kernel panic to the reboot. A slot whose kernel or init
/// cannot run must not hang there: the reboot counts the try, and with none
/// left systemd-boot boots the other slot.
pub const PANIC_REBOOT_SECS: u32 = 5;

/// The kernel command line of a slot (os/README.md, "Updates"); with
/// `verity`, stage 1 mounts the root through a dm-verity device.
pub fn kernel_cmdline(slot: Slot, root_partuuid: &str, verity: Option<&VerityParams>) -> String {
    let verity = verity
        .map(|v| format!(" {}", v.to_cmdline()))
        .unwrap_or_default();
    format!(
        "root=PARTUUID={root_partuuid}{verity} paddock.slot={slot} panic={PANIC_REBOOT_SECS} \
         console=tty0 console=ttyS0,115200"
    )
}

/// The longest version a loader entry's title takes.
pub const VERSION_MAX: usize = 64;

/// Checks a version before it goes into an entry's title: 1 to
/// [`VERSION_MAX`] of `A-Z a-z 0-9 . + _ ~ -`. Anything else (a newline
/// would start a new `options` line) is refused with the reason.
pub fn check_version(version: &str) -> Result<(), String> {
    if version.is_empty() || version.len() > VERSION_MAX {
        return Err(format!(
            "version {version:?}: expected 1 to {VERSION_MAX} characters"
        ));
    }
    match version
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || ".+_~-".contains(*c)))
    {
        Some(c) => Err(format!(
            "version {version:?}: {c:?} is not allowed (only A-Z a-z 0-9 . + _ ~ -)"
        )),
        None => Ok(()),
    }
}

/// The contents of a slot's entry: its kernel and initramfs on the ESP
/// (`/paddock/<slot>/…`) and its root partition.
pub fn contents(
    slot: Slot,
    generation: u64,
    root_partuuid: &str,
    version: &str,
    verity: Option<&VerityParams>,
) -> String {
    format!(
        "title paddock {version} (slot {slot})\n\
         version {generation}\n\
         linux /paddock/{slot}/vmlinuz\n\
         initrd /paddock/{slot}/initrd\n\
         options {}\n",
        kernel_cmdline(slot, root_partuuid, verity)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_cannot_add_lines_to_an_entry() {
        assert!(check_version("0.1.0+1767225600.0123456789ab").is_ok());
        for bad in [
            "",
            "v1\noptions init=/bin/sh",
            "v1 options",
            "v1\r",
            &"9".repeat(VERSION_MAX + 1),
        ] {
            assert!(check_version(bad).is_err(), "{bad:?} was accepted");
        }
        let err = check_version("v1\noptions x").unwrap_err();
        assert!(err.contains("'\\n' is not allowed"), "{err}");
    }
}
