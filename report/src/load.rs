//! Reading and writing result files, with the checks every reader relies on.

use crate::schema::{ResultFile, OLDEST_SCHEMA_VERSION, SCHEMA_VERSION};
use anyhow::{bail, Context, Result};
use std::path::Path;

/// Reads one result file; refuses truncated files, non-result JSON and
/// other schema versions with a message naming the file.
pub fn read_result(path: &Path) -> Result<ResultFile> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_result(&text).with_context(|| format!("{} is not a usable result file", path.display()))
}

/// Parses result JSON text (see `read_result`).
pub fn parse_result(text: &str) -> Result<ResultFile> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
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
    let mut file: ResultFile =
        serde_json::from_value(value).context("fields do not match the result schema")?;
    file.upgrade();
    for e in &file.experiments {
        e.samples
            .validate()
            .map_err(|m| anyhow::anyhow!("experiment {}: {m}", e.id))?;
    }
    Ok(file)
}

/// Writes a result file atomically: a temporary file in the same directory,
/// fsync, then rename, so an interrupted write never leaves half a file.
pub fn write_result(path: &Path, file: &ResultFile) -> Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let name = path
        .file_name()
        .context("result path has no file name")?
        .to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    serde_json::to_writer(&mut f, file)?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot rename into {}", path.display()))?;
    Ok(())
}
