//! Image references, `[domain[:port]/]path[:tag][@digest]`, parsed by hand
//! with docker's grammar and normalisation (distribution/reference).
//!
//! oci-spec's parser (also behind `oci_client::Reference::from_str`)
//! compiles a Unicode regex on first use that costs ~17 MB of heap while
//! compiling and keeps ~5 MB for the life of the process; paddock parses
//! here, and the store builds `oci_client::Reference` from the parts
//! (`paddock_store::oci_reference`).

use std::fmt;
use std::str::FromStr;

/// The registry of references that name none.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// Docker Hub's old name, normalised to [`DEFAULT_DOMAIN`].
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// Namespace of Docker Hub's single-component ("official") names.
const OFFICIAL_NAMESPACE: &str = "library";
/// The tag of references that name neither a tag nor a digest.
pub const DEFAULT_TAG: &str = "latest";
/// Longest `domain/path` docker accepts, after normalisation.
const NAME_MAX: usize = 255;
/// Longest tag.
const TAG_MAX: usize = 128;

/// Why a string is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("invalid image reference {reference:?}: it is empty")]
    Empty { reference: String },
    #[error(
        "invalid image reference {reference:?}: a 64-digit hex string is an image id, not a \
         repository name"
    )]
    HexId { reference: String },
    #[error("invalid image reference {reference:?}: registry {domain:?}: {reason}")]
    Domain {
        reference: String,
        domain: String,
        reason: &'static str,
    },
    #[error("invalid image reference {reference:?}: repository name {path:?}: {reason}")]
    Path {
        reference: String,
        path: String,
        reason: &'static str,
    },
    #[error("invalid image reference {reference:?}: name {name:?} is {len} characters, more than {NAME_MAX}")]
    TooLong {
        reference: String,
        name: String,
        len: usize,
    },
    #[error("invalid image reference {reference:?}: tag {tag:?}: {reason}")]
    Tag {
        reference: String,
        tag: String,
        reason: &'static str,
    },
    #[error("invalid image reference {reference:?}: digest {digest:?}: {reason}")]
    Digest {
        reference: String,
        digest: String,
        reason: &'static str,
    },
}

/// A parsed, normalised image reference. There is always a tag or a digest
/// (or both): a reference naming neither gets [`DEFAULT_TAG`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl ImageRef {
    /// Parses `s` the way `docker pull` does: `busybox` →
    /// `docker.io/library/busybox:latest`, `index.docker.io/x/y` →
    /// `docker.io/x/y:latest`, `localhost:5000/x@sha256:…` kept.
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        let reference = || s.to_string();
        if s.is_empty() {
            return Err(ReferenceError::Empty {
                reference: reference(),
            });
        }
        if s.len() == 64 && s.bytes().all(is_lower_hex) {
            return Err(ReferenceError::HexId {
                reference: reference(),
            });
        }
        let (rest, digest) = match s.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest)),
            None => (s, None),
        };
        // A `:` after the last `/` starts the tag; one before it is a port.
        let last_slash = rest.rfind('/');
        let (name, tag) = match rest.rfind(':') {
            Some(colon) if last_slash.is_none_or(|slash| colon > slash) => {
                (&rest[..colon], Some(&rest[colon + 1..]))
            }
            _ => (rest, None),
        };

        let (domain, path) = split_domain(name);
        let domain = match domain {
            Some(d) => {
                check_domain(d).map_err(|reason| ReferenceError::Domain {
                    reference: reference(),
                    domain: d.to_string(),
                    reason,
                })?;
                if d == LEGACY_DEFAULT_DOMAIN {
                    DEFAULT_DOMAIN
                } else {
                    d
                }
            }
            None => DEFAULT_DOMAIN,
        };
        check_path(path).map_err(|reason| ReferenceError::Path {
            reference: reference(),
            path: path.to_string(),
            reason,
        })?;
        let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
            format!("{OFFICIAL_NAMESPACE}/{path}")
        } else {
            path.to_string()
        };
        let full_len = domain.len() + 1 + path.len();
        if full_len > NAME_MAX {
            return Err(ReferenceError::TooLong {
                reference: reference(),
                name: format!("{domain}/{path}"),
                len: full_len,
            });
        }
        if let Some(t) = tag {
            check_tag(t).map_err(|reason| ReferenceError::Tag {
                reference: reference(),
                tag: t.to_string(),
                reason,
            })?;
        }
        if let Some(d) = digest {
            check_digest(d).map_err(|reason| ReferenceError::Digest {
                reference: reference(),
                digest: d.to_string(),
                reason,
            })?;
        }
        let tag = match (tag, digest) {
            (None, None) => Some(DEFAULT_TAG.to_string()),
            (t, _) => t.map(str::to_string),
        };
        Ok(Self {
            domain: domain.to_string(),
            path,
            tag,
            digest: digest.map(str::to_string),
        })
    }

    /// The registry, e.g. `docker.io` or `127.0.0.1:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository within the registry, e.g. `library/busybox`.
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }
}

