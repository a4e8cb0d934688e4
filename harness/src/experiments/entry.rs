//! `timer.overhead`, `entry.null`, `entry.getpid`, `entry.getppid`,
//! `vdso.clock_gettime`: one operation per timed region.

use super::record::{self, params};
use super::suite::SyscallPath;
use super::{Ctx, Experiment, Stop};
use crate::schema;
use anyhow::Result;
use workloads::entry::EntryOp;
use workloads::sys::{NR_GETPID, NR_GETPPID, NR_INVALID};

/// Samples per chunk between cancel checks: a few ms of syscalls.
const CHUNK: usize = 20_000;

/// One op-per-sample experiment.
pub struct EntryExperiment {
    id: &'static str,
    op: EntryOp,
}

impl EntryExperiment {
    pub fn new(id: &'static str, op: EntryOp) -> EntryExperiment {
        EntryExperiment { id, op }
    }
}

/// The ids of this module, in suite order.
pub fn all() -> Vec<EntryExperiment> {
    vec![
        EntryExperiment::new("timer.overhead", EntryOp::Empty),
        EntryExperiment::new("entry.null", EntryOp::Null),
        EntryExperiment::new("entry.getpid", EntryOp::Getpid),
        EntryExperiment::new("entry.getppid", EntryOp::Getppid),
        EntryExperiment::new("vdso.clock_gettime", EntryOp::VdsoClockGettime),
    ]
}

/// The clocksource the vDSO would read; "hpet"/"acpi_pm" have no vDSO
/// path, so clock_gettime is then a real system call.
fn clocksource() -> String {
    std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

impl Experiment for EntryExperiment {
    fn id(&self) -> String {
        self.id.to_string()
    }

    fn run(&mut self, ctx: &mut Ctx) -> Result<schema::Experiment> {
        let n = ctx.cfg.entry_samples;
        if n == 0 {
            return Err(Stop::Skipped("no samples requested".into()).into());
        }
        let warmup = ctx.cfg.entry_warmup;
        let mut samples = vec![0i64; n];
        crate::placement::prefault(&mut samples);
        let op = match (self.op, ctx.cfg.syscall) {
            (EntryOp::Null, SyscallPath::Libc) => EntryOp::LibcSyscall(NR_INVALID),
            (EntryOp::Getpid, SyscallPath::Libc) => EntryOp::LibcSyscall(NR_GETPID),
            (EntryOp::Getppid, SyscallPath::Libc) => EntryOp::LibcSyscall(NR_GETPPID),
            (op, _) => op,
        };
        let batch = if op == EntryOp::Empty {
            1
        } else {
            ctx.cfg.entry_batch.max(1)
        };
        let mut first = true;
        for chunk in samples.chunks_mut(CHUNK) {
            ctx.check_cancel()?;
            // Warm up before the first chunk only: later chunks follow a
            // cancel check, a load and a branch, nothing that cools caches.
            let w = if first { warmup } else { 0 };
            first = false;
            crate::with_clock!(ctx.timer, c => workloads::entry::sample_batched(c, op, w, batch, chunk));
        }
        let mut notes = Vec::new();
        if op == EntryOp::Empty {
            notes.push(
                "raw empty-region cycles: this is the overhead subtracted from every other sample"
                    .to_string(),
            );
        } else {
            ctx.timer.subtract_overhead(&mut samples);
            if batch > 1 {
                // Per operation, to the nearest cycle.
                let k = batch as i64;
                samples
                    .iter_mut()
                    .for_each(|s| *s = (*s + k / 2).div_euclid(k));
                notes.push(format!(
                    "each sample is the mean per operation of {batch} back-to-back operations"
                ));
            }
        }
        let mut p = params([
            ("samples", n.into()),
            ("warmup", warmup.into()),
            ("ops_per_sample", batch.into()),
            ("operation", op.describe().into()),
            ("timer", ctx.timer.kind().into()),
            (
                "timer_resolution_cycles",
                ctx.timer.resolution_cycles.into(),
            ),
            (
                "overhead_subtracted_cycles",
                if op == EntryOp::Empty {
                    0.0
                } else {
                    ctx.timer.overhead_cycles
                }
                .into(),
            ),
        ]);
        if op == EntryOp::VdsoClockGettime {
            let cs = clocksource();
            if !matches!(
                cs.as_str(),
                "tsc" | "kvm-clock" | "hyperv_clocksource_tsc_page"
            ) {
                notes.push(format!(
                    "clocksource {cs} may have no vDSO read: clock_gettime may enter the kernel"
                ));
            }
            p.insert("clocksource".into(), cs.into());
        }
        let mut e = record::measured(self.id, "user", p, &mut samples);
        e.notes = notes;
        Ok(e)
    }
}
