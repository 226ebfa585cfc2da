//! Container output as log lines: splitting the byte stream into lines (at most
//! [`MAX_LINE`] bytes), stamping them `<time> <stream> <text>`, keeping the last
//! lines in memory for `logs` requests and appending them to size-rotated files.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::Utc;

/// Longer lines are split into pieces of this many bytes.
pub const MAX_LINE: usize = 16 * 1024;
/// The file being written; rotated ones get `.1`, `.2` … appended.
pub const CURRENT: &str = "current.log";

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("create log directory {}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("open {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("rotate {}", path.display())]
    Rotate {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Cuts a byte stream into lines.
#[derive(Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
    /// A full-length piece was just cut off: a newline right after it ends
    /// that line rather than starting an empty one.
    just_split: bool,
}

impl LineSplitter {
    /// Feeds bytes; returns the lines they complete (without line endings).
    pub fn feed(&mut self, mut bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut lines = Vec::new();
        while !bytes.is_empty() {
            let room = MAX_LINE - self.partial.len();
            match bytes.iter().take(room).position(|&b| b == b'\n') {
                Some(0) if self.just_split => {
                    self.just_split = false;
                    bytes = &bytes[1..];
                }
                Some(nl) => {
                    self.just_split = false;
                    self.partial.extend_from_slice(&bytes[..nl]);
                    lines.push(take_line(&mut self.partial));
                    bytes = &bytes[nl + 1..];
                }
                None => {
                    self.just_split = false;
                    let n = room.min(bytes.len());
                    self.partial.extend_from_slice(&bytes[..n]);
                    bytes = &bytes[n..];
                    if self.partial.len() == MAX_LINE {
                        lines.push(std::mem::take(&mut self.partial));
                        self.just_split = true;
                    }
                }
            }
        }
        lines
    }

    /// The unfinished last line, at the end of the stream.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        (!self.partial.is_empty()).then(|| take_line(&mut self.partial))
    }
}

fn take_line(buf: &mut Vec<u8>) -> Vec<u8> {
    let mut line = std::mem::take(buf);
    if line.last() == Some(&b'\r') {
        line.pop(); // a terminal's "\r\n"
    }
    line
}

/// Formats one log line, newline included.
pub fn format_line(stream: Stream, text: &[u8]) -> Vec<u8> {
    let stamp = Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    let mut line = Vec::with_capacity(stamp.len() + text.len() + 9);
    line.extend_from_slice(stamp.as_bytes());
    line.push(b' ');
    line.extend_from_slice(stream.name().as_bytes());
    line.push(b' ');
    line.extend_from_slice(text);
    line.push(b'\n');
    line
}

/// The last lines (each with its newline), bounded by count.
pub type Ring = paddock_sys::line_ring::LineRing<Vec<u8>>;

/// `current.log`, renamed to `current.log.1` (older ones shifted, the oldest
/// beyond `max_files` dropped) before a line would make it exceed `max_bytes`.
pub struct RotatingLog {
    dir: PathBuf,
    max_bytes: u64,
    max_files: u32,
    file: File,
    size: u64,
}

impl RotatingLog {
    pub fn open(dir: &Path, max_bytes: u64, max_files: u32) -> Result<Self, LogError> {
        std::fs::create_dir_all(dir).map_err(|source| LogError::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(CURRENT);
        let file = open_append(&path)?;
        let size = file
            .metadata()
            .map_err(|source| LogError::Open { path, source })?
            .len();
        Ok(Self {
            dir: dir.to_owned(),
            max_bytes,
            max_files: max_files.max(1),
            file,
            size,
        })
    }

    pub fn write_line(&mut self, line: &[u8]) -> Result<(), LogError> {
        let len = line.len() as u64;
        if self.size > 0 && self.size + len > self.max_bytes {
            self.rotate()?;
        }
        self.file
            .write_all(line)
            .map_err(|source| LogError::Write {
                path: self.dir.join(CURRENT),
                source,
            })?;
        self.size += len;
        Ok(())
    }

    fn rotate(&mut self) -> Result<(), LogError> {
        let current = self.dir.join(CURRENT);
        let numbered = |n: u32| self.dir.join(format!("{CURRENT}.{n}"));
        let rotate_err = |path: &Path, source| LogError::Rotate {
            path: path.to_owned(),
            source,
        };
        if self.max_files == 1 {
            remove_if_exists(&current).map_err(|e| rotate_err(&current, e))?;
        } else {
            let oldest = numbered(self.max_files - 1);
            remove_if_exists(&oldest).map_err(|e| rotate_err(&oldest, e))?;
            for n in (1..self.max_files - 1).rev() {
                let from = numbered(n);
                if from.exists() {
                    std::fs::rename(&from, numbered(n + 1)).map_err(|e| rotate_err(&from, e))?;
                }
            }
            std::fs::rename(&current, numbered(1)).map_err(|e| rotate_err(&current, e))?;
        }
        self.file = open_append(&current)?;
        self.size = 0;
        Ok(())
    }
}

fn open_append(path: &Path) -> Result<File, LogError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| LogError::Open {
            path: path.to_owned(),
            source,
        })
}

