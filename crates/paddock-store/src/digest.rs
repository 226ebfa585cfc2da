//! Content digests (`sha256:<hex>`): parsing, hashing and verification.
//!
//! Everything the store commits is named by its digest, so a digest string that
//! came from a registry is validated here before it becomes a file name.

use std::fmt;
use std::io::{self, Read, Write};

use sha2::{Digest as _, Sha256};

/// Errors about digests.
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    /// A digest string that is not `sha256:` followed by 64 lower-case hex digits.
    #[error("invalid digest {digest:?}: {reason}")]
    Invalid {
        digest: String,
        reason: &'static str,
    },
    /// Content whose hash differs from the digest that names it.
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    Mismatch {
        what: String,
        expected: Digest,
        actual: Digest,
    },
    /// Content whose length differs from its descriptor.
    #[error("size mismatch for {what}: expected {expected} bytes, got {actual}")]
    Size {
        what: String,
        expected: u64,
        actual: u64,
    },
}

/// A validated `sha256:<64 hex>` digest.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

impl Digest {
    /// Parses and validates a digest string; only sha256 is supported.
    pub fn parse(s: &str) -> Result<Self, DigestError> {
        let invalid = |reason| DigestError::Invalid {
            digest: s.to_string(),
            reason,
        };
        let hex = s
            .strip_prefix("sha256:")
            .ok_or_else(|| invalid("only sha256 digests are supported"))?;
        if hex.len() != 64 {
            return Err(invalid("expected 64 hex digits"));
        }
        if !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(invalid("expected lower-case hex digits"));
        }
        Ok(Self(s.to_string()))
    }

    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Self {
        let mut h = Hasher::default();
        h.update(data);
        h.finish()
    }

    /// The hex part, used as a file name.
    /// The sha256 digests named by the entries of `dir` (entries whose name
    /// is not a digest, such as temp files, are skipped).
    pub(crate) fn list_dir(dir: &std::path::Path) -> std::io::Result<Vec<Digest>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let name = entry?.file_name();
            if let Some(d) = name
                .to_str()
                .and_then(|n| Digest::parse(&format!("sha256:{n}")).ok())
            {
                out.push(d);
            }
        }
        Ok(out)
    }

    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks that `actual` equals `self`, naming `what` in the error.
    pub fn verify(&self, actual: &Digest, what: &str) -> Result<(), DigestError> {
        if self == actual {
            Ok(())
        } else {
            Err(DigestError::Mismatch {
                what: what.to_string(),
                expected: self.clone(),
                actual: actual.clone(),
            })
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Digest {
    type Error = DigestError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.0
    }
}

impl std::str::FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// An incremental sha256 that also counts bytes.
#[derive(Default, Clone)]
pub struct Hasher {
    sha: Sha256,
    len: u64,
}

impl Hasher {
    pub fn update(&mut self, data: &[u8]) {
        self.sha.update(data);
        self.len += data.len() as u64;
    }

    /// Bytes hashed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn finish(self) -> Digest {
        Digest(format!("sha256:{}", hex::encode(self.sha.finalize())))
    }
}

/// A reader that hashes everything read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Hasher::default(),
        }
    }

    /// Reads the rest of the stream (so the hash covers all of it) and
    /// returns the digest and the byte count.
    pub fn finish(mut self) -> io::Result<(Digest, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        let len = self.hasher.len();
        Ok((self.hasher.finish(), len))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// A writer that hashes everything written through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Hasher::default(),
        }
    }

    pub fn finish(self) -> (W, Digest, u64) {
        let len = self.hasher.len();
        (self.inner, self.hasher.finish(), len)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let d = Digest::of(b"");
        assert_eq!(
            d.as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(Digest::parse(d.as_str()).unwrap(), d);
        assert!(Digest::parse("sha512:abcd").is_err());
        assert!(Digest::parse("sha256:../../etc/passwd").is_err());
        assert!(Digest::parse(&d.as_str().to_uppercase()).is_err());
    }

    #[test]
    fn hashing_reader_covers_the_whole_stream() {
        let r = HashingReader::new(&b"hello world"[..]);
        let (d, n) = r.finish().unwrap();
        assert_eq!(n, 11);
        assert_eq!(d, Digest::of(b"hello world"));
    }
}
