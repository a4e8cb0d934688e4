//! tracefs for `ipi.kernel.text_poke` and for labelling IPIs
//! (`experiments::ipi_label`): find it (or mount it privately), make a
//! tracing instance of our own, pick a tracepoint nobody uses, and put
//! everything back.
//!
//! Why an instance: enabling an event in any instance registers a probe
//! on the tracepoint, and the first probe flips its static key (kernel
//! text patching, `kernel/tracepoint.c` `tracepoint_add_func`), so an
//! instance patches text exactly as the top level does, while leaving the
//! user's own tracing (top-level `set_event`, buffers, other instances)
//! alone. Removing the instance disables whatever it had enabled, so even
//! a failed write cannot leave an event on. Everything we create is undone
//! by `Drop`, in reverse order: instance, then our mount.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Prefix of our instance names: `entrybench-<pid ns>-<pid>-<n>` (and
/// `entrybench-<pid>-<n>` before the namespace was in the name).
const INSTANCE_PREFIX: &str = "entrybench-";

/// This process's PID namespace, as the inode number `/proc/self/ns/pid`
/// links to (0 where it cannot be read). Tracefs is shared across
/// containers: a process id is only ours to look up in our namespace.
fn pid_namespace() -> u64 {
    fs::read_link("/proc/self/ns/pid")
        .ok()
        .and_then(|l| {
            let l = l.to_string_lossy().into_owned();
            l.strip_prefix("pid:[")?.strip_suffix(']')?.parse().ok()
        })
        .unwrap_or(0)
}

/// What names this process's instances and mounts: `<pid ns>-<pid>`.
fn owner() -> String {
    format!("{}-{}", pid_namespace(), std::process::id())
}

/// Whether process `pid` (of our PID namespace) exists.
fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Prefix of our private mount points under the temporary directory:
/// `entrybench-tracefs-<pid ns>-<pid>-<random>`.
const MOUNT_PREFIX: &str = "entrybench-tracefs-";

/// Whether an instance or private mount named `name` (`prefix` then
/// `<pid ns>-<pid>-<n>`) was left by a killed entrybench: it names a
/// process of our PID namespace (or, an instance in the old form
/// `<pid>-<n>`, none) that `alive` says is gone. One of another
/// namespace's run is never stale to us: its process id means nothing
/// here.
fn is_stale(name: &str, prefix: &str, our_ns: u64, alive: impl Fn(u32) -> bool) -> bool {
    let Some(rest) = name.strip_prefix(prefix) else {
        return false;
    };
    let parts: Vec<&str> = rest.split('-').collect();
    let (ns, pid) = match parts[..] {
        [ns, pid, _] => (ns.parse::<u64>().ok(), pid),
        [pid, _] => (Some(our_ns), pid),
        _ => return false,
    };
    match (ns, pid.parse::<u32>()) {
        (Some(ns), Ok(pid)) => ns == our_ns && !alive(pid),
        _ => false,
    }
}

/// Tracepoints to toggle, in order of preference: quiet ones, each with
/// few call sites and no hot path (one fires per fork, exec, rename,
/// oom_score_adj write or kthread_stop).
pub const CANDIDATES: [(&str, &str); 5] = [
    ("sched", "sched_process_fork"),
    ("task", "task_rename"),
    ("sched", "sched_process_exec"),
    ("oom", "oom_score_adj_update"),
    ("sched", "sched_kthread_stop"),
];

/// Why tracefs cannot be used here: the experiment is skipped with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

/// A tracefs mount: one that was there, or ours (unmounted on drop).
#[derive(Debug)]
pub struct Tracefs {
    root: PathBuf,
    /// The private mount point we created and mounted.
    ours: Option<PathBuf>,
}

