//! A seccomp profile with the effect of docker's default profile
//! (moby `profiles/seccomp/default.json`).
//!
//! Docker's profile is an allow list. This one allows by default and
//! returns EPERM for exactly the system calls docker's list leaves out, with
//! docker's capability-gated exceptions: the same calls are refused as long
//! as the kernel has no system call that neither list knows. We do not use
//! an allow list because the clone rule needs `SCMP_CMP_MASKED_EQ` with a
//! zero datum, and youki's libcontainer reads `value`/`valueTwo` of that
//! operator the other way round from runc; the rules below are written so
//! that both readings agree (`value == valueTwo`).
//!
//! Differences from docker: `personality(0xffffffff)` (query) is refused
//! with the other non-default personalities, because "all but five values"
//! cannot be written as a deny list of single comparisons.

use oci_spec::runtime::{
    Arch, Capability, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder,
    LinuxSeccompBuilder, LinuxSeccompOperator, LinuxSyscall, LinuxSyscallBuilder,
};

use super::SpecError;

/// Refused unless a capability below allows them: system calls outside
/// docker's allow list.
const DENIED: &[&str] = &[
    "_sysctl",
    "acct",
    "add_key",
    "afs_syscall",
    "bdflush",
    "bpf",
    "break",
    "chroot",
    "clock_settime",
    "clock_settime64",
    "create_module",
    "delete_module",
    "fanotify_init",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "ftime",
    "get_kernel_syms",
    "get_mempolicy",
    "getpmsg",
    "gtty",
    "idle",
    "init_module",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lock",
    "lookup_dcookie",
    "mbind",
    "migrate_pages",
    "mount",
    "mount_setattr",
    "move_mount",
    "move_pages",
    "mpx",
    "nfsservctl",
    "nice",
    "oldfstat",
    "oldlstat",
    "oldolduname",
    "oldstat",
    "olduname",
    "open_by_handle_at",
    "open_tree",
    "perf_event_open",
    "pidfd_getfd",
    "pivot_root",
    "process_madvise",
    "prof",
    "profil",
    "putpmsg",
    "query_module",
    "quotactl",
    "quotactl_fd",
    "readdir",
    "reboot",
    "request_key",
    "security",
    "set_mempolicy",
    "set_mempolicy_home_node",
    "setdomainname",
    "sethostname",
    "setns",
    "settimeofday",
    "sgetmask",
    "sigaction",
    "signal",
    "sigpending",
    "sigsuspend",
    "ssetmask",
    "stime",
    "stty",
    "swapoff",
    "swapon",
    "sysfs",
    "syslog",
    "tuxcall",
    "ulimit",
    "umount",
    "umount2",
    "unshare",
    "uselib",
    "userfaultfd",
    "ustat",
    "vhangup",
    "vm86",
    "vm86old",
    "vserver",
];

/// System calls a capability makes available again (docker's `includes.caps`).
const ALLOWED_BY_CAPABILITY: &[(Capability, &[&str])] = &[
    (Capability::DacReadSearch, &["open_by_handle_at"]),
    (
        Capability::SysAdmin,
        &[
            "bpf",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "mount",
            "mount_setattr",
            "move_mount",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ],
    ),
    (Capability::SysBoot, &["reboot"]),
    (Capability::SysChroot, &["chroot"]),
    (
        Capability::SysModule,
        &["delete_module", "init_module", "finit_module"],
    ),
    (Capability::SysPacct, &["acct"]),
    (
        Capability::SysPtrace,
        &["kcmp", "pidfd_getfd", "process_madvise"],
    ),
    (Capability::SysRawio, &["iopl", "ioperm"]),
    (
        Capability::SysTime,
        &["settimeofday", "stime", "clock_settime", "clock_settime64"],
    ),
    (Capability::SysTtyConfig, &["vhangup"]),
    (
        Capability::SysNice,
        &[
            "get_mempolicy",
            "mbind",
            "set_mempolicy",
            "set_mempolicy_home_node",
        ],
    ),
    (Capability::Syslog, &["syslog"]),
    (Capability::Bpf, &["bpf"]),
    (Capability::Perfmon, &["perf_event_open"]),
];

/// The namespace flags of clone(2): creating namespaces needs CAP_SYS_ADMIN.
const CLONE_NAMESPACE_FLAGS: [u64; 7] = [
    0x0002_0000, // CLONE_NEWNS
    0x0200_0000, // CLONE_NEWCGROUP
    0x0400_0000, // CLONE_NEWUTS
    0x0800_0000, // CLONE_NEWIPC
    0x1000_0000, // CLONE_NEWUSER
    0x2000_0000, // CLONE_NEWPID
    0x4000_0000, // CLONE_NEWNET
];

