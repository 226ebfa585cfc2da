//! The last lines of each container's output, in memory, with live followers.
//!
//! The monitor writes the durable, size-rotated files; this buffer is what
//! `paddock logs` and the API serve, and it outlives container restarts so a
//! follower sees every run of a crash-looping container.

use std::sync::Mutex;

use paddock_sys::line_ring::LineRing;

use tokio::sync::broadcast;

/// Lines a `logs -f` reader may fall behind before it skips some.
const FOLLOW_BACKLOG: usize = 256;

/// A bounded ring of log lines plus a broadcast channel for `logs -f`.
#[derive(Debug)]
pub struct LogBuffer {
    lines: Mutex<LineRing<String>>,
    live: broadcast::Sender<String>,
}

impl LogBuffer {
    pub fn new(capacity: usize) -> Self {
        // Small and grown on demand: idle containers are the common case,
        // and each of them has a buffer (a slow follower is told what it
        // missed).
        let (live, _) = broadcast::channel(FOLLOW_BACKLOG);
        Self {
            lines: Mutex::new(LineRing::new(capacity)),
            live,
        }
    }

    pub fn push(&self, line: String) {
        // Sent while holding the lock, so that `tail_and_follow` never sees a
        // line both in its snapshot and on its receiver.
        if let Ok(mut lines) = self.lines.lock() {
            lines.push(line.clone());
            let _ = self.live.send(line);
        }
    }

    /// The last `n` lines (all when `n` is `None`), oldest first.
    pub fn tail(&self, n: Option<usize>) -> Vec<String> {
        let Ok(lines) = self.lines.lock() else {
            return Vec::new();
        };
        lines.tail(n).cloned().collect()
    }

    /// The last `n` lines and a receiver for every line after them, taken
    /// atomically so nothing is lost or repeated between the two.
    pub fn tail_and_follow(&self, n: Option<usize>) -> (Vec<String>, broadcast::Receiver<String>) {
        let guard = self.lines.lock();
        let rx = self.live.subscribe();
        let lines = match guard {
            Ok(lines) => lines.tail(n).cloned().collect(),
            Err(_) => Vec::new(),
        };
        (lines, rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_last_lines() {
        let b = LogBuffer::new(3);
        for i in 0..5 {
            b.push(format!("line {i}"));
        }
        assert_eq!(b.tail(None), ["line 2", "line 3", "line 4"]);
        assert_eq!(b.tail(Some(1)), ["line 4"]);
    }

    #[tokio::test]
    async fn followers_see_new_lines() {
        let b = LogBuffer::new(10);
        b.push("old".into());
        let (old, mut rx) = b.tail_and_follow(Some(5));
        assert_eq!(old, ["old"]);
        b.push("new".into());
        assert_eq!(rx.recv().await.unwrap(), "new");
    }
}
