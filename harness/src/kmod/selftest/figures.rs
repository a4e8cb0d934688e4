//! The self-test's quick look at the two timings of the emulated
//! flush-on-entry (`report::model::ids::EntryTiming`), per supported variant:
//! the flushing ioctl alone (dispatch), and the ioctl with the next system
//! call (getppid), each minus the same with the nop ioctl. Printed so the
//! emulator runs (QEMU TCG, Bochs) show both paths ran and what they read;
//! the VM test labels them emulated. Not a measurement: no warm-up
//! control, no blocks, few samples.

use super::Tally;
use crate::kmod::abi::Variant;
use crate::kmod::device::{Device, DeviceInfo};
use crate::timer::Tsc;
use anyhow::Result;
use workloads::entry::{sample_pair_with, sample_with, CallPath, EntryOp};
use workloads::sys::NoArgCall;

const NEXT: EntryOp = EntryOp::Syscall(NoArgCall::Getppid, CallPath::Libc);

fn median(v: &mut [i64]) -> i64 {
    v.sort_unstable();
    v[v.len() / 2]
}

/// (dispatch, next entry, next entry alone) medians of `v`, raw TSC cycles.
fn timed(dev: &Device, v: Variant, n: usize) -> (i64, i64, i64) {
    let (mut d, mut w, mut a) = (vec![0i64; n], vec![0i64; n], vec![0i64; n]);
    sample_with(&Tsc, n / 10, &mut d, || {
        let _ = dev.entry_flush(v);
    });
    sample_pair_with(
        &Tsc,
        n / 10,
        &mut w,
        &mut a,
        || {
            let _ = dev.entry_flush(v);
        },
        || NEXT.once(),
    );
    (median(&mut d), median(&mut w), median(&mut a))
}

/// Prints `selftest: entry_flush <variant> dispatch <D> next_entry <N>
/// cycles` for every supported variant (D, N: deltas over nop).
pub(super) fn entry_timings(
    t: &mut Tally,
    dev: &Device,
    info: &DeviceInfo,
    n: usize,
) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    let nop = timed(dev, Variant::Nop, n);
    t.ioctls += 2 * n as u64 * 11 / 10;
    for v in Variant::ALL
        .into_iter()
        .filter(|&v| v != Variant::Nop && info.supports(v))
    {
        let (d, w, a) = timed(dev, v, n);
        t.ioctls += 2 * n as u64 * 11 / 10;
        println!(
            "selftest: entry_flush {:<12} dispatch {:>7} next_entry {:>7} cycles (of which after the ioctl {:>7}; medians of {n} minus nop)",
            v.name(),
            d - nop.0,
            w - nop.1,
            a - nop.2,
        );
    }
    Ok(())
}
