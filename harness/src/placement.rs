//! Choosing and pinning victim and initiator CPUs, and the memory rules
//! of a measurement (locked, pre-faulted).
//!
//! The victim runs every timed loop and receives the IPIs; it should be an
//! isolated (isolcpus) or nohz_full CPU so ticks and housekeeping do not
//! land in the figures. The initiator sends the IPIs from a housekeeping
//! CPU. Choosing is a pure function of the CPU lists (`choose`), so the
//! rules are tested without a machine that has isolation.

use crate::schema::Placement;
use anyhow::{bail, Context, Result};
use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
use nix::unistd::Pid;

/// The CPU lists placement is decided from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuLists {
    pub online: Vec<u32>,
    pub isolated: Vec<u32>,
    pub nohz_full: Vec<u32>,
}

impl CpuLists {
    /// This machine's lists.
    pub fn live() -> Result<CpuLists> {
        Ok(CpuLists {
            online: crate::platform::online_cpus().context("cannot list online CPUs")?,
            isolated: crate::platform::isolated_cpus().context("cannot list isolated CPUs")?,
            nohz_full: crate::platform::nohz_full_cpus().context("cannot list nohz_full CPUs")?,
        })
    }

    /// The victim when none is asked for: the first isolated or
    /// nohz_full CPU, else the highest-numbered one (CPU 0 usually
    /// carries more housekeeping: boot CPU interrupts). None with no
    /// CPU online.
    pub(crate) fn default_victim(&self) -> Option<u32> {
        let last = *self.online.last()?;
        Some(
            self.online
                .iter()
                .copied()
                .find(|&c| self.quiet(c))
                .unwrap_or(last),
        )
    }

    /// Booted isolated (isolcpus) or nohz_full.
    pub(crate) fn quiet(&self, cpu: u32) -> bool {
        self.isolated.contains(&cpu) || self.nohz_full.contains(&cpu)
    }
}

/// CPUs asked for on the command line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Request {
    pub victim: Option<u32>,
    pub initiator: Option<u32>,
}

/// Decides the placement; Err for a requested CPU that is not online or
/// for victim == initiator.
pub fn choose(cpus: &CpuLists, req: Request) -> Result<Placement> {
    let online = |flag: &str, cpu: u32| -> Result<()> {
        if !cpus.online.contains(&cpu) {
            bail!(
                "{flag} {cpu}: CPU {cpu} is not online (online CPUs: {})",
                cpu_list(&cpus.online)
            );
        }
        Ok(())
    };
    if let Some(v) = req.victim {
        online("--victim-cpu", v)?;
    }
    if let Some(i) = req.initiator {
        online("--initiator-cpu", i)?;
    }
    if let (Some(v), Some(i)) = (req.victim, req.initiator) {
        if v == i {
            bail!("--victim-cpu and --initiator-cpu are both {v}: the initiator must run on another CPU");
        }
    }
    let Some(default_victim) = cpus.default_victim() else {
        bail!("no online CPUs listed");
    };
    let mut notes = Vec::new();
    let victim = match req.victim {
        Some(v) => {
            notes.push(format!("victim CPU {v} chosen with --victim-cpu"));
            v
        }
        None => default_victim,
    };
    let initiator = match req.initiator {
        Some(i) => {
            notes.push(format!("initiator CPU {i} chosen with --initiator-cpu"));
            Some(i)
        }
        None => cpus
            .online
            .iter()
            .copied()
            .find(|&c| c != victim && !cpus.quiet(c))
            .or_else(|| cpus.online.iter().copied().find(|&c| c != victim)),
    };
    if initiator == Some(victim) {
        bail!("--victim-cpu and --initiator-cpu are both {victim}: the initiator must run on another CPU");
    }
    let victim_isolated = cpus.quiet(victim);
    if victim_isolated {
        let how = match (
            cpus.isolated.contains(&victim),
            cpus.nohz_full.contains(&victim),
        ) {
            (true, true) => "isolcpus and nohz_full",
            (true, false) => "isolcpus",
            _ => "nohz_full",
        };
        notes.push(format!("victim CPU {victim} is isolated ({how})"));
    } else if cpus.isolated.is_empty() && cpus.nohz_full.is_empty() {
        notes.push(format!(
            "no isolated or nohz_full CPUs: victim CPU {victim} is not isolated, \
             so timer ticks and housekeeping work land in its figures"
        ));
    } else {
        notes.push(format!("victim CPU {victim} is not isolated"));
    }
    match initiator {
        Some(i) if cpus.quiet(i) => notes.push(format!(
            "initiator CPU {i} is an isolated CPU: no housekeeping CPU was free"
        )),
        Some(_) => {}
        None => {
            notes.push("only one online CPU: no initiator, ipi.* experiments cannot run".into())
        }
    }
    Ok(Placement {
        victim_cpu: victim,
        initiator_cpu: initiator,
        victim_isolated,
        note: notes.join("; "),
    })
}