impl Tracefs {
    /// The mounted tracefs, or a private mount under the temporary
    /// directory when none is mounted (or `private` asks for one).
    pub fn open(private: bool) -> Result<Tracefs, Unavailable> {
        if !nix::unistd::geteuid().is_root() {
            return Err(Unavailable(
                "needs root (toggles a tracepoint through tracefs)".into(),
            ));
        }
        let filesystems = fs::read_to_string("/proc/filesystems").unwrap_or_default();
        if !filesystems
            .lines()
            .any(|l| l.split_whitespace().last() == Some("tracefs"))
        {
            return Err(Unavailable("this kernel has no tracefs".into()));
        }
        if !private {
            if let Some(root) = mounted() {
                return Ok(Tracefs { root, ours: None });
            }
        }
        let template = std::env::temp_dir().join(format!("{MOUNT_PREFIX}{}-XXXXXX", owner()));
        let dir = nix::unistd::mkdtemp(&template)
            .map_err(|e| Unavailable(format!("cannot make a mount point for tracefs: {e}")))?;
        use nix::mount::{mount, MsFlags};
        let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        if let Err(e) = mount(Some("tracefs"), &dir, Some("tracefs"), flags, None::<&str>) {
            let _ = fs::remove_dir(&dir);
            return Err(Unavailable(format!(
                "tracefs is not mounted and mounting it failed: {e}"
            )));
        }
        Ok(Tracefs {
            root: dir.clone(),
            ours: Some(dir),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether we mounted it (and will unmount it).
    pub fn mounted_by_us(&self) -> bool {
        self.ours.is_some()
    }

    fn instances(&self) -> PathBuf {
        self.root.join("instances")
    }

    /// Every tracing instance directory, the top level first.
    fn all_instances(&self) -> Vec<PathBuf> {
        let mut v = vec![self.root.clone()];
        if let Ok(rd) = fs::read_dir(self.instances()) {
            let mut more: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
            more.sort();
            v.extend(more);
        }
        v
    }

    /// What is enabled, per instance: (instance name, its sorted
    /// `set_event` lines). The top level is named "".
    pub fn enabled_events(&self) -> io::Result<Vec<(String, Vec<String>)>> {
        let mut out = Vec::new();
        for dir in self.all_instances() {
            let name = dir
                .strip_prefix(self.instances())
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            // An instance removed since the listing (another run's, gone
            // at its end) has nothing enabled.
            let text = match fs::read_to_string(dir.join("set_event")) {
                Err(e) if e.kind() == io::ErrorKind::NotFound && !name.is_empty() => continue,
                r => r?,
            };
            let mut lines: Vec<String> = text.lines().map(String::from).collect();
            lines.sort();
            out.push((name, lines));
        }
        Ok(out)
    }

    /// The first candidate tracepoint that exists and that no instance
    /// has enabled (so our toggle flips its static key). Probes from perf
    /// or BPF are not visible here; the CAL delta shows them (no IPIs).
    pub fn pick_tracepoint(&self) -> Result<(&'static str, &'static str), Unavailable> {
        let dirs = self.all_instances();
        let mut busy = Vec::new();
        for (sys, ev) in CANDIDATES {
            let rel = Path::new("events").join(sys).join(ev).join("enable");
            if !self.root.join(&rel).exists() {
                continue;
            }
            let on = dirs
                .iter()
                .any(|d| fs::read_to_string(d.join(&rel)).is_ok_and(|s| s.trim() != "0"));
            if on {
                busy.push(format!("{sys}/{ev}"));
            } else {
                return Ok((sys, ev));
            }
        }
        Err(Unavailable(if busy.is_empty() {
            "none of the candidate tracepoints exists in this kernel".into()
        } else {
            format!(
                "every candidate tracepoint is enabled already: {}",
                busy.join(", ")
            )
        }))
    }

    /// Removes instances a killed entrybench left behind (`is_stale`):
    /// their enabled events would keep the static key on. Returns their
    /// names.
    pub fn remove_stale_instances(&self) -> Vec<String> {
        let Ok(rd) = fs::read_dir(self.instances()) else {
            return Vec::new();
        };
        let ns = pid_namespace();
        let mut removed = Vec::new();
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if is_stale(&name, INSTANCE_PREFIX, ns, alive) && fs::remove_dir(e.path()).is_ok() {
                removed.push(name);
            }
        }
        removed
    }
}

impl Drop for Tracefs {
    fn drop(&mut self) {
        if let Some(dir) = self.ours.take() {
            use nix::mount::{umount2, MntFlags};
            // Lazy when busy: it goes away as soon as the last file closes.
            if umount2(&dir, MntFlags::empty()).is_err() {
                let _ = umount2(&dir, MntFlags::MNT_DETACH);
            }
            let _ = fs::remove_dir(&dir);
        }
    }
}

/// As root, removes what a killed entrybench left in tracefs: its
/// instances (`Tracefs::remove_stale_instances`, through a tracefs
/// already mounted: a shared one, else a dead run's private mount, which
/// no live run will unmount; nothing is mounted for it), then its
/// private mounts under the temporary directory. Returns their names.
pub fn remove_stale_mounted() -> Vec<String> {
    if !nix::unistd::geteuid().is_root() {
        return Vec::new();
    }
    // Read once: the instances go through a mount this lists, then the
    // same list's stale private mounts are unmounted.
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let tmp = std::env::temp_dir();
    let stale = stale_private_mounts(&info, &tmp, pid_namespace(), alive);
    let root = shared_mount(&info, &tmp).or_else(|| stale.first().cloned());
    let mut removed = root
        .map(|root| Tracefs { root, ours: None }.remove_stale_instances())
        .unwrap_or_default();
    removed.extend(unmount_private(stale));
    removed
}

/// The private mounts in `info` (under `tmp`) of runs of namespace `ns`
/// that are gone (`alive` says which process ids still run).
fn stale_private_mounts(
    info: &str,
    tmp: &Path,
    ns: u64,
    alive: impl Fn(u32) -> bool,
) -> Vec<PathBuf> {
    info.lines()
        .filter_map(parse_mountinfo_line)
        .filter(|dir| {
            private_name(dir, tmp).is_some_and(|n| is_stale(&n, MOUNT_PREFIX, ns, &alive))
        })
        .collect()
}

/// The name of `dir` when it is a run's private mount point
/// (`Tracefs::open`: our prefix, directly under `tmp`).
fn private_name(dir: &Path, tmp: &Path) -> Option<String> {
    let name = dir.file_name()?.to_string_lossy().into_owned();
    (dir.parent() == Some(tmp) && name.starts_with(MOUNT_PREFIX)).then_some(name)
}

/// Unmounts and removes private tracefs mounts (`Tracefs::open`) of
/// runs that are gone (`stale_private_mounts`): their drop never ran.
fn unmount_private(stale: Vec<PathBuf>) -> Vec<String> {
    let mut removed = Vec::new();
    for dir in stale {
        use nix::mount::{umount2, MntFlags};
        if umount2(&dir, MntFlags::MNT_DETACH).is_ok() {
            let _ = fs::remove_dir(&dir);
            removed.push(dir.display().to_string());
        }
    }
    removed
}

/// A tracing instance of our own (removed on drop, which disables every
/// event it enabled).
#[derive(Debug)]
pub struct Instance {
    dir: PathBuf,
}

impl Instance {
    /// `instances/entrybench-<pid ns>-<pid>-<n>`, with the first free n.
    pub fn create(fs: &Tracefs) -> Result<Instance, Unavailable> {
        let parent = fs.instances();
        if !parent.is_dir() {
            return Err(Unavailable("tracefs has no instances directory".into()));
        }
        let owner = owner();
        for n in 0..100 {
            let dir = parent.join(format!("{INSTANCE_PREFIX}{owner}-{n}"));
            match std::fs::create_dir(&dir) {
                Ok(()) => return Ok(Instance { dir }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(Unavailable(format!(
                        "cannot create a tracing instance ({}): {e}",
                        dir.display()
                    )))
                }
            }
        }
        Err(Unavailable("no free tracing instance name".into()))
    }

    /// The enable file of `sys/event` in this instance.
    pub fn enable_file(&self, sys: &str, event: &str) -> PathBuf {
        self.dir.join("events").join(sys).join(event).join("enable")
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // EBUSY while a file of it is still open elsewhere: retry briefly.
        for _ in 0..50 {
            if fs::remove_dir(&self.dir).is_ok() || !self.dir.exists() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        eprintln!(
            "entrybench: warning: could not remove the tracing instance {}; remove it with rmdir",
            self.dir.display()
        );
    }
}

/// The tracefs mount point from /proc/self/mountinfo (a tracefs mounted
/// at its root), if any, other than a run's private mount.
fn mounted() -> Option<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").ok()?;
    shared_mount(&info, &std::env::temp_dir())
}

/// The first whole tracefs mount in `info` that is not a private mount
/// of an entrybench run (`Tracefs::open`, under `tmp`). Such a mount is
/// its run's to unmount at any moment: on a machine without tracefs
/// mounted, a run that used another's saw it go mid-run ("tracefs has no
/// instances directory"; two tests at once in scripts/test.sh).
fn shared_mount(info: &str, tmp: &Path) -> Option<PathBuf> {
    info.lines()
        .filter_map(parse_mountinfo_line)
        .find(|dir| private_name(dir, tmp).is_none())
}

/// The mount point of a mountinfo line if it is a whole tracefs.
fn parse_mountinfo_line(line: &str) -> Option<PathBuf> {
    let (pre, post) = line.split_once(" - ")?;
    if post.split_whitespace().next()? != "tracefs" {
        return None;
    }
    let f: Vec<&str> = pre.split_whitespace().collect();
    if f.get(3) != Some(&"/") {
        return None;
    }
    Some(PathBuf::from(unescape(f.get(4)?)))
}

/// mountinfo escapes space, tab, newline and backslash as \ooo.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_lines() {
        let l = "36 25 0:12 / /sys/kernel/tracing rw,nosuid,nodev,noexec,relatime shared:14 - tracefs tracefs rw";
        assert_eq!(parse_mountinfo_line(l), Some("/sys/kernel/tracing".into()));
        let sub = "40 25 0:12 /instances /x rw - tracefs tracefs rw";
        assert_eq!(parse_mountinfo_line(sub), None);
        let other = "22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw";
        assert_eq!(parse_mountinfo_line(other), None);
        let esc = "36 25 0:12 / /tmp/a\\040b rw - tracefs tracefs rw";
        assert_eq!(parse_mountinfo_line(esc), Some("/tmp/a b".into()));
        assert_eq!(unescape("a\\134b\\0"), "a\\b\\0");
    }

