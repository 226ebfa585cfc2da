//! `POST /apply`: what re-reading the manifests did.

use serde::{Deserialize, Serialize};

/// Containers by what `apply` did to them (a list a paddockd does not send
/// reads as empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApplyReport {
    pub started: Vec<String>,
    pub recreated: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: Vec<String>,
    /// Running containers whose manifest now has an error: left as they are
    /// until the manifest is fixed.
    pub kept: Vec<String>,
    pub errors: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let r = ApplyReport {
            started: vec!["a".into()],
            kept: vec!["b".into()],
            errors: vec!["b.yaml:1:1: bad".into()],
            ..ApplyReport::default()
        };
        crate::round_trip(&r);
        let older: ApplyReport = serde_json::from_str(r#"{"started":["a"]}"#).unwrap();
        assert_eq!(older.started, ["a"]);
    }
}