/// `domain/path[:tag][@digest]`, as `oci_client::Reference::whole` prints it.
impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl FromStr for ImageRef {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Docker's rule: the first of several components is a registry if it has
/// a `.` or a `:`, is `localhost`, or has upper case (which no repository
/// name may have).
fn split_domain(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

/// `host[:port]`: dot-separated labels of letters, digits and inner
/// hyphens, or a bracketed IPv6 address.
fn check_domain(domain: &str) -> Result<(), &'static str> {
    let (host, port) = if let Some(v6) = domain.strip_prefix('[') {
        let (addr, after) = v6
            .split_once(']')
            .ok_or("an IPv6 address needs a closing `]`")?;
        if addr.is_empty() || !addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return Err("an IPv6 address has only hex digits and `:` between `[` and `]`");
        }
        match after {
            "" => (None, None),
            _ => (
                None,
                Some(
                    after
                        .strip_prefix(':')
                        .ok_or("only `:port` may follow an IPv6 address")?,
                ),
            ),
        }
    } else {
        match domain.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(domain), None),
        }
    };
    if let Some(host) = host {
        for label in host.split('.') {
            let b = label.as_bytes();
            if b.is_empty() {
                return Err("empty host name label");
            }
            if !b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-') {
                return Err("a host name has only letters, digits, `-` and `.`");
            }
            if b[0] == b'-' || b[b.len() - 1] == b'-' {
                return Err("a host name label may not start or end with `-`");
            }
        }
    }
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err("the port must be a number");
        }
        if port.parse::<u16>().is_err() {
            return Err("the port must be at most 65535");
        }
    }
    Ok(())
}

/// `/`-separated components of lower-case letters and digits, joined
/// inside a component by `.`, `_`, `__` or a run of `-`.
fn check_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("it is empty");
    }
    for component in path.split('/') {
        check_component(component)?;
    }
    Ok(())
}

fn check_component(c: &str) -> Result<(), &'static str> {
    let b = c.as_bytes();
    if b.is_empty() {
        return Err("empty path component (two `/` in a row, or one at an end)");
    }
    if b.iter().any(u8::is_ascii_uppercase) {
        return Err("it must be lower case");
    }
    if !b
        .iter()
        .all(|&x| is_alnum(x) || matches!(x, b'.' | b'_' | b'-'))
    {
        return Err("it has only lower-case letters, digits, `.`, `_`, `-` and `/`");
    }
    let mut i = 0;
    loop {
        let start = i;
        while i < b.len() && is_alnum(b[i]) {
            i += 1;
        }
        if i == start {
            return Err("each component starts and ends with a letter or digit");
        }
        if i == b.len() {
            return Ok(());
        }
        let sep = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[sep..i];
        if !(matches!(sep, "." | "_" | "__") || sep.bytes().all(|x| x == b'-')) {
            return Err("letters and digits are separated by one `.`, one or two `_`, or `-`s");
        }
    }
}

/// `[\w][\w.-]{0,127}` with ASCII `\w`.
fn check_tag(tag: &str) -> Result<(), &'static str> {
    let b = tag.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    match b.first() {
        None => Err("it is empty"),
        Some(&c) if !word(c) => Err("it starts with a letter, digit or `_`"),
        _ if b.len() > TAG_MAX => Err("it is longer than 128 characters"),
        _ if !b.iter().all(|&c| word(c) || c == b'.' || c == b'-') => {
            Err("it has only letters, digits, `_`, `.` and `-`")
        }
        _ => Ok(()),
    }
}

/// `algorithm:hex` for the algorithms OCI registers, with their lengths.
fn check_digest(digest: &str) -> Result<(), &'static str> {
    let (algorithm, hex) = digest
        .split_once(':')
        .ok_or("it has the form `algorithm:hex`")?;
    let want = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err("unsupported algorithm (sha256, sha384 or sha512)"),
    };
    if !hex.bytes().all(is_lower_hex) {
        return Err("the hash has only lower-case hex digits");
    }
    if hex.len() != want {
        return Err("the hash has the wrong length for its algorithm");
    }
    Ok(())
}

