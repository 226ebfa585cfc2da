//! Waiting for a trustworthy clock, as gokrazy's `WaitForClock`.
//!
//! A device without an RTC boots in 1970 (or 2000): TLS certificates look
//! invalid and timestamps are wrong until NTP has synced. The clock is trusted
//! once the NTP client's marker file exists or wall time is past a floor (by
//! default the time paddockd was built).

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::ClockConfig;
use crate::paths::Paths;

/// When paddockd was built (seconds since the epoch), from build.rs.
pub const BUILD_EPOCH: &str = env!("PADDOCK_BUILD_EPOCH");

/// Decides whether the clock can be trusted.
#[derive(Debug, Clone)]
pub struct ClockGate {
    marker: PathBuf,
    not_before: SystemTime,
    poll: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    #[error("clock.not_before {value:?} is not an RFC 3339 time: {source}")]
    BadFloor {
        value: String,
        source: chrono::ParseError,
    },
}

impl ClockGate {
    pub fn new(paths: &Paths, config: &ClockConfig) -> Result<Self, ClockError> {
        let marker = match &config.synced_marker {
            Some(p) => paths.root().join(p.strip_prefix("/").unwrap_or(p)),
            None => paths.clock_synced_marker(),
        };
        let not_before = match &config.not_before {
            Some(value) => {
                let t = chrono::DateTime::parse_from_rfc3339(value).map_err(|source| {
                    ClockError::BadFloor {
                        value: value.clone(),
                        source,
                    }
                })?;
                SystemTime::from(t)
            }
            None => UNIX_EPOCH + Duration::from_secs(BUILD_EPOCH.parse().unwrap_or(0)),
        };
        Ok(Self {
            marker,
            not_before,
            poll: config.poll_interval.0,
        })
    }

    /// Why the clock is trusted now, or `None`.
    pub fn trusted(&self) -> Option<&'static str> {
        if self.marker.exists() {
            Some("the clock-synced marker exists")
        } else if SystemTime::now() >= self.not_before {
            Some("wall time is past the floor")
        } else {
            None
        }
    }

    /// Returns once the clock is trusted.
    pub async fn wait(&self) -> &'static str {
        let mut logged = false;
        loop {
            if let Some(why) = self.trusted() {
                return why;
            }
            if !logged {
                tracing::info!(marker = %self.marker.display(), "waiting for the clock to be synced");
                logged = true;
            }
            tokio::time::sleep(self.poll).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn marker_releases_the_wait() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::new(dir.path());
        let config = ClockConfig {
            not_before: Some("2999-01-01T00:00:00Z".into()),
            poll_interval: crate::config::HumanDuration(Duration::from_millis(10)),
            ..ClockConfig::default()
        };
        let gate = ClockGate::new(&paths, &config).unwrap();
        assert_eq!(gate.trusted(), None);
        let marker = paths.clock_synced_marker();
        let waiter = tokio::spawn(async move { gate.wait().await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        std::fs::create_dir_all(marker.parent().unwrap()).unwrap();
        std::fs::write(&marker, b"").unwrap();
        let why = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(why, "the clock-synced marker exists");
    }

    #[test]
    fn a_past_floor_is_trusted_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let config = ClockConfig {
            not_before: Some("2001-01-01T00:00:00Z".into()),
            ..ClockConfig::default()
        };
        let gate = ClockGate::new(&Paths::new(dir.path()), &config).unwrap();
        assert_eq!(gate.trusted(), Some("wall time is past the floor"));
    }

    #[test]
    fn a_bad_floor_is_an_error() {
        let config = ClockConfig {
            not_before: Some("yesterday".into()),
            ..ClockConfig::default()
        };
        assert!(ClockGate::new(&Paths::new("/x"), &config).is_err());
    }
}