/// Personality bits above the execution domain (ADDR_NO_RANDOMIZE and up)
/// and below them the domain values other than PER_LINUX and PER_LINUX32:
/// docker allows only 0, 8, 0x20000 (UNAME26), 0x20008 and 0xffffffff.
const PERSONALITY_DENIED_BITS: [u64; 17] = [
    0x0000_0001,
    0x0000_0002,
    0x0000_0004,
    0x0000_0010,
    0x0000_0020,
    0x0000_0040,
    0x0000_0080,
    0x0004_0000,
    0x0008_0000,
    0x0010_0000,
    0x0020_0000,
    0x0040_0000,
    0x0080_0000,
    0x0100_0000,
    0x0200_0000,
    0x0400_0000,
    0x0800_0000,
];

const EPERM: u32 = libc::EPERM as u32;
const ENOSYS: u32 = libc::ENOSYS as u32;
/// The socket family docker refuses (`socket(AF_VSOCK, …)`).
const AF_VSOCK: u64 = 40;

/// The architectures of this build and their 32-bit companions, as docker's
/// `archMap` lists them.
fn architectures() -> Vec<Arch> {
    if cfg!(target_arch = "aarch64") {
        vec![Arch::ScmpArchAarch64, Arch::ScmpArchArm]
    } else {
        vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]
    }
}

fn deny(names: Vec<String>, errno: u32) -> Result<LinuxSyscall, SpecError> {
    Ok(LinuxSyscallBuilder::default()
        .names(names)
        .action(LinuxSeccompAction::ScmpActErrno)
        .errno_ret(errno)
        .build()?)
}

/// Refuses `name` when argument `index` has all bits of `bits` set. Written
/// with `value == valueTwo` so either reading of MASKED_EQ means the same.
fn deny_when_bits(name: &str, index: usize, bits: u64) -> Result<LinuxSyscall, SpecError> {
    let arg = LinuxSeccompArgBuilder::default()
        .index(index)
        .value(bits)
        .value_two(bits)
        .op(LinuxSeccompOperator::ScmpCmpMaskedEq)
        .build()?;
    Ok(LinuxSyscallBuilder::default()
        .names(vec![name.to_string()])
        .action(LinuxSeccompAction::ScmpActErrno)
        .errno_ret(EPERM)
        .args(vec![arg])
        .build()?)
}

