//! A minimal HTTP/1.1 client for black-box tests: one request per
//! connection (`Connection: close`), over TCP or a unix socket, the whole
//! answer read (Content-Length, chunked, or until the server closes).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

/// How long a test waits for an answer (a pull through a real registry
/// included).
const TIMEOUT: Duration = Duration::from_secs(120);

/// One request: method, path (with query), extra headers, body.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn new(method: &str, path: &str) -> Self {
        Self {
            method: method.to_string(),
            path: path.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// A JSON body (and its Content-Type).
    pub fn with_json(self, body: &Value) -> Self {
        let mut r = self.with_header("Content-Type", "application/json");
        r.body = body.to_string().into_bytes();
        r
    }

    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sends it on `stream` (with `Host: host`) and reads the whole answer.
    pub fn send_on(&self, stream: &mut (impl Read + Write), host: &str) -> std::io::Result<Reply> {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n",
            self.method, self.path
        );
        for (k, v) in &self.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len()));
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        // A server may answer (and close) before it reads the body, e.g.
        // an error decided from the head alone: read that answer.
        match stream.write_all(&bytes).and_then(|()| stream.flush()) {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                ) => {}
            other => other?,
        }
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        Reply::parse(&raw)
    }

    /// Over the unix socket `socket` (`Host: localhost`).
    pub fn unix(&self, socket: &Path) -> Reply {
        let what = format!("{} {} on {}", self.method, self.path, socket.display());
        let mut s = UnixStream::connect(socket).unwrap_or_else(|e| panic!("{what}: connect: {e}"));
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        self.send_on(&mut s, "localhost")
            .unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    /// Over TCP to `addr` (`Host: addr`).
    pub fn tcp(&self, addr: SocketAddr) -> Reply {
        let what = format!("{} {} on {addr}", self.method, self.path);
        let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{what}: connect: {e}"));
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        self.send_on(&mut s, &addr.to_string())
            .unwrap_or_else(|e| panic!("{what}: {e}"))
    }
}

/// An answer: status, headers (names lower-cased, in order) and body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

impl Reply {
    pub fn parse(raw: &[u8]) -> std::io::Result<Self> {
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| invalid(format!("no end of head in {} bytes", raw.len())))?;
        let head = String::from_utf8_lossy(&raw[..end]);
        let rest = &raw[end + 4..];
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid(format!("status line {status_line:?}")))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let mut reply = Self {
            status,
            headers,
            body: Vec::new(),
        };
        reply.body = if reply
            .header("transfer-encoding")
            .is_some_and(|te| te.eq_ignore_ascii_case("chunked"))
        {
            dechunk(rest)?
        } else if let Some(len) = reply.header("content-length") {
            let len: usize = len
                .parse()
                .map_err(|_| invalid(format!("content-length {len:?}")))?;
            rest.get(..len)
                .ok_or_else(|| invalid(format!("body of {} bytes, not {len}", rest.len())))?
                .to_vec()
        } else {
            rest.to_vec()
        };
        Ok(reply)
    }

    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The media type of the body: `Content-Type` without parameters,
    /// lower-cased.
    pub fn media_type(&self) -> Option<String> {
        self.header("content-type").map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; fails the test when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: the body is not JSON ({e}): {}",
                self.status,
                self.text()
            )
        })
    }
}

/// The body of a `Transfer-Encoding: chunked` answer.
fn dechunk(mut data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| invalid("chunk size line without end".into()))?;
        let line = String::from_utf8_lossy(&data[..eol]);
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| invalid(format!("chunk size {size_text:?}")))?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = data
            .get(..size)
            .ok_or_else(|| invalid(format!("chunk of {size} bytes cut short")))?;
        out.extend_from_slice(chunk);
        data = data.get(size + 2..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_length_chunked_and_closed_bodies() {
        let r = Reply::parse(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: 2\r\n\r\n{}junk",
        )
        .unwrap();
        assert_eq!((r.status, r.text()), (200, "{}".to_string()));
        assert_eq!(r.media_type().as_deref(), Some("application/json"));
        let r = Reply::parse(
            b"HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3;x=y\r\n:1}\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.status, 404);
        assert_eq!(r.json(), serde_json::json!({"a": 1}));
        let r = Reply::parse(b"HTTP/1.1 401 Unauthorized\r\n\r\nrest").unwrap();
        assert_eq!((r.status, r.text()), (401, "rest".to_string()));
        assert!(Reply::parse(b"HTTP/1.1 200 OK\r\n").is_err());
    }
}
