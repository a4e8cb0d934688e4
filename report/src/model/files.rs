//! Files a user names, read and written by the one set of rules every
//! command keeps (run, report, compare, size, detect, the criterion import,
//! the plots):
//!
//! - Inputs are regular files only, read up to a size cap: a device or a
//!   FIFO named by mistake would otherwise be read until memory runs out,
//!   or block forever.
//! - Outputs are checked before any work is done, and replaced atomically
//!   (a temporary file in the same directory, fsync, rename): never
//!   through a symbolic link and never over anything but a regular file,
//!   since `rename` over /dev/null replaces the device itself. A failed
//!   write leaves no temporary file behind, and every error names the file.

use anyhow::{bail, Context, Result};
use std::fs::{File, Metadata, OpenOptions, Permissions};
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Cap of a result file or a criterion JSON file: a full run's result
/// file is under 1 MiB.
pub const RESULT_CAP: u64 = 64 << 20;
/// Cap of a CPUID dump: the largest committed one (a 2-socket Genoa,
/// every logical CPU listed) is 2.6 MiB.
pub const DUMP_CAP: u64 = 64 << 20;
/// Cap of a workload profile: a few lines of TOML.
pub const PROFILE_CAP: u64 = 1 << 20;

/// What a non-regular file is, for messages.
fn kind(m: &Metadata) -> &'static str {
    let t = m.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// The whole of a regular file of at most `cap` bytes. The type is
/// checked before opening (opening some devices does something) and
/// again on the open file (the path may have changed in between).
pub fn read_regular(path: &Path, cap: u64) -> Result<Vec<u8>> {
    let shown = path.display();
    let before = std::fs::metadata(path).with_context(|| format!("cannot read {shown}"))?;
    if !before.is_file() {
        bail!(
            "cannot read {shown}: it is {}, not a regular file",
            kind(&before)
        );
    }
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
        .with_context(|| format!("cannot read {shown}"))?;
    let meta = f
        .metadata()
        .with_context(|| format!("cannot read {shown}"))?;
    if !meta.is_file() {
        bail!(
            "cannot read {shown}: it is {}, not a regular file",
            kind(&meta)
        );
    }
    let too_big = |n: u64| {
        anyhow::anyhow!(
            "cannot read {shown}: {n} bytes is more than the {} MiB such a file may have",
            cap >> 20
        )
    };
    if meta.len() > cap {
        return Err(too_big(meta.len()));
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    f.take(cap + 1)
        .read_to_end(&mut buf)
        .with_context(|| format!("cannot read {shown}"))?;
    if buf.len() as u64 > cap {
        return Err(too_big(buf.len() as u64));
    }
    Ok(buf)
}

/// `read_regular` as UTF-8 text; Err names the file.
pub fn read_text(path: &Path, cap: u64) -> Result<String> {
    String::from_utf8(read_regular(path, cap)?)
        .map_err(|_| anyhow::anyhow!("cannot read {}: it is not UTF-8 text", path.display()))
}

/// The directory a path's file lives in ("." for a bare name).
fn dir_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Err unless `path` is absent or a regular file (not followed if a link).
fn check_target(path: &Path) -> Result<()> {
    let shown = path.display();
    if path.file_name().is_none() {
        bail!("cannot write {shown}: it does not name a file");
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => bail!(
            "will not write {shown}: it is a symbolic link (entrybench never writes through one; name the file itself)"
        ),
        Ok(m) if !m.is_file() => bail!(
            "will not write {shown}: it is {}, and entrybench replaces only regular files",
            kind(&m)
        ),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot write {shown}")),
    }
}

/// A temporary file beside `path`, removed when dropped unless persisted;
/// created with the mode a plain create would give (0666 less the umask).
fn temp_beside(path: &Path) -> Result<tempfile::NamedTempFile> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(Permissions::from_mode(0o666))
        .tempfile_in(dir_of(path))
        .with_context(|| {
            format!(
                "cannot write {}: cannot create a file in {}",
                path.display(),
                dir_of(path).display()
            )
        })
}

/// Checks, before any work is done, that `write_atomic(path, ..)` can
/// succeed: the target is absent or a regular file (not a link, directory
/// or device), and its directory exists and takes a new file (tried for
/// real: access(2) says yes to root on a read-only mount).
pub fn check_output(path: &Path) -> Result<()> {
    check_target(path)?;
    let dir = dir_of(path);
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => bail!(
            "cannot write {}: {} is not a directory",
            path.display(),
            dir.display()
        ),
        Err(e) => {
            return Err(e).with_context(|| {
                format!(
                    "cannot write {}: no directory {}",
                    path.display(),
                    dir.display()
                )
            })
        }
    }
    drop(temp_beside(path)?);
    Ok(())
}

/// Replaces `path` with `bytes` atomically (see the module comment).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    check_target(path)?;
    let shown = path.display();
    let mut tmp = temp_beside(path)?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {shown}"))?;
    // The temporary file is removed when the error drops it.
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {shown}"))?;
    // The new directory entry too; some file systems cannot sync a
    // directory, which loses nothing already written.
    if let Ok(d) = File::open(dir_of(path)) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn writes_replace_regular_files_and_leave_no_temporary() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("r.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(names(d.path()), ["r.json"]);
        check_output(&p).unwrap();
        assert_eq!(names(d.path()), ["r.json"], "the probe is removed");
    }

    #[test]
    fn links_directories_and_missing_directories_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("target.json");
        std::fs::write(&target, "keep").unwrap();
        let link = d.path().join("link.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        for (p, want) in [
            (link.clone(), "symbolic link"),
            (d.path().to_path_buf(), "a directory"),
            (d.path().join("no/such/dir/r.json"), "no directory"),
            (target.join("x.json"), "ot a directory"),
        ] {
            let e = format!("{:#}", check_output(&p).unwrap_err());
            assert!(e.contains(want) && e.contains(&*p.to_string_lossy()), "{e}");
            let e = format!("{:#}", write_atomic(&p, b"x").unwrap_err());
            assert!(e.contains(&*p.to_string_lossy()), "{e}");
        }
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        assert_eq!(names(d.path()), ["link.json", "target.json"]);
    }

    #[test]
    fn reads_only_capped_regular_files() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, vec![b'x'; 2048]).unwrap();
        assert_eq!(read_regular(&p, 4096).unwrap().len(), 2048);
        let e = format!("{:#}", read_regular(&p, 1024).unwrap_err());
        assert!(
            e.contains("2048 bytes") && e.contains(&*p.to_string_lossy()),
            "{e}"
        );
        let e = format!(
            "{:#}",
            read_regular(Path::new("/dev/zero"), 1024).unwrap_err()
        );
        assert!(
            e.contains("/dev/zero") && e.contains("character device"),
            "{e}"
        );
        let e = format!("{:#}", read_regular(d.path(), 1024).unwrap_err());
        assert!(e.contains("a directory"), "{e}");
        let fifo = d.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let e = format!("{:#}", read_regular(&fifo, 1024).unwrap_err());
        assert!(e.contains("a FIFO"), "{e}");
        std::fs::write(&p, [0xff, 0xfe]).unwrap();
        assert!(format!("{:#}", read_text(&p, 1024).unwrap_err()).contains("not UTF-8"));
    }
}