/// The profile for a container with capabilities `caps`.
pub(crate) fn profile(caps: &[Capability]) -> Result<LinuxSeccomp, SpecError> {
    let allowed: Vec<&str> = ALLOWED_BY_CAPABILITY
        .iter()
        .filter(|(cap, _)| caps.contains(cap))
        .flat_map(|(_, names)| names.iter().copied())
        .collect();
    let denied: Vec<String> = DENIED
        .iter()
        .filter(|name| !allowed.contains(name))
        .map(|s| s.to_string())
        .collect();
    let mut syscalls = vec![deny(denied, EPERM)?];
    if !caps.contains(&Capability::SysAdmin) {
        for flag in CLONE_NAMESPACE_FLAGS {
            syscalls.push(deny_when_bits("clone", 0, flag)?);
        }
        // clone3 passes its flags in memory, out of seccomp's reach: ENOSYS
        // makes libc fall back to clone, which the rules above check.
        syscalls.push(deny(vec!["clone3".to_string()], ENOSYS)?);
    }
    for bits in PERSONALITY_DENIED_BITS {
        syscalls.push(deny_when_bits("personality", 0, bits)?);
    }
    let vsock = LinuxSeccompArgBuilder::default()
        .index(0usize)
        .value(AF_VSOCK)
        .op(LinuxSeccompOperator::ScmpCmpEq)
        .build()?;
    syscalls.push(
        LinuxSyscallBuilder::default()
            .names(vec!["socket".to_string()])
            .action(LinuxSeccompAction::ScmpActErrno)
            .errno_ret(EPERM)
            .args(vec![vsock])
            .build()?,
    );
    Ok(LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActAllow)
        .architectures(architectures())
        .syscalls(syscalls)
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::security::DEFAULT_CAPABILITIES;

    fn denied_names(p: &LinuxSeccomp) -> Vec<String> {
        p.syscalls().as_ref().unwrap()[0].names().clone()
    }

    fn rules_for<'a>(p: &'a LinuxSeccomp, name: &str) -> Vec<&'a LinuxSyscall> {
        p.syscalls()
            .as_ref()
            .unwrap()
            .iter()
            .filter(|s| s.names().iter().any(|n| n == name))
            .collect()
    }

    #[test]
    fn default_capabilities_block_dockers_list() {
        let p = profile(&DEFAULT_CAPABILITIES).unwrap();
        assert_eq!(p.default_action(), LinuxSeccompAction::ScmpActAllow);
        let denied = denied_names(&p);
        for name in [
            "mount",
            "umount2",
            "unshare",
            "setns",
            "reboot",
            "keyctl",
            "bpf",
            "kexec_load",
            "init_module",
            "settimeofday",
            "clock_settime",
            "swapon",
            "pivot_root",
            "open_by_handle_at",
            "userfaultfd",
            "perf_event_open",
            "acct",
            "iopl",
            "sethostname",
        ] {
            assert!(denied.iter().any(|d| d == name), "{name} should be denied");
        }
        // Allowed by docker on kernels ≥ 4.8, and chroot through CAP_SYS_CHROOT.
        for name in [
            "ptrace",
            "process_vm_readv",
            "chroot",
            "clone",
            "personality",
            "socket",
        ] {
            assert!(
                !denied.iter().any(|d| d == name),
                "{name} should not be denied outright"
            );
        }
        assert_eq!(p.syscalls().as_ref().unwrap()[0].errno_ret(), Some(EPERM));
    }

    #[test]
    fn clone_namespace_flags_need_sys_admin() {
        let p = profile(&DEFAULT_CAPABILITIES).unwrap();
        let clone = rules_for(&p, "clone");
        assert_eq!(clone.len(), 7);
        for rule in &clone {
            let arg = &rule.args().as_ref().unwrap()[0];
            assert_eq!(arg.op(), LinuxSeccompOperator::ScmpCmpMaskedEq);
            assert_eq!(Some(arg.value()), arg.value_two());
        }
        let clone3 = rules_for(&p, "clone3");
        assert_eq!(clone3[0].errno_ret(), Some(ENOSYS));

        let mut caps = DEFAULT_CAPABILITIES.to_vec();
        caps.push(Capability::SysAdmin);
        let p = profile(&caps).unwrap();
        assert!(rules_for(&p, "clone").is_empty());
        assert!(rules_for(&p, "clone3").is_empty());
        let denied = denied_names(&p);
        for name in ["mount", "umount2", "unshare", "setns", "sethostname"] {
            assert!(
                !denied.iter().any(|d| d == name),
                "{name} should be allowed with SYS_ADMIN"
            );
        }
        assert!(denied.iter().any(|d| d == "reboot"));
    }

    #[test]
    fn capabilities_unlock_their_calls() {
        let with = |cap: Capability| {
            let mut caps = DEFAULT_CAPABILITIES.to_vec();
            caps.push(cap);
            denied_names(&profile(&caps).unwrap())
        };
        assert!(!with(Capability::SysTime)
            .iter()
            .any(|d| d == "settimeofday"));
        assert!(!with(Capability::SysPtrace).iter().any(|d| d == "kcmp"));
        assert!(!with(Capability::SysBoot).iter().any(|d| d == "reboot"));
        assert!(!with(Capability::SysModule)
            .iter()
            .any(|d| d == "finit_module"));
        assert!(!with(Capability::SysNice).iter().any(|d| d == "mbind"));
        let without_chroot: Vec<_> = DEFAULT_CAPABILITIES
            .iter()
            .copied()
            .filter(|c| *c != Capability::SysChroot)
            .collect();
        assert!(denied_names(&profile(&without_chroot).unwrap())
            .iter()
            .any(|d| d == "chroot"));
    }

    #[test]
    fn personality_and_vsock() {
        let p = profile(&DEFAULT_CAPABILITIES).unwrap();
        let personality = rules_for(&p, "personality");
        let bits: Vec<u64> = personality
            .iter()
            .map(|r| r.args().as_ref().unwrap()[0].value())
            .collect();
        // None of the allowed values 0, 8, 0x20000, 0x20008 trips a rule.
        for allowed in [0u64, 8, 0x20000, 0x20008] {
            assert!(
                bits.iter().all(|b| allowed & b != *b),
                "{allowed:#x} would be refused"
            );
        }
        // ADDR_NO_RANDOMIZE and READ_IMPLIES_EXEC are refused.
        assert!(bits.contains(&0x0004_0000));
        assert!(bits.contains(&0x0040_0000));
        let socket = rules_for(&p, "socket");
        assert_eq!(socket[0].args().as_ref().unwrap()[0].value(), AF_VSOCK);
    }

    #[test]
    fn architectures_of_this_build() {
        let p = profile(&[]).unwrap();
        let arches = p.architectures().as_ref().unwrap();
        if cfg!(target_arch = "x86_64") {
            assert_eq!(
                arches,
                &vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]
            );
        }
    }
}
