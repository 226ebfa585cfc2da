//! systemd-boot loader entries, one per slot, named so that systemd-boot's
//! own ordering does the A/B choice and the rollback:
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

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use serde::Serialize;

use super::error::UpdateError;
use super::slot::Slot;

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
    /// `good` (no counter), `probation` (tries left), `bad` (none left).
    pub fn state(&self) -> &'static str {
        match self.tries_left {
            None => "good",
            Some(0) => "bad",
            Some(_) => "probation",
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

/// The kernel command line of a slot (os/README.md, "Updates").
pub fn kernel_cmdline(slot: Slot, root_partuuid: &str) -> String {
    format!(
        "root=PARTUUID={root_partuuid} paddock.slot={slot} panic={PANIC_REBOOT_SECS} \
         console=tty0 console=ttyS0,115200"
    )
}

/// The contents of a slot's entry: its kernel and initramfs on the ESP
/// (`/paddock/<slot>/…`) and its root partition.
pub fn contents(slot: Slot, generation: u64, root_partuuid: &str, version: &str) -> String {
    format!(
        "title paddock {version} (slot {slot})\n\
         version {generation}\n\
         linux /paddock/{slot}/vmlinuz\n\
         initrd /paddock/{slot}/initrd\n\
         options {}\n",
        kernel_cmdline(slot, root_partuuid)
    )
}

/// Our entries in `esp`, in the order systemd-boot 252 boots them (first
/// = default).
pub fn list(esp: &Path) -> Result<Vec<Entry>, UpdateError> {
    let dir = esp.join(ENTRIES_DIR);
    let mut out = Vec::new();
    let read = std::fs::read_dir(&dir).map_err(UpdateError::io("reading", &dir))?;
    for e in read {
        let e = e.map_err(UpdateError::io("reading", &dir))?;
        if let Some(entry) = e.file_name().to_str().and_then(Entry::parse) {
            out.push(entry);
        }
    }
    out.sort_by(|a, b| {
        (a.tries_left == Some(0))
            .cmp(&(b.tries_left == Some(0)))
            .then(b.generation.cmp(&a.generation))
            .then(b.slot.letter().cmp(&a.slot.letter()))
            .then(b.tries_left.cmp(&a.tries_left))
    });
    Ok(out)
}

/// The highest generation on the ESP (0 when there is none).
pub fn max_generation(entries: &[Entry]) -> u64 {
    entries.iter().map(|e| e.generation).max().unwrap_or(0)
}

/// Removes every entry of `slot` (before its partition or boot files are
/// overwritten: a half-written slot must never be booted). Returns the
/// removed file names.
pub fn remove_slot(esp: &Path, slot: Slot) -> Result<Vec<String>, UpdateError> {
    let dir = esp.join(ENTRIES_DIR);
    let mut removed = Vec::new();
    for e in list(esp)?.into_iter().filter(|e| e.slot == slot) {
        let path = dir.join(&e.file);
        std::fs::remove_file(&path).map_err(UpdateError::io("removing", &path))?;
        removed.push(e.file);
    }
    if !removed.is_empty() {
        sync_dir(&dir)?;
    }
    Ok(removed)
}

/// Writes a new entry (temp file, fsync, rename, fsync the directory).
pub fn write(esp: &Path, file: &str, contents: &str) -> Result<Entry, UpdateError> {
    let entry = Entry::parse(file)
        .ok_or_else(|| UpdateError::BadRequest(format!("{file:?} is not an entry name")))?;
    let dir = esp.join(ENTRIES_DIR);
    std::fs::create_dir_all(&dir).map_err(UpdateError::io("creating", &dir))?;
    write_synced(&dir.join(file), contents.as_bytes())?;
    sync_dir(&dir)?;
    Ok(entry)
}

/// Renames `entry` to drop its counter: systemd-boot treats it as good.
pub fn mark_good(esp: &Path, entry: &Entry) -> Result<Entry, UpdateError> {
    let dir = esp.join(ENTRIES_DIR);
    let good = file_name(entry.generation, entry.slot, None);
    let from = dir.join(&entry.file);
    std::fs::rename(&from, dir.join(&good)).map_err(UpdateError::io("renaming", &from))?;
    sync_dir(&dir)?;
    Ok(Entry {
        file: good,
        tries_left: None,
        tries_done: None,
        ..entry.clone()
    })
}

/// Writes `data` to `path` through a temp file beside it, synced, renamed.
pub fn write_synced(path: &Path, data: &[u8]) -> Result<(), UpdateError> {
    let tmp = path.with_extension("tmp");
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(UpdateError::io("creating", &tmp))?;
    f.write_all(data)
        .map_err(UpdateError::io("writing", &tmp))?;
    f.sync_all().map_err(UpdateError::io("syncing", &tmp))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(UpdateError::io("renaming", &tmp))?;
    Ok(())
}

/// fsync of a directory, so renames and removals in it are on disk.
pub fn sync_dir(dir: &Path) -> Result<(), UpdateError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(UpdateError::io("syncing", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names() {
        let e = Entry::parse("paddock-00000003-b+1-2.conf").unwrap();
        assert_eq!(
            (e.generation, e.slot, e.tries_left, e.tries_done),
            (3, Slot::B, Some(1), Some(2))
        );
        assert_eq!(e.state(), "probation");
        assert_eq!(e.id(), "paddock-00000003-b");
        let e = Entry::parse("paddock-00000002-a.conf").unwrap();
        assert_eq!((e.tries_left, e.state()), (None, "good"));
        assert_eq!(
            Entry::parse("paddock-00000004-a+0-1.conf").unwrap().state(),
            "bad"
        );
        assert_eq!(
            Entry::parse("paddock-00000004-a+2.conf")
                .unwrap()
                .tries_left,
            Some(2)
        );
        for bad in [
            "paddock-a.conf",
            "paddock-1-c.conf",
            "paddock-x-a.conf",
            "paddock-1-a+.conf",
            "other-1-a.conf",
            "paddock-1-a.txt",
        ] {
            assert_eq!(Entry::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn cmdline_names_the_slot_and_reboots_on_panic() {
        assert_eq!(
            kernel_cmdline(Slot::B, "1234"),
            "root=PARTUUID=1234 paddock.slot=b panic=5 console=tty0 console=ttyS0,115200"
        );
        assert_eq!(
            Slot::from_cmdline(&kernel_cmdline(Slot::B, "1234")),
            Some(Slot::B)
        );
    }

    fn files(esp: &Path) -> Vec<String> {
        list(esp).unwrap().into_iter().map(|e| e.file).collect()
    }

    #[test]
    fn order_write_mark_remove() {
        let tmp = tempfile::tempdir().unwrap();
        let esp = tmp.path();
        write(esp, &file_name(2, Slot::A, None), "a").unwrap();
        write(esp, &file_name(1, Slot::B, None), "b").unwrap();
        std::fs::write(esp.join(ENTRIES_DIR).join("other.conf"), "x").unwrap();
        // The initial image: a first.
        assert_eq!(
            files(esp),
            ["paddock-00000002-a.conf", "paddock-00000001-b.conf"]
        );
        // An update of b: removed first, then a newer entry on probation.
        assert_eq!(
            remove_slot(esp, Slot::B).unwrap(),
            ["paddock-00000001-b.conf"]
        );
        let gen = max_generation(&list(esp).unwrap()) + 1;
        let name = file_name(gen, Slot::B, Some(1));
        assert_eq!(name, "paddock-00000003-b+1.conf");
        write(esp, &name, &contents(Slot::B, gen, "uuid", "v2")).unwrap();
        assert_eq!(
            files(esp),
            ["paddock-00000003-b+1.conf", "paddock-00000002-a.conf"]
        );
        // systemd-boot counted the try; no tries left: a boots again.
        let dir = esp.join(ENTRIES_DIR);
        std::fs::rename(dir.join(&name), dir.join("paddock-00000003-b+0-1.conf")).unwrap();
        assert_eq!(
            files(esp),
            ["paddock-00000002-a.conf", "paddock-00000003-b+0-1.conf"]
        );
        // Or it came up healthy and was marked good.
        std::fs::rename(
            dir.join("paddock-00000003-b+0-1.conf"),
            dir.join("paddock-00000003-b+1-1.conf"),
        )
        .unwrap();
        let probation = list(esp).unwrap()[0].clone();
        let good = mark_good(esp, &probation).unwrap();
        assert_eq!(good.file, "paddock-00000003-b.conf");
        assert_eq!(
            files(esp),
            ["paddock-00000003-b.conf", "paddock-00000002-a.conf"]
        );
        let text = std::fs::read_to_string(dir.join(&good.file)).unwrap();
        assert!(
            text.contains("options root=PARTUUID=uuid paddock.slot=b "),
            "{text}"
        );
        assert!(text.contains("linux /paddock/b/vmlinuz\n"), "{text}");
    }
}