pub use crate::detect::cpu_list;

/// Restores the thread's original CPU mask when dropped.
#[derive(Debug)]
pub struct PinGuard {
    original: CpuSet,
}

impl Drop for PinGuard {
    fn drop(&mut self) {
        let _ = sched_setaffinity(Pid::from_raw(0), &self.original);
    }
}

/// Pins the calling thread to `cpu`; the guard unpins it.
pub fn pin_current_thread(cpu: u32) -> Result<PinGuard> {
    let original = sched_getaffinity(Pid::from_raw(0)).context("sched_getaffinity")?;
    let mut set = CpuSet::new();
    set.set(cpu as usize)
        .with_context(|| format!("CPU {cpu} is beyond the affinity mask size"))?;
    sched_setaffinity(Pid::from_raw(0), &set)
        .with_context(|| format!("cannot pin to CPU {cpu}"))?;
    Ok(PinGuard { original })
}

/// Locks current and future memory so no page fault or swap-in lands in a
/// timed region. Future mappings are locked as they are faulted in
/// (MCL_ONFAULT), not populated by mmap itself: a buffer can then refuse
/// huge pages (MADV_NOHUGEPAGE) before its first touch, which a populating
/// lock would have done with huge pages on a THP=always host. Every
/// buffer is pre-faulted by its owner. Failing is not fatal (unprivileged
/// users often have a small RLIMIT_MEMLOCK): returns the warning to print
/// and record.
pub fn lock_memory() -> Option<String> {
    // Without CAP_IPC_LOCK, MCL_FUTURE holds every later allocation to
    // RLIMIT_MEMLOCK (often 8 MiB): past it malloc fails and the run
    // aborts. Such a run goes unlocked, and says so.
    if let Some(limit) = memlock_limit_without_cap() {
        return Some(format!(
            "not root (no CAP_IPC_LOCK) and RLIMIT_MEMLOCK is {} KiB: memory not locked \
             (locking future allocations would make them fail past the limit), \
             page faults may land in timed regions",
            limit / 1024
        ));
    }
    // nix has no MCL_ONFAULT flag: libc directly.
    // SAFETY: mlockall takes no pointers.
    let r = unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE | libc::MCL_ONFAULT) };
    if r == 0 {
        None
    } else {
        Some(format!(
            "mlockall failed ({}): memory not locked, page faults may land in timed regions",
            std::io::Error::last_os_error()
        ))
    }
}

/// The RLIMIT_MEMLOCK soft limit, bytes, when it binds this process: it
/// is finite and the process lacks CAP_IPC_LOCK (which lifts it).
fn memlock_limit_without_cap() -> Option<u64> {
    use nix::sys::resource::{getrlimit, Resource, RLIM_INFINITY};
    let (soft, _) = getrlimit(Resource::RLIMIT_MEMLOCK).ok()?;
    if soft == RLIM_INFINITY || has_cap_ipc_lock() {
        return None;
    }
    Some(soft)
}

/// Whether CAP_IPC_LOCK (capability 14) is in the effective set.
fn has_cap_ipc_lock() -> bool {
    const CAP_IPC_LOCK: u32 = 14;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << CAP_IPC_LOCK) != 0)
}

/// Touches every page of a buffer so first-touch page faults happen now,
/// not between samples (a zeroed `vec!` is often fresh, unfaulted mmap
/// memory). Volatile, so it is not optimised away as a no-op store.
pub fn prefault<T: Copy>(buf: &mut [T]) {
    let bytes = std::mem::size_of_val(buf);
    let p = buf.as_mut_ptr().cast::<u8>();
    let mut off = 0;
    while off < bytes {
        // SAFETY: off < bytes: inside the buffer; the byte is written back
        // with its own value.
        unsafe { p.add(off).write_volatile(p.add(off).read_volatile()) };
        off += 4096;
    }
    // A buffer that starts inside a page ends inside one the steps from
    // its start may not reach.
    if bytes > 0 {
        // SAFETY: the buffer's last byte, written back with its own value.
        unsafe {
            p.add(bytes - 1)
                .write_volatile(p.add(bytes - 1).read_volatile())
        };
    }
}

