//! Path segments of paddockd's API: container names and image references
//! (which contain `/` and `:`) are percent-encoded by clients and decoded by
//! paddockd.

/// Decodes `%XX` escapes in a path segment (image references contain `/`
/// and `:`, which clients escape).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes a path segment (clients: names and references in URLs).
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_survive_encoding() {
        let r = "localhost:5000/demo/busybox:latest";
        assert_eq!(percent_decode(&percent_encode(r)), r);
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_encode("web-1.a_b~"), "web-1.a_b~");
        assert_eq!(percent_encode("a/../b c"), "a%2F..%2Fb%20c");
    }
}
