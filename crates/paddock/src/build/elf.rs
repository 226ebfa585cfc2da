//! What an executable needs from the device: its ELF interpreter
//! (`PT_INTERP`, the dynamic loader) and the shared libraries it names
//! (`DT_NEEDED`), read with goblin. A static binary needs neither.

use std::path::Path;

/// The parts of an ELF file that decide what must ship beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfInfo {
    /// `e_machine`: libraries must match the binary's architecture.
    pub machine: u16,
    pub is_64: bool,
    /// The dynamic loader, e.g. `/lib64/ld-linux-x86-64.so.2`.
    pub interpreter: Option<String>,
    /// `DT_NEEDED` sonames, in file order.
    pub needed: Vec<String>,
    /// `DT_RUNPATH` and `DT_RPATH` directories.
    pub search: Vec<String>,
    /// Has `.debug_*` sections (a debug build; stripped on install).
    pub has_debug_info: bool,
}

impl ElfInfo {
    #[cfg(test)]
    pub fn is_static(&self) -> bool {
        self.interpreter.is_none() && self.needed.is_empty()
    }
}

/// Reads `path`; `Err` with a reason when it is not an ELF file.
pub fn read(path: &Path) -> Result<ElfInfo, String> {
    let data = std::fs::read(path).map_err(|e| e.to_string())?;
    if !data.starts_with(b"\x7fELF") {
        return Err("not an ELF file".into());
    }
    let elf = goblin::elf::Elf::parse(&data).map_err(|e| format!("bad ELF file: {e}"))?;
    let has_debug_info = elf.section_headers.iter().any(|s| {
        elf.shdr_strtab
            .get_at(s.sh_name)
            .is_some_and(|n| n.starts_with(".debug_"))
    });
    let mut search: Vec<String> = elf.runpaths.iter().map(|s| s.to_string()).collect();
    search.extend(elf.rpaths.iter().map(|s| s.to_string()));
    Ok(ElfInfo {
        machine: elf.header.e_machine,
        is_64: elf.is_64,
        interpreter: elf.interpreter.map(str::to_string),
        needed: elf.libraries.iter().map(|s| s.to_string()).collect(),
        search,
        has_debug_info,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busybox_static_is_static_and_ls_is_not() {
        if Path::new("/bin/busybox").exists() {
            assert!(read("/bin/busybox".as_ref()).unwrap().is_static());
        }
        let ls = read("/bin/ls".as_ref()).unwrap();
        assert!(!ls.is_static());
        assert!(ls.interpreter.as_deref().unwrap().contains("ld-linux"));
        assert!(ls.needed.iter().any(|n| n == "libc.so.6"), "{ls:?}");
        assert_eq!(
            read("/etc/hostname".as_ref()),
            Err("not an ELF file".into())
        );
    }
}