    #[test]
    fn other_runs_private_mounts_are_not_shared() {
        let tmp = Path::new("/tmp");
        let private =
            "50 25 0:12 / /tmp/entrybench-tracefs-4026531836-9-Ab3xYz rw - tracefs tracefs rw";
        let system = "36 25 0:12 / /sys/kernel/tracing rw - tracefs tracefs rw";
        let elsewhere = "51 25 0:12 / /mnt/entrybench-tracefs-x rw - tracefs tracefs rw";
        assert_eq!(shared_mount(private, tmp), None);
        assert_eq!(
            shared_mount(&format!("{private}\n{system}"), tmp),
            Some("/sys/kernel/tracing".into())
        );
        // A dead run's private mount is where its instances are removed
        // when no shared mount exists; a live run's is not.
        let dead = stale_private_mounts(private, tmp, 4026531836, |pid| pid != 9);
        assert_eq!(
            dead,
            [PathBuf::from("/tmp/entrybench-tracefs-4026531836-9-Ab3xYz")]
        );
        assert!(stale_private_mounts(private, tmp, 4026531836, |_| true).is_empty());
        // Only our own prefix under the temporary directory is private.
        assert_eq!(
            shared_mount(&format!("{private}\n{elsewhere}"), tmp),
            Some("/mnt/entrybench-tracefs-x".into())
        );
    }

