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

use std::path::Path;

pub use paddock_wire::boot_entry::*;

use super::error::UpdateError;

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

/// Writes a new entry (paddock_sys's atomic write: temp file, fsync,
/// rename, fsync the directory).
pub fn write(esp: &Path, file: &str, contents: &str) -> Result<Entry, UpdateError> {
    let entry = Entry::parse(file)
        .ok_or_else(|| UpdateError::BadRequest(format!("{file:?} is not an entry name")))?;
    let dir = esp.join(ENTRIES_DIR);
    std::fs::create_dir_all(&dir).map_err(UpdateError::io("creating", &dir))?;
    // An entry write cut short by a power cut left its temp file here.
    let _ = paddock_sys::fs::clean_stale_temps(&dir);
    let path = dir.join(file);
    paddock_sys::fs::write_atomic(&path, contents.as_bytes(), paddock_sys::fs::PUBLIC)
        .map_err(UpdateError::io("writing", &path))?;
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

/// fsync of a directory, so renames and removals in it are on disk.
pub fn sync_dir(dir: &Path) -> Result<(), UpdateError> {
    paddock_sys::fs::fsync_dir(dir).map_err(UpdateError::io("syncing", dir))
}

/// Whether `slot`'s newest entry is good (no boot counter): what the
/// anti-rollback floor takes the running root's generation from.
pub fn newest_is_good(list: &[Entry], slot: Slot) -> bool {
    list.iter()
        .filter(|e| e.slot == slot)
        .max_by_key(|e| e.generation)
        .is_some_and(|e| e.tries_left.is_none())
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
        assert_eq!(e.state(), EntryState::Probation);
        assert_eq!(e.id(), "paddock-00000003-b");
        let e = Entry::parse("paddock-00000002-a.conf").unwrap();
        assert_eq!((e.tries_left, e.state()), (None, EntryState::Good));
        assert_eq!(
            Entry::parse("paddock-00000004-a+0-1.conf").unwrap().state(),
            EntryState::Bad
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
            kernel_cmdline(Slot::B, "1234", None),
            "root=PARTUUID=1234 paddock.slot=b panic=5 console=tty0 console=ttyS0,115200"
        );
        assert_eq!(
            Slot::from_cmdline(&kernel_cmdline(Slot::B, "1234", None)),
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
        write(esp, &name, &contents(Slot::B, gen, "uuid", "v2", None)).unwrap();
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
