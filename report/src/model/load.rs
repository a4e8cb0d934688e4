//! Reading and writing result files, with the checks every reader relies on.

use crate::model::files;
use crate::model::schema::{ResultFile, OLDEST_SCHEMA_VERSION, SCHEMA_VERSION};
use anyhow::{bail, Context, Result};
use std::path::Path;

/// Reads one result file; refuses anything but a regular file under
/// `files::RESULT_CAP`, truncated files, non-result JSON, other schema
/// versions and impossible figures, with a message naming the file.
pub fn read_result(path: &Path) -> Result<ResultFile> {
    let text = files::read_text(path, files::RESULT_CAP)?;
    parse_result(&text).with_context(|| format!("{} is not a usable result file", path.display()))
}

/// Parses result JSON text (see `read_result`). Strings lose their
/// control characters (`untrusted::printable`) before anything reads them.
pub fn parse_result(text: &str) -> Result<ResultFile> {
    let mut value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        if e.is_eof() {
            anyhow::anyhow!("truncated JSON ({e})")
        } else {
            anyhow::anyhow!("invalid JSON ({e})")
        }
    })?;
    let Some(version) = value.get("schema_version") else {
        bail!("no schema_version: not an entrybench result file");
    };
    match version.as_u64() {
        Some(v) if (OLDEST_SCHEMA_VERSION as u64..=SCHEMA_VERSION as u64).contains(&v) => {}
        Some(v) => bail!(
            "schema version {v} is not supported (this entrybench reads versions {OLDEST_SCHEMA_VERSION} to {SCHEMA_VERSION})"
        ),
        None => bail!("schema_version is not a number"),
    }
    crate::model::untrusted::clean_json(&mut value);
    let mut file: ResultFile =
        serde_json::from_value(value).context("fields do not match the result schema")?;
    file.upgrade();
    crate::model::quiet::fill(&mut file);
    crate::model::validate::result_file(&file).map_err(|m| anyhow::anyhow!("{m}"))?;
    Ok(file)
}

/// Writes a result file atomically (`files::write_atomic`), so an
/// interrupted write never leaves half a file.
pub fn write_result(path: &Path, file: &ResultFile) -> Result<()> {
    let mut bytes = serde_json::to_vec(file).context("cannot serialize the result")?;
    bytes.push(b'\n');
    files::write_atomic(path, &bytes)
}
