//! Records when paddockd was built: the clock floor paddockd trusts by default
//! (a device's clock before its own software was built is certainly wrong).
//! Honours SOURCE_DATE_EPOCH so builds stay reproducible.

use std::time::{SystemTime, UNIX_EPOCH};

fn main() {
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        });
    println!("cargo:rustc-env=PADDOCK_BUILD_EPOCH={epoch}");
}