fn is_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn is_lower_hex(c: u8) -> bool {
    c.is_ascii_digit() || (b'a'..=b'f').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H256: &str = "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

    fn parts(s: &str) -> (String, String, Option<String>, Option<String>) {
        let r = ImageRef::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        (
            r.domain().to_string(),
            r.path().to_string(),
            r.tag().map(str::to_string),
            r.digest().map(str::to_string),
        )
    }

    fn norm(s: &str) -> String {
        ImageRef::parse(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .to_string()
    }

    fn bad(s: &str) -> ReferenceError {
        match ImageRef::parse(s) {
            Ok(r) => panic!("{s:?} parsed as {r}"),
            Err(e) => e,
        }
    }

    #[test]
    fn docker_hub_normalisation() {
        assert_eq!(norm("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(norm("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(norm("user/app:1"), "docker.io/user/app:1");
        assert_eq!(
            norm("docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            norm("index.docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(norm("index.docker.io/u/a:t"), "docker.io/u/a:t");
        assert_eq!(
            norm("docker.io/library/busybox:latest"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(norm("a/b/c/d"), "docker.io/a/b/c/d:latest");
        assert_eq!(norm("opensuse/leap:15.3"), "docker.io/opensuse/leap:15.3");
    }

    #[test]
    fn domains_and_ports() {
        assert_eq!(
            parts("localhost:5000/x"),
            (
                "localhost:5000".into(),
                "x".into(),
                Some("latest".into()),
                None
            )
        );
        assert_eq!(
            parts("localhost/x:1"),
            ("localhost".into(), "x".into(), Some("1".into()), None)
        );
        assert_eq!(
            parts("127.0.0.1:5000/a/b:v2"),
            (
                "127.0.0.1:5000".into(),
                "a/b".into(),
                Some("v2".into()),
                None
            )
        );
        assert_eq!(
            parts("sub-dom1.foo.com/bar/baz/quux:some-long-tag"),
            (
                "sub-dom1.foo.com".into(),
                "bar/baz/quux".into(),
                Some("some-long-tag".into()),
                None
            )
        );
        assert_eq!(norm("test:5000/repo"), "test:5000/repo:latest");
        assert_eq!(
            norm("xn--n3h.com/img:xn--n3h.com"),
            "xn--n3h.com/img:xn--n3h.com"
        );
        assert_eq!(
            norm("b.gcr.io/test.example.com/my-app:test.example.com"),
            "b.gcr.io/test.example.com/my-app:test.example.com"
        );
        // Upper case in the first component makes it a registry, as in docker.
        assert_eq!(norm("Example.COM/app"), "Example.COM/app:latest");
        assert_eq!(norm("REG/app"), "REG/app:latest");
    }

    #[test]
    fn ipv6() {
        assert_eq!(
            parts("[::1]:5000/app:1"),
            ("[::1]:5000".into(), "app".into(), Some("1".into()), None)
        );
        assert_eq!(norm("[::1]/app"), "[::1]/app:latest");
        assert_eq!(
            norm("[2001:db8::2]:443/a/b"),
            "[2001:db8::2]:443/a/b:latest"
        );
        assert!(matches!(bad("[::1/app"), ReferenceError::Domain { .. }));
        assert!(matches!(bad("[]:5000/app"), ReferenceError::Domain { .. }));
        assert!(matches!(bad("[::g]/app"), ReferenceError::Domain { .. }));
        assert!(matches!(bad("[::1]x/app"), ReferenceError::Domain { .. }));
        assert!(matches!(bad("[::1]:/app"), ReferenceError::Domain { .. }));
        // Without a path the brackets are a (bad) repository name.
        assert!(matches!(bad("[::1]:5000"), ReferenceError::Path { .. }));
    }

    #[test]
    fn colon_without_slash_is_a_tag() {
        assert_eq!(norm("test.com:5000"), "docker.io/library/test.com:5000");
        assert_eq!(norm("test.com:tag"), "docker.io/library/test.com:tag");
        assert_eq!(norm("localhost:5000"), "docker.io/library/localhost:5000");
        assert_eq!(
            norm("foo/foo_bar.com:8080"),
            "docker.io/foo/foo_bar.com:8080"
        );
        assert_eq!(
            norm("lowercase:Uppercase"),
            "docker.io/library/lowercase:Uppercase"
        );
    }

    #[test]
    fn digests() {
        assert_eq!(
            parts(&format!("test:5000/repo@{H256}")),
            ("test:5000".into(), "repo".into(), None, Some(H256.into()))
        );
        assert_eq!(
            norm(&format!("busybox@{H256}")),
            format!("docker.io/library/busybox@{H256}")
        );
        let h512 = format!("sha512:{}", "0".repeat(128));
        assert_eq!(norm(&format!("a.b/c@{h512}")), format!("a.b/c@{h512}"));
        let h384 = format!("sha384:{}", "a".repeat(96));
        assert_eq!(norm(&format!("a.b/c@{h384}")), format!("a.b/c@{h384}"));
        for d in [
            "sha256:zz",
            "sha256:",
            "sha256",
            "",
            "md5:d41d8cd98f00b204e9800998ecf8427e",
            "sha256:FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
            "sha256:fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            "sha512:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        ] {
            assert!(
                matches!(bad(&format!("x@{d}")), ReferenceError::Digest { .. }),
                "{d}"
            );
        }
        assert!(matches!(
            bad(&format!("x@{H256}@{H256}")),
            ReferenceError::Digest { .. }
        ));
    }

    #[test]
    fn tag_and_digest() {
        let s = format!("test:5000/repo:tag@{H256}");
        assert_eq!(
            parts(&s),
            (
                "test:5000".into(),
                "repo".into(),
                Some("tag".into()),
                Some(H256.into())
            )
        );
        assert_eq!(norm(&s), s);
        assert_eq!(
            norm(&format!("busybox:1@{H256}")),
            format!("docker.io/library/busybox:1@{H256}")
        );
    }

    #[test]
    fn path_components() {
        for ok in [
            "a",
            "a0",
            "a.b",
            "a_b",
            "a__b",
            "a-b",
            "a---b",
            "a.b_c__d-e",
            "0",
            "a/b.c/d_e",
        ] {
            ImageRef::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for no in [
            "a..b",
            "a___b",
            "a._b",
            "a-.b",
            ".a",
            "a.",
            "-a",
            "a-",
            "_a",
            "a_",
            "a//b",
            "a/",
            "/a",
            "a b",
            "has spaces",
            "a+b",
            "é",
            "a/b!",
        ] {
            assert!(
                matches!(bad(no), ReferenceError::Path { .. }),
                "{no}: {:?}",
                ImageRef::parse(no)
            );
        }
        let e = bad("library/BusyBox");
        assert!(e.to_string().contains("must be lower case"), "{e}");
        assert!(matches!(bad("Busybox"), ReferenceError::Path { .. }));
        assert!(matches!(
            bad("localhost:5000/App"),
            ReferenceError::Path { .. }
        ));
    }

    #[test]
    fn bad_domains() {
        for no in [
            "-a.com/x",
            "a-.com/x",
            "a..com/x",
            ".a.com/x",
            "a_b.com/x",
            "a.com:/x",
            "a.com:port/x",
            "a.com:99999/x",
            "a.com:1:2/x",
            "ex ample.com/x",
        ] {
            assert!(
                matches!(bad(no), ReferenceError::Domain { .. }),
                "{no}: {:?}",
                ImageRef::parse(no)
            );
        }
        assert!(matches!(bad("a.com/"), ReferenceError::Path { .. }));
        // Without a `/` there is no registry: `a.com` is a repository name.
        assert_eq!(norm("a.com"), "docker.io/library/a.com:latest");
    }

    #[test]
    fn tags() {
        let max = format!("x:{}", "t".repeat(128));
        ImageRef::parse(&max).unwrap();
        assert!(matches!(
            bad(&format!("x:{}", "t".repeat(129))),
            ReferenceError::Tag { .. }
        ));
        assert_eq!(norm("x:_a.B-9"), "docker.io/library/x:_a.B-9");
        for no in ["x:", "x:.a", "x:-a", "x:a+b", "x:tä", "x:a:b", "x:a/b"] {
            let e = bad(no);
            assert!(
                matches!(
                    e,
                    ReferenceError::Tag { .. }
                        | ReferenceError::Path { .. }
                        | ReferenceError::Domain { .. }
                ),
                "{no}: {e:?}"
            );
        }
        assert!(matches!(bad("x:.a"), ReferenceError::Tag { .. }));
        assert!(matches!(bad("x:tä"), ReferenceError::Tag { .. }));
    }

    #[test]
    fn empty_too_long_and_ids() {
        assert!(matches!(bad(""), ReferenceError::Empty { .. }));
        assert!(matches!(bad(":tag"), ReferenceError::Path { .. }));
        assert!(matches!(
            bad(&format!("@{H256}")),
            ReferenceError::Path { .. }
        ));
        let id = "f".repeat(64);
        assert!(matches!(bad(&id), ReferenceError::HexId { .. }));
        // 63 hex digits is just a name.
        ImageRef::parse(&"f".repeat(63)).unwrap();
        // `docker.io/library/` + 237 = 255: the limit counts the normalised name.
        ImageRef::parse(&"a".repeat(237)).unwrap();
        assert!(matches!(
            bad(&"a".repeat(238)),
            ReferenceError::TooLong { .. }
        ));
        ImageRef::parse(&format!("r.io/{}", "a".repeat(250))).unwrap();
        let long = format!("r.io/{}", "a".repeat(251));
        assert!(matches!(bad(&long), ReferenceError::TooLong { .. }));
    }

    #[test]
    fn errors_name_the_reference() {
        let e = bad("has spaces");
        assert_eq!(
            e.to_string(),
            "invalid image reference \"has spaces\": repository name \"has spaces\": it has \
             only lower-case letters, digits, `.`, `_`, `-` and `/`"
        );
        let e = bad("x@sha256:zz");
        assert!(e
            .to_string()
            .starts_with("invalid image reference \"x@sha256:zz\": digest"));
    }
}
