//! The newest lines of a program's output, bounded by count, for init's
//! service logs, paddockd's container logs and the runner's `logs` request.
//! Every line has a sequence number (how many came before it), so a reader
//! that follows the ring asks for what came after the last line it saw and
//! learns how many it missed, instead of guessing from the lines' text.

use std::collections::VecDeque;

/// A bounded ring of lines (`String` or raw `Vec<u8>`), grown on demand: an
/// idle program's ring stays small.
#[derive(Debug, Clone)]
pub struct LineRing<T> {
    lines: VecDeque<T>,
    capacity: usize,
    /// Lines pushed since the ring was made.
    pushed: u64,
}

/// What a follower gets: the kept lines after its cursor.
#[derive(Debug, PartialEq, Eq)]
pub struct Since<T> {
    pub lines: Vec<T>,
    /// The cursor for the next call: the count of lines pushed so far.
    pub next: u64,
    /// Lines after the cursor that were dropped before this call.
    pub skipped: u64,
}

impl<T: Clone> LineRing<T> {
    /// A ring keeping at most `capacity` lines (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            lines: VecDeque::new(),
            capacity: capacity.max(1),
            pushed: 0,
        }
    }

    /// Adds the newest line, dropping the oldest when full.
    pub fn push(&mut self, line: T) {
        if self.lines.len() == self.capacity {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
        self.pushed += 1;
    }

    /// The cursor just after the newest line.
    pub fn next(&self) -> u64 {
        self.pushed
    }

    /// The newest `n` lines (all if `None`), oldest first.
    pub fn tail(&self, n: Option<usize>) -> impl Iterator<Item = &T> {
        let n = n.unwrap_or(self.lines.len()).min(self.lines.len());
        self.lines.iter().skip(self.lines.len() - n)
    }

    /// The kept lines that came after `cursor` (a `next` from before). A
    /// cursor from the future (another ring: its owner restarted) gets all
    /// kept lines.
    pub fn since(&self, cursor: u64) -> Since<T> {
        let first = self.pushed - self.lines.len() as u64;
        let cursor = if cursor > self.pushed { first } else { cursor };
        let start = usize::try_from(cursor.max(first) - first).unwrap_or(usize::MAX);
        Since {
            lines: self.lines.iter().skip(start).cloned().collect(),
            next: self.pushed,
            skipped: first.saturating_sub(cursor),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(r: &LineRing<String>, n: Option<usize>) -> Vec<String> {
        r.tail(n).cloned().collect()
    }

    #[test]
    fn keeps_the_newest() {
        let mut b = LineRing::new(3);
        for i in 0..5 {
            b.push(i.to_string());
        }
        assert_eq!(tail(&b, None), ["2", "3", "4"]);
        assert_eq!(tail(&b, Some(2)), ["3", "4"]);
        assert_eq!(tail(&b, Some(10)), ["2", "3", "4"]);
        assert_eq!(tail(&b, Some(0)), Vec::<String>::new());
        let mut one = LineRing::new(0);
        one.push(b"x".to_vec());
        one.push(b"y".to_vec());
        assert_eq!(one.tail(None).flatten().copied().collect::<Vec<u8>>(), b"y");
    }

    #[test]
    fn since_counts_what_it_returns_and_what_was_dropped() {
        let mut b = LineRing::new(3);
        assert_eq!(b.since(0).lines, Vec::<String>::new());
        b.push("a".to_string());
        b.push("a".to_string());
        let s = b.since(0);
        assert_eq!(
            (s.lines, s.next, s.skipped),
            (vec!["a".to_string(), "a".into()], 2, 0)
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
            (vec!["a".to_string(), "b".into(), "c".into()], 5, 2)
        );
        let s = b.since(4);
        assert_eq!((s.lines, s.next, s.skipped), (vec!["c".to_string()], 5, 0));
        // A cursor this ring never gave out: everything kept.
        let s = b.since(99);
        assert_eq!((s.lines.len(), s.next, s.skipped), (3, 5, 0));
    }
}
