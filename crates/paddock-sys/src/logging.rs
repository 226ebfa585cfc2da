//! Logging setup for paddock's daemons and tools: human-readable lines on
//! stderr (service logs go to init's ring buffer, files and the serial
//! console), colours only on a terminal, the filter from an environment
//! variable or a default.

use tracing_subscriber::EnvFilter;

/// How a program logs.
#[derive(Debug, Clone)]
pub struct Logging {
    filter: EnvFilter,
    target: bool,
}

impl Logging {
    /// The filter from `$env_var` (e.g. `PADDOCK_NTP_LOG`), or `default`
    /// (`info`, `info,russh=warn`, …) when it is unset or invalid.
    pub fn from_env(env_var: &str, default: &str) -> Self {
        let filter = EnvFilter::try_from_env(env_var).unwrap_or_else(|_| EnvFilter::new(default));
        Self {
            filter,
            target: false,
        }
    }

    /// An explicit filter (a `--log` flag).
    pub fn with_filter(filter: &str) -> Self {
        Self {
            filter: EnvFilter::new(filter),
            target: true,
        }
    }

    /// Prefix each line with the module it comes from.
    pub fn with_target(mut self, target: bool) -> Self {
        self.target = target;
        self
    }

    /// Installs the global subscriber.
    pub fn init(self) {
        tracing_subscriber::fmt()
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_env_filter(self.filter)
            .with_target(self.target)
            .with_writer(std::io::stderr)
            .init();
    }
}