fn remove_if_exists(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

/// Where every line goes: the ring buffer and the files.
pub struct LogSink {
    pub ring: Ring,
    file: RotatingLog,
    failing: bool,
}

impl LogSink {
    pub fn new(ring: Ring, file: RotatingLog) -> Self {
        Self {
            ring,
            file,
            failing: false,
        }
    }

    /// Records one line of output and returns it formatted for followers.
    pub fn push(&mut self, stream: Stream, text: &[u8]) -> Vec<u8> {
        let line = format_line(stream, text);
        match self.file.write_line(&line) {
            Ok(()) => self.failing = false,
            Err(err) => {
                // Keep the container running and the ring filling; say so once.
                if !self.failing {
                    tracing::error!(error = %err, "cannot write container log");
                }
                self.failing = true;
            }
        }
        self.ring.push(line.clone());
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_across_reads_and_strips_cr() {
        let mut s = LineSplitter::default();
        assert_eq!(s.feed(b"hel"), Vec::<Vec<u8>>::new());
        assert_eq!(s.feed(b"lo\r\nwor"), vec![b"hello".to_vec()]);
        assert_eq!(s.feed(b"ld\n\n"), vec![b"world".to_vec(), b"".to_vec()]);
        assert_eq!(s.finish(), None);
        s.feed(b"tail");
        assert_eq!(s.finish(), Some(b"tail".to_vec()));
    }

    #[test]
    fn long_lines_are_split() {
        let mut s = LineSplitter::default();
        let mut input = vec![b'x'; MAX_LINE * 2 + 5];
        input.push(b'\n');
        let lines = s.feed(&input);
        assert_eq!(
            lines.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![MAX_LINE, MAX_LINE, 5]
        );
        let mut exact = vec![b'y'; MAX_LINE];
        exact.extend_from_slice(b"\nnext\n");
        assert_eq!(
            s.feed(&exact).iter().map(Vec::len).collect::<Vec<_>>(),
            vec![MAX_LINE, 4]
        );
    }

    #[test]
    fn rotation_keeps_max_files_of_max_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = RotatingLog::open(dir.path(), 100, 3).unwrap();
        for i in 0..100 {
            log.write_line(format!("line {i:04} ..........\n").as_bytes())
                .unwrap();
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["current.log", "current.log.1", "current.log.2"]);
        for name in &names {
            assert!(std::fs::metadata(dir.path().join(name)).unwrap().len() <= 100);
        }
        let current = std::fs::read_to_string(dir.path().join("current.log")).unwrap();
        assert!(current.ends_with("line 0099 ..........\n"));
        let older = std::fs::read_to_string(dir.path().join("current.log.1")).unwrap();
        assert!(older.lines().last().unwrap() < current.lines().next().unwrap());
    }

    #[test]
    fn format_has_time_stream_text() {
        let line = String::from_utf8(format_line(Stream::Stderr, b"hi there")).unwrap();
        let (stamp, rest) = line.split_once(' ').unwrap();
        assert_eq!(rest, "stderr hi there\n");
        assert!(chrono::DateTime::parse_from_rfc3339(stamp).is_ok());
        assert_eq!(stamp.len(), "2026-11-22T22:40:00.123456Z".len());
    }
}
