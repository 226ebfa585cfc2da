//! `POST /images/pull` and `POST /images/remove`: the image they name. The
//! answers are the store's own records (`paddock_store::ImageRecord`,
//! `PruneReport`), which the CLI reads with the same types.

use serde::{Deserialize, Serialize};

/// `{"reference": "busybox:1.36"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRequest {
    pub reference: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let r = ImageRequest {
            reference: "localhost:5000/a/b:1".into(),
        };
        let text = crate::round_trip(&r);
        assert_eq!(text, r#"{"reference":"localhost:5000/a/b:1"}"#);
    }
}
