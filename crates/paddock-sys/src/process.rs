//! Whether a process exists, for pids read from files (monitor status, temp
//! names) that may be stale.

/// Whether a process with this pid exists (signal 0 reaches it, or it exists
/// but belongs to someone else). Pids ≤ 0 name groups, not processes: false.
pub fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_group_pids_are_not() {
        assert!(pid_alive(std::process::id() as i32));
        assert!(!pid_alive(0));
        assert!(!pid_alive(-1));
    }

    #[test]
    fn a_reaped_child_is_gone() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        child.wait().unwrap();
        assert!(!pid_alive(pid));
    }
}
