//! A service's recent output: the newest lines, bounded, kept across
//! restarts so a crash loop's last words can still be read.

use std::collections::VecDeque;

#[derive(Debug)]
pub struct LogBuffer {
    lines: VecDeque<String>,
    max_lines: usize,
}

/// Longer lines are cut (a program printing without newlines must not grow
/// the buffer without bound).
pub const MAX_LINE: usize = 4096;

impl LogBuffer {
    pub fn new(max_lines: usize) -> Self {
        Self {
            lines: VecDeque::new(),
            max_lines: max_lines.max(1),
        }
    }

    pub fn push(&mut self, line: String) {
        if self.lines.len() == self.max_lines {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
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
}
