//! Where and when a result was made: the host name and the UTC
//! timestamps result files and their names carry. One home for both, so
//! `run`, the criterion import and the bench session agree.

use std::time::SystemTime;

/// This machine's host name, as result files record it
/// ("unknown-host" when the kernel gives none).
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

/// `t` as a UTC timestamp to the second (jiff does the calendar).
fn utc(t: SystemTime) -> jiff::Timestamp {
    let ts = jiff::Timestamp::try_from(t).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    jiff::Timestamp::from_second(ts.as_second()).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// "2026-11-24T20:30:00Z" (RFC 3339, UTC, whole seconds).
pub fn rfc3339(t: SystemTime) -> String {
    utc(t).strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// "20261124T203000Z": the same instant for file names.
pub fn compact_utc(t: SystemTime) -> String {
    utc(t).strftime("%Y%m%dT%H%M%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn utc_formatting() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_552_200_750); // 2026-11-24T20:30:00.75Z
        assert_eq!(rfc3339(t), "2026-11-24T20:30:00Z");
        assert_eq!(compact_utc(t), "20261124T203000Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
    }

    #[test]
    fn hostname_is_the_kernels() {
        let want = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        let want = match want.trim() {
            "" => "unknown-host",
            h => h,
        };
        assert_eq!(hostname(), want);
    }
}
