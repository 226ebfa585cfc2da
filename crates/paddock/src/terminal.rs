//! The local terminal for `exec -t`: raw mode (restored on drop) and its
//! window size, by paddock_sys.

use std::os::fd::{AsFd, BorrowedFd};

/// Restores the terminal's settings when dropped.
pub struct RawMode(#[allow(dead_code)] paddock_sys::terminal::RawMode<'static>);

impl RawMode {
    /// Raw mode on stdin, if stdin is a terminal.
    pub fn enable() -> Option<Self> {
        // SAFETY: fd 0 is the process's stdin, open for as long as the
        // process runs (nothing here closes it), so borrowing it for
        // 'static is sound.
        let stdin = unsafe { BorrowedFd::borrow_raw(libc::STDIN_FILENO) };
        paddock_sys::terminal::RawMode::enter(stdin)
            .ok()
            .map(RawMode)
    }
}

/// The window size of the terminal on `fd`, as (rows, cols).
pub fn window_size(fd: BorrowedFd<'_>) -> Option<(u16, u16)> {
    let ws = paddock_sys::terminal::window_size(fd).ok()?;
    (ws.ws_row > 0).then_some((ws.ws_row, ws.ws_col))
}

pub fn is_terminal() -> bool {
    paddock_sys::terminal::is_terminal(std::io::stdin().as_fd())
}
