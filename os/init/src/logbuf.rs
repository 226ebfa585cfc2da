//! A service's recent output: the newest lines, bounded, kept across
//! restarts so a crash loop's last words can still be read. Every line has
//! a sequence number (how many came before it), so a reader that follows
//! the buffer asks for what came after the last line it saw and learns
//! how many it missed, instead of guessing from the lines' text.

use std::collections::VecDeque;

#[derive(Debug)]
pub struct LogBuffer {
    lines: VecDeque<String>,
    max_lines: usize,
    /// Lines pushed since the buffer was made.
    pushed: u64,
}

/// What a follower gets: the kept lines after its cursor.
#[derive(Debug, PartialEq, Eq)]
pub struct Since {
    pub lines: Vec<String>,
    /// The cursor for the next call: the count of lines pushed so far.
    pub next: u64,
    /// Lines after the cursor that were dropped before this call.
    pub skipped: u64,
}

/// Longer lines are cut (a program printing without newlines must not grow
/// the buffer without bound).
pub const MAX_LINE: usize = 4096;

impl LogBuffer {
    pub fn new(max_lines: usize) -> Self {
        Self {
            lines: VecDeque::new(),
            max_lines: max_lines.max(1),
            pushed: 0,
        }
    }

    pub fn push(&mut self, line: String) {
        if self.lines.len() == self.max_lines {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
        self.pushed += 1;
    }

    /// The cursor just after the newest line.
    pub fn next(&self) -> u64 {
        self.pushed
    }

    /// The kept lines that came after `cursor` (a `next` from before). A
    /// cursor from the future (another buffer: init restarted) gets all
    /// kept lines.
    pub fn since(&self, cursor: u64) -> Since {
        let first = self.pushed - self.lines.len() as u64;
        let cursor = if cursor > self.pushed { first } else { cursor };
        let start = usize::try_from(cursor.max(first) - first).unwrap_or(usize::MAX);
        Since {
            lines: self.lines.iter().skip(start).cloned().collect(),
            next: self.pushed,
            skipped: first.saturating_sub(cursor),
        }
    }

    /// The newest `n` lines (all if `None`), oldest first.
    pub fn tail(&self, n: Option<usize>) -> Vec<String> {
        let n = n.unwrap_or(self.lines.len()).min(self.lines.len());
        self.lines
            .iter()
            .skip(self.lines.len() - n)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest() {
        let mut b = LogBuffer::new(3);
        for i in 0..5 {
            b.push(i.to_string());
        }
        assert_eq!(b.tail(None), ["2", "3", "4"]);
        assert_eq!(b.tail(Some(2)), ["3", "4"]);
        assert_eq!(b.tail(Some(10)), ["2", "3", "4"]);
    }

    #[test]
    fn since_counts_what_it_returns_and_what_was_dropped() {
        let mut b = LogBuffer::new(3);
        assert_eq!(b.since(0).lines, Vec::<String>::new());
        b.push("a".into());
        b.push("a".into());
        let s = b.since(0);
        assert_eq!(
            (s.lines, s.next, s.skipped),
            (vec!["a".into(), "a".into()], 2, 0)
        );
        // Identical lines are still new lines.
        b.push("a".into());
        let s = b.since(2);
        assert_eq!((s.lines, s.next, s.skipped), (vec!["a".to_string()], 3, 0));
        assert_eq!(b.since(3).lines, Vec::<String>::new());
        // Two more: "a" (line 1) is dropped; a reader at 0 missed it.
        b.push("b".into());
        b.push("c".into());
        let s = b.since(0);
        assert_eq!(
            (s.lines, s.next, s.skipped),
            (vec!["a".into(), "b".into(), "c".into()], 5, 2)
        );
        let s = b.since(4);
        assert_eq!((s.lines, s.next, s.skipped), (vec!["c".to_string()], 5, 0));
        // A cursor this buffer never gave out: everything kept.
        let s = b.since(99);
        assert_eq!((s.lines.len(), s.next, s.skipped), (3, 5, 0));
    }
}