    #[test]
    fn only_our_namespaces_dead_runs_are_stale() {
        let alive = |pid: u32| pid == 7;
        let stale = |name: &str| is_stale(name, INSTANCE_PREFIX, 4026531836, alive);
        // Ours, by namespace: stale when the process is gone.
        assert!(stale("entrybench-4026531836-9-0"));
        assert!(!stale("entrybench-4026531836-7-0"));
        // Another namespace's run: its process id means nothing here.
        assert!(!stale("entrybench-4026532000-9-0"));
        // The old form (no namespace) is taken as ours.
        assert!(stale("entrybench-9-0"));
        assert!(!stale("entrybench-7-3"));
        // Not ours, or not a name we write.
        for other in [
            "perf-9-0",
            "entrybench-x-9-0",
            "entrybench-9",
            "entrybench-1-2-3-4",
        ] {
            assert!(!stale(other), "{other}");
        }
        // Private mounts: the same rule, after their own prefix.
        let mount = |name: &str| is_stale(name, MOUNT_PREFIX, 4026531836, alive);
        assert!(mount("entrybench-tracefs-4026531836-9-Ab3xYz"));
        assert!(!mount("entrybench-tracefs-4026531836-7-Ab3xYz"));
        assert!(!mount("entrybench-tracefs-4026532000-9-Ab3xYz"));
        assert!(!mount("entrybench-tracefs-Ab3xYz"));
    }

    #[test]
    fn our_pid_namespace_is_read() {
        // Linux always has /proc/self/ns/pid (since 3.8).
        assert_ne!(pid_namespace(), 0);
    }
}
