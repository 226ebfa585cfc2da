//! Image references for oci-client, built from the parts paddock's own parser
//! found ([`paddock_wire::reference`]): oci-client's constructors do not touch
//! oci-spec's regex, which costs megabytes of heap (see that module).

use paddock_wire::reference::{ImageRef, DEFAULT_TAG};

/// The same reference for oci-client.
pub fn oci_reference(r: &ImageRef) -> oci_client::Reference {
    let (domain, path) = (r.domain().to_string(), r.path().to_string());
    let (tag, digest) = (r.tag().map(str::to_string), r.digest().map(str::to_string));
    match (tag, digest) {
        (Some(t), Some(d)) => oci_client::Reference::with_tag_and_digest(domain, path, t, d),
        (None, Some(d)) => oci_client::Reference::with_digest(domain, path, d),
        (Some(t), None) => oci_client::Reference::with_tag(domain, path, t),
        (None, None) => oci_client::Reference::with_tag(domain, path, DEFAULT_TAG.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H256: &str = "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

    #[test]
    fn to_oci_keeps_every_part() {
        let r = oci_reference(&ImageRef::parse("busybox").unwrap());
        assert_eq!(r.registry(), "docker.io");
        assert_eq!(r.resolve_registry(), "index.docker.io");
        assert_eq!(r.repository(), "library/busybox");
        assert_eq!(r.tag(), Some("latest"));
        assert_eq!(r.digest(), None);
        assert_eq!(r.whole(), "docker.io/library/busybox:latest");

        for s in [
            format!("127.0.0.1:5000/a/b@{H256}"),
            format!("127.0.0.1:5000/a/b:t@{H256}"),
            "[::1]:5000/a:1".to_string(),
            "localhost/x:y".to_string(),
        ] {
            let ours = ImageRef::parse(&s).unwrap();
            let oci = oci_reference(&ours);
            assert_eq!(oci.whole(), ours.to_string(), "{s}");
            assert_eq!(oci.registry(), ours.domain());
            assert_eq!(oci.repository(), ours.path());
            assert_eq!(oci.tag(), ours.tag());
            assert_eq!(oci.digest(), ours.digest());
        }
    }

    /// Where both accept a reference, oci-spec's regex parser and this one
    /// agree on every part.
    #[test]
    fn agrees_with_oci_spec() {
        for s in [
            "busybox",
            "busybox:1.36",
            "user/app:1",
            "index.docker.io/busybox",
            "docker.io/library/busybox:latest",
            "localhost:5000/x",
            "localhost/x:1",
            "test.com:5000",
            "test:5000/repo:tag",
            "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
            "b.gcr.io/test.example.com/my-app:test.example.com",
            "foo/foo_bar.com:8080",
            "a__b/c---d.e_f",
            &format!("test:5000/repo@{H256}"),
            &format!("test:5000/repo:tag@{H256}"),
        ] {
            let theirs: oci_client::Reference = s.parse().unwrap();
            let ours = oci_reference(&ImageRef::parse(s).unwrap());
            assert_eq!(ours, theirs, "{s}");
        }
        for s in ["has spaces", "x@sha256:zz", "A/b/C", "a..b", "x:", ""] {
            assert!(s.parse::<oci_client::Reference>().is_err(), "{s}");
            assert!(ImageRef::parse(s).is_err(), "{s}");
        }
    }
}