/// Pre-faults a vector's spare capacity (pushes inside a timed loop must
/// not fault): fills it to capacity, touches it, empties it again.
pub fn prefault_capacity<T: Copy + Default>(v: &mut Vec<T>) {
    v.clear();
    v.resize(v.capacity(), T::default());
    prefault(v);
    v.clear();
}

/// Undoes `lock_memory`.
pub fn unlock_memory() {
    let _ = nix::sys::mman::munlockall();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists(online: &[u32], isolated: &[u32], nohz: &[u32]) -> CpuLists {
        CpuLists {
            online: online.to_vec(),
            isolated: isolated.to_vec(),
            nohz_full: nohz.to_vec(),
        }
    }

    #[test]
    fn isolated_victim_and_housekeeping_initiator() {
        let p = choose(&lists(&[0, 1, 2, 3], &[2, 3], &[]), Request::default()).unwrap();
        assert_eq!(
            (p.victim_cpu, p.initiator_cpu, p.victim_isolated),
            (2, Some(0), true)
        );
        assert!(p.note.contains("isolcpus"), "{}", p.note);
        let p = choose(&lists(&[0, 1, 2, 3], &[], &[1]), Request::default()).unwrap();
        assert_eq!((p.victim_cpu, p.initiator_cpu), (1, Some(0)));
        assert!(p.note.contains("nohz_full"));
    }

    #[test]
    fn no_isolation_is_recorded() {
        let p = choose(&lists(&[0, 1], &[], &[]), Request::default()).unwrap();
        assert_eq!(
            (p.victim_cpu, p.initiator_cpu, p.victim_isolated),
            (1, Some(0), false)
        );
        assert!(p.note.contains("not isolated"), "{}", p.note);
    }

    #[test]
    fn overrides_and_their_errors() {
        let l = lists(&[0, 1, 2], &[], &[]);
        let p = choose(
            &l,
            Request {
                victim: Some(0),
                initiator: Some(2),
            },
        )
        .unwrap();
        assert_eq!((p.victim_cpu, p.initiator_cpu), (0, Some(2)));
        let e = choose(
            &l,
            Request {
                victim: Some(999),
                initiator: None,
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("--victim-cpu 999") && e.contains("0-2"), "{e}");
        let e = choose(
            &l,
            Request {
                victim: None,
                initiator: Some(7),
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("--initiator-cpu 7"), "{e}");
        let e = choose(
            &l,
            Request {
                victim: Some(1),
                initiator: Some(1),
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("another CPU"), "{e}");
        // The default victim is 2; asking for it as initiator is refused.
        let e = choose(
            &l,
            Request {
                victim: None,
                initiator: Some(2),
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("another CPU"), "{e}");
    }

    #[test]
    fn single_cpu_has_no_initiator() {
        let p = choose(&lists(&[0], &[], &[]), Request::default()).unwrap();
        assert_eq!((p.victim_cpu, p.initiator_cpu), (0, None));
        assert!(p.note.contains("one online CPU"));
    }

    #[test]
    fn prefault_keeps_contents_and_capacity() {
        let mut b: Vec<i64> = (0..10_000).collect();
        prefault(&mut b);
        assert!(b.iter().enumerate().all(|(i, &v)| v == i as i64));
        let mut v: Vec<u64> = Vec::with_capacity(5000);
        v.push(3);
        let cap = v.capacity();
        prefault_capacity(&mut v);
        assert!(v.is_empty() && v.capacity() == cap);
    }

    #[test]
    fn cpu_list_ranges() {
        assert_eq!(cpu_list(&[3, 0, 1, 2, 6, 8, 9]), "0-3,6,8-9");
        assert_eq!(cpu_list(&[]), "none");
    }

    #[test]
    fn pinning_moves_the_thread_and_the_guard_restores() {
        let before = sched_getaffinity(Pid::from_raw(0)).unwrap();
        let cpu = (0..CpuSet::count())
            .find(|&c| before.is_set(c).unwrap_or(false))
            .unwrap() as u32;
        {
            let _g = pin_current_thread(cpu).unwrap();
            let now = sched_getaffinity(Pid::from_raw(0)).unwrap();
            assert!(now.is_set(cpu as usize).unwrap());
            assert_eq!(
                (0..CpuSet::count())
                    .filter(|&c| now.is_set(c).unwrap())
                    .count(),
                1
            );
        }
        assert_eq!(sched_getaffinity(Pid::from_raw(0)).unwrap(), before);
    }
}
