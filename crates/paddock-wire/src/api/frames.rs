//! The framing of an exec session after the HTTP upgrade: both directions
//! carry `[kind: u8][length: u32 big-endian][payload]` frames, so stdout,
//! stderr, the exit code and window resizes share one connection.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest payload accepted; larger frames end the session.
const MAX_FRAME: u32 = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Stdin(Vec<u8>),
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    /// The process exited with this code (128+N for signal N).
    Exit(i32),
    /// The client's terminal changed size.
    Resize {
        rows: u16,
        cols: u16,
    },
    /// The client has no more input.
    StdinEof,
    /// The server could not run the command.
    Error(String),
}

impl Frame {
    fn encode(&self) -> (u8, Vec<u8>) {
        match self {
            Frame::Stdin(d) => (0, d.clone()),
            Frame::Stdout(d) => (1, d.clone()),
            Frame::Stderr(d) => (2, d.clone()),
            Frame::Exit(code) => (3, code.to_be_bytes().to_vec()),
            Frame::Resize { rows, cols } => {
                let mut v = rows.to_be_bytes().to_vec();
                v.extend_from_slice(&cols.to_be_bytes());
                (4, v)
            }
            Frame::StdinEof => (5, Vec::new()),
            Frame::Error(msg) => (6, msg.as_bytes().to_vec()),
        }
    }

    fn decode(kind: u8, payload: Vec<u8>) -> std::io::Result<Frame> {
        let bad =
            |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
        Ok(match kind {
            0 => Frame::Stdin(payload),
            1 => Frame::Stdout(payload),
            2 => Frame::Stderr(payload),
            3 => Frame::Exit(i32::from_be_bytes(
                payload
                    .try_into()
                    .map_err(|_| bad("exit frame of wrong length"))?,
            )),
            4 => {
                let b: [u8; 4] = payload
                    .try_into()
                    .map_err(|_| bad("resize frame of wrong length"))?;
                Frame::Resize {
                    rows: u16::from_be_bytes([b[0], b[1]]),
                    cols: u16::from_be_bytes([b[2], b[3]]),
                }
            }
            5 => Frame::StdinEof,
            6 => Frame::Error(String::from_utf8_lossy(&payload).into_owned()),
            _ => return Err(bad("unknown frame kind")),
        })
    }
}

/// Reads one frame; `None` at a clean end of stream.
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Option<Frame>> {
    let mut header = [0u8; 5];
    match r.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
    if len > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("frame of {len} bytes is too large"),
        ));
    }
    let mut payload = vec![0u8; len as usize];
    r.read_exact(&mut payload).await?;
    Frame::decode(header[0], payload).map(Some)
}

pub async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, frame: &Frame) -> std::io::Result<()> {
    let (kind, payload) = frame.encode();
    let len = u32::try_from(payload.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "frame too large"))?;
    let mut buf = Vec::with_capacity(5 + payload.len());
    buf.push(kind);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(&payload);
    w.write_all(&buf).await?;
    w.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip() {
        let frames = vec![
            Frame::Stdin(b"ls\n".to_vec()),
            Frame::Stdout(b"out".to_vec()),
            Frame::Stderr(Vec::new()),
            Frame::Exit(-3),
            Frame::Resize { rows: 24, cols: 80 },
            Frame::StdinEof,
            Frame::Error("no such container".into()),
        ];
        let mut buf = Vec::new();
        for f in &frames {
            write_frame(&mut buf, f).await.unwrap();
        }
        let mut r = buf.as_slice();
        for f in &frames {
            assert_eq!(read_frame(&mut r).await.unwrap().as_ref(), Some(f));
        }
        assert_eq!(read_frame(&mut r).await.unwrap(), None);
    }

    #[tokio::test]
    async fn oversized_and_unknown_frames_are_errors() {
        let mut r: &[u8] = &[1, 0xff, 0xff, 0xff, 0xff];
        assert!(read_frame(&mut r).await.is_err());
        let mut r: &[u8] = &[9, 0, 0, 0, 0];
        assert!(read_frame(&mut r).await.is_err());
    }
}
