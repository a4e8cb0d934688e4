//! One fuzzed ioctl and its oracle: for every call the expected outcome
//! (success or which errno) is computed from the module's documented
//! validation rules, widened only by what others sharing the device may
//! do meanwhile (`Others`).
//!
//! Pointers handed to the kernel are only ever: null, a buffer of ours big
//! enough for what the request may write, a PROT_NONE page of ours, or a
//! kernel address. So a module bug cannot corrupt this process, and the
//! expected errno stays predictable.

use super::rng::Rng;
use crate::kmod::abi::{self, FlushTimed, GlobalFlush, Info, MASK_WORDS};
use crate::kmod::device::Device;
use crate::kmod::KERNEL_ADDR;
use nix::errno::Errno;

/// What else may use the device while this caller fuzzes it; each widens
/// the outcomes the oracle accepts, and only where it can matter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Others {
    /// Others start generators: EBUSY where this caller alone would succeed.
    pub start_generators: bool,
    /// Others stop guessed ids: a STOP of one of ours may find it gone.
    pub stop_guessed_ids: bool,
    /// Signals arrive: the long calls (FLUSH_TIMED, GLOBAL_FLUSH) may stop
    /// with EINTR once their loop runs.
    pub signals: bool,
    /// The module's allocations fail at random (`faults`): any call may
    /// end in ENOMEM (`Call::accepted_with`).
    pub alloc_failures: bool,
}

/// Where an argument pointer points.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ptr {
    Null,
    Ours,
    /// Our large buffer: FLUSH_TIMED with more samples than one chunk.
    Large,
    NoAccess,
    Kernel,
}

/// Largest count we let the kernel write into our small buffer.
const BUF_WORDS: u32 = 64;
/// The large buffer: more than two of the module's 4096-sample chunks.
const LARGE_WORDS: u32 = 9000;

/// A generator this caller started.
#[derive(Debug, Clone, Copy)]
struct Gen {
    id: u32,
    /// Detached generators end by themselves and are then reaped by the
    /// next GENERATOR_START (anyone's): a STOP may find them gone.
    detached: bool,
}

/// The fuzzer's state over a run.
pub struct Ctx<'a> {
    dev: &'a Device,
    info: Info,
    noaccess: u64,
    buf: Vec<u64>,
    large: Vec<u64>,
    gens: Vec<Gen>,
    pub others: Others,
    /// The generators' flushes that could not allocate, from the STOPs
    /// of ours that found them.
    pub gen_alloc_failures: u64,
}

/// One fuzzed call: what was asked, what the kernel answered, what the
/// module's rules say it should have answered and what else is accepted
/// because of others (see `Others`).
pub struct Call {
    pub what: String,
    pub got: Result<(), Errno>,
    pub want: Result<(), Errno>,
    pub also: Vec<Result<(), Errno>>,
    /// The module allocates on this call's path before its outcome is
    /// settled (GLOBAL_FLUSH and GENERATOR_START copy their argument into
    /// a kmalloc'd struct first; FLUSH_TIMED allocates its buffer once its
    /// arguments passed): there ENOMEM may stand in for `want`.
    pub allocates: bool,
    /// The generator this call started.
    pub started: Option<u32>,
}

impl Call {
    pub fn accepted(&self) -> bool {
        self.got == self.want || self.also.contains(&self.got)
    }

    /// `accepted`, or an injected allocation failure where `others` has
    /// them and the call's path allocates (`allocates`).
    pub fn accepted_with(&self, others: &Others) -> bool {
        self.accepted()
            || (others.alloc_failures && self.allocates && self.got == Err(Errno::ENOMEM))
    }
}

impl<'a> Ctx<'a> {
    /// `noaccess`: the address of a PROT_NONE page of the caller's.
    pub fn new(dev: &'a Device, info: Info, noaccess: u64, others: Others) -> Ctx<'a> {
        Ctx {
            dev,
            info,
            noaccess,
            // Big enough for the largest struct and BUF_WORDS samples.
            // Touched now: a first touch by the module's copy-out would
            // fault a page in while the thread is marked (`faults`).
            buf: touched(1024),
            large: touched(LARGE_WORDS as usize),
            gens: Vec::new(),
            others,
            gen_alloc_failures: 0,
        }
    }

    /// Stops every generator this caller started (errors ignored: others
    /// may have stopped them); returns the calls made.
    pub fn stop_all(&mut self) -> u64 {
        let gens = std::mem::take(&mut self.gens);
        for g in &gens {
            let mut a = abi::Generator {
                id: g.id,
                ..Default::default()
            };
            if ioctl_ptr(self.dev, abi::nr::GENERATOR_STOP, &mut a as *mut _ as u64).is_ok() {
                self.gen_alloc_failures += a.stats.alloc_failures;
            }
        }
        gens.len() as u64
    }

    fn online(&self, cpu: u64) -> bool {
        cpu < (MASK_WORDS * 64) as u64
            && self.info.online_mask[cpu as usize / 64] & (1 << (cpu % 64)) != 0
    }
    fn addr(&mut self, p: Ptr) -> u64 {
        match p {
            Ptr::Null => 0,
            Ptr::Ours => self.buf.as_mut_ptr() as u64,
            Ptr::Large => self.large.as_mut_ptr() as u64,
            Ptr::NoAccess => self.noaccess,
            Ptr::Kernel => KERNEL_ADDR,
        }
    }
    fn supported(&self, v: u32) -> bool {
        v < abi::VARIANT_COUNT && self.info.variants_supported & (1 << v) != 0
    }
    /// A CPU mask: valid subset, empty, offline CPU or garbage.
    fn mask(&mut self, rng: &mut Rng) -> [u64; MASK_WORDS] {
        let mut m = [0u64; MASK_WORDS];
        match rng.below(8) {
            0 => {}
            1 => {
                let c = self.info.nr_cpu_ids.min((MASK_WORDS * 64) as u32 - 1) as usize;
                m[c / 64] |= 1 << (c % 64);
            }
            2 => m.iter_mut().for_each(|w| *w = rng.next()),
            _ => {
                for (i, w) in m.iter_mut().enumerate() {
                    *w = self.info.online_mask[i] & rng.next();
                }
                if m.iter().all(|&w| w == 0) {
                    m = self.info.online_mask;
                }
            }
        }
        m
    }
    /// Kernel's rule: non-empty, every CPU online.
    fn mask_ok(&self, m: &[u64; MASK_WORDS]) -> bool {
        let cpus = abi::cpus_of(m);
        !cpus.is_empty()
            && cpus
                .iter()
                .all(|&c| c < self.info.nr_cpu_ids && self.online(c as u64))
    }
    /// EINTR is also accepted for a long call whose loop may have run.
    fn interruptible(&self, want: Result<(), Errno>, reaches_loop: bool) -> Vec<Result<(), Errno>> {
        if self.others.signals && reaches_loop && want != Err(Errno::EINVAL) {
            vec![Err(Errno::EINTR)]
        } else {
            Vec::new()
        }
    }
}

/// A zeroed buffer of `n` words, every page written.
fn touched(n: usize) -> Vec<u64> {
    let mut v = vec![0u64; n];
    crate::placement::prefault(&mut v);
    v
}

/// One ioctl; with allocation failures on (`faults::Marking`), this
/// thread is marked for its length alone.
pub fn ioctl_ptr(dev: &Device, nr: u64, addr: u64) -> Result<(), Errno> {
    super::faults::around(|| {
        // SAFETY: `addr` is null, a buffer of ours sized for the request,
        // a PROT_NONE page or a kernel address (see the module comment).
        let rc =
            unsafe { libc::ioctl(dev.raw_fd(), nr as libc::c_ulong, addr as usize as *mut u8) };
        if rc < 0 {
            Err(Errno::last())
        } else {
            Ok(())
        }
    })
}

pub fn name(r: &Result<(), Errno>) -> String {
    match r {
        Ok(()) => "ok".into(),
        Err(e) => format!("{e:?}"),
    }
}

/// Where a pointer argument points: mostly our buffer, sometimes not.
const PTRS: [Ptr; 6] = [
    Ptr::Ours,
    Ptr::Ours,
    Ptr::Ours,
    Ptr::Null,
    Ptr::NoAccess,
    Ptr::Kernel,
];

fn pick_ptr(rng: &mut Rng) -> Ptr {
    PTRS[rng.below(PTRS.len() as u64) as usize]
}

/// One random call with its expected outcome.
pub(super) fn one(cx: &mut Ctx, rng: &mut Rng) -> Call {
    match rng.below(9) {
        0 => info(cx),
        1 | 2 => flush_timed(cx, rng),
        3 => entry_flush(cx, rng),
        4 => global_flush(cx, rng),
        5 => gen_start(cx, rng),
        6 => gen_stop(cx, rng),
        7 => bad_pointer(cx, rng),
        _ => unknown_request(cx, rng),
    }
}

fn info(cx: &mut Ctx) -> Call {
    let got = ioctl_ptr(cx.dev, abi::nr::INFO, cx.addr(Ptr::Ours));
    Call {
        what: "INFO".into(),
        got,
        want: Ok(()),
        also: Vec::new(),
        allocates: false,
        started: None,
    }
}

fn flush_timed(cx: &mut Ctx, rng: &mut Rng) -> Call {
    // One call in twenty fills the large buffer: several chunks.
    let bufp = if rng.chance(5) {
        Ptr::Large
    } else {
        pick_ptr(rng)
    };
    let variant = rng.field(0, abi::VARIANT_COUNT - 1, abi::VARIANT_COUNT - 1);
    // Only our buffers limit the count.
    let iterations = match bufp {
        Ptr::Large => BUF_WORDS + 1 + rng.below((LARGE_WORDS - BUF_WORDS) as u64) as u32,
        Ptr::Ours => match rng.below(6) {
            0 => 0,
            1 => abi::MAX_ITERATIONS + 1,
            2 => u32::MAX,
            _ => 1 + rng.below(BUF_WORDS as u64) as u32,
        },
        _ => rng.field(1, abi::MAX_ITERATIONS, abi::MAX_ITERATIONS),
    };
    let a = FlushTimed {
        variant,
        iterations,
        cycles_ptr: cx.addr(bufp),
        ..Default::default()
    };
    let want = if variant >= abi::VARIANT_COUNT
        || iterations == 0
        || iterations > abi::MAX_ITERATIONS
        || bufp == Ptr::Null
    {
        Err(Errno::EINVAL)
    } else if bufp == Ptr::Kernel {
        Err(Errno::EFAULT)
    } else if !cx.supported(variant) {
        Err(Errno::EOPNOTSUPP)
    } else if bufp == Ptr::NoAccess {
        Err(Errno::EFAULT)
    } else {
        Ok(())
    };
    let mut arg = a;
    let got = ioctl_ptr(
        cx.dev,
        abi::nr::FLUSH_TIMED,
        &mut arg as *mut FlushTimed as u64,
    );
    // The signal check comes after a chunk's copy-out: EFAULT and
    // EOPNOTSUPP come first, so only a success may turn into EINTR.
    let also = cx.interruptible(want, want.is_ok());
    Call {
        what: format!("FLUSH_TIMED {a:?}"),
        got,
        want,
        also,
        // The buffer comes after the argument checks (EINVAL, a kernel
        // pointer's EFAULT), before the variant's and the copy-out's.
        allocates: want != Err(Errno::EINVAL) && bufp != Ptr::Kernel,
        started: None,
    }
}

fn entry_flush(cx: &mut Ctx, rng: &mut Rng) -> Call {
    let arg = match rng.below(4) {
        0 => rng.next() as i32,
        1 => -1,
        _ => rng.below(abi::VARIANT_COUNT as u64 + 2) as i32,
    };
    let want = if arg < 0 || arg as u32 >= abi::VARIANT_COUNT {
        Err(Errno::EINVAL)
    } else if !cx.supported(arg as u32) {
        Err(Errno::EOPNOTSUPP)
    } else {
        Ok(())
    };
    Call {
        what: format!("ENTRY_FLUSH {arg}"),
        got: cx.dev.entry_flush_raw(arg).map(drop),
        want,
        also: Vec::new(),
        allocates: false,
        started: None,
    }
}

fn global_flush(cx: &mut Ctx, rng: &mut Rng) -> Call {
    let bufp = pick_ptr(rng);
    let method = rng.field(0, abi::METHOD_COUNT - 1, abi::METHOD_COUNT - 1);
    let count = match rng.below(6) {
        0 => 0,
        1 => abi::MAX_GLOBAL_COUNT + 1,
        2 => u32::MAX,
        _ => 1 + rng.below(3) as u32,
    };
    let pages = match rng.below(8) {
        0 => abi::MAX_PAGES + 1,
        1 => rng.next() as u32,
        2 => abi::MAX_PAGES,
        _ => rng.below(5) as u32,
    };
    let pad = if rng.chance(10) {
        1 + rng.below(1000) as u32
    } else {
        0
    };
    let cpumask = cx.mask(rng);
    let mut arg = GlobalFlush {
        method,
        count,
        pages,
        pad,
        cycles_ptr: cx.addr(bufp),
        cpumask,
        ..Default::default()
    };
    let want = if method >= abi::METHOD_COUNT
        || count == 0
        || count > abi::MAX_GLOBAL_COUNT
        || pages > abi::MAX_PAGES
        || pad != 0
        || !cx.mask_ok(&cpumask)
    {
        Err(Errno::EINVAL)
    } else if bufp == Ptr::Kernel || bufp == Ptr::NoAccess {
        Err(Errno::EFAULT)
    } else {
        Ok(())
    };
    let got = ioctl_ptr(
        cx.dev,
        abi::nr::GLOBAL_FLUSH,
        &mut arg as *mut GlobalFlush as u64,
    );
    // The budget wait comes before the first copy-out: a NoAccess buffer
    // may see EINTR first (a kernel address fails access_ok up front).
    let also = cx.interruptible(want, bufp != Ptr::Kernel);
    Call {
        what: format!("GLOBAL_FLUSH method {method} count {count} pages {pages} pad {pad}"),
        got,
        want,
        also,
        allocates: true,
        started: None,
    }
}

fn gen_stop(cx: &mut Ctx, rng: &mut Rng) -> Call {
    let known = if !cx.gens.is_empty() && rng.chance(60) {
        Some(cx.gens[rng.below(cx.gens.len() as u64) as usize])
    } else {
        None
    };
    let id = match known {
        Some(g) => g.id,
        None if rng.chance(30) => 0,
        None => rng.next() as u32,
    };
    let mut a = abi::Generator {
        id,
        ..Default::default()
    };
    let (want, also) = match known {
        // Ours and listed; it may be gone: reaped (detached and ended) or
        // stopped by someone guessing ids.
        Some(g) if g.detached || cx.others.stop_guessed_ids => (Ok(()), vec![Err(Errno::EINVAL)]),
        Some(_) => (Ok(()), Vec::new()),
        // A guessed id: another caller's (shared fd, detached) may match.
        None if id != 0 && cx.others.start_generators => (Err(Errno::EINVAL), vec![Ok(())]),
        None => (Err(Errno::EINVAL), Vec::new()),
    };
    let got = ioctl_ptr(
        cx.dev,
        abi::nr::GENERATOR_STOP,
        &mut a as *mut abi::Generator as u64,
    );
    // Stopped or gone: either way no longer ours to stop.
    if known.is_some() || got.is_ok() {
        cx.gens.retain(|g| g.id != id);
    }
    if got.is_ok() {
        cx.gen_alloc_failures += a.stats.alloc_failures;
    }
    Call {
        what: format!("GENERATOR_STOP {id}"),
        got,
        want,
        also,
        allocates: false,
        started: None,
    }
}

/// A real request with an argument pointer the kernel must refuse.
fn bad_pointer(cx: &mut Ctx, rng: &mut Rng) -> Call {
    let nrs = [
        abi::nr::INFO,
        abi::nr::FLUSH_TIMED,
        abi::nr::GLOBAL_FLUSH,
        abi::nr::GENERATOR_START,
        abi::nr::GENERATOR_STOP,
    ];
    let nr = nrs[rng.below(nrs.len() as u64) as usize];
    let p = [Ptr::Null, Ptr::NoAccess, Ptr::Kernel][rng.below(3) as usize];
    let got = ioctl_ptr(cx.dev, nr, cx.addr(p));
    Call {
        what: format!("ioctl {nr:#x} with {p:?} argument"),
        got,
        want: Err(Errno::EFAULT),
        also: Vec::new(),
        allocates: nr == abi::nr::GLOBAL_FLUSH || nr == abi::nr::GENERATOR_START,
        started: None,
    }
}

/// Our magic with a number/direction/size the module does not know.
fn unknown_request(cx: &mut Ctx, rng: &mut Rng) -> Call {
    let valid = [
        abi::nr::INFO,
        abi::nr::FLUSH_TIMED,
        abi::nr::ENTRY_FLUSH,
        abi::nr::GLOBAL_FLUSH,
        abi::nr::GENERATOR_START,
        abi::nr::GENERATOR_STOP,
    ];
    let nr = loop {
        let dir = rng.below(4);
        let size = rng.below(1 << 14);
        let num = rng.below(256);
        let code = (dir << 30) | (size << 16) | ((abi::IOC_MAGIC as u64) << 8) | num;
        if !valid.contains(&code) {
            break code;
        }
    };
    let got = ioctl_ptr(cx.dev, nr, cx.addr(Ptr::Ours));
    Call {
        what: format!("unknown ioctl {nr:#x}"),
        got,
        want: Err(Errno::ENOTTY),
        also: Vec::new(),
        allocates: false,
        started: None,
    }
}

/// The module's rule for the initiator: -1 picks an online CPU not in the
/// mask (there must be one), any other value must be such a CPU itself.
fn initiator_ok(cx: &Ctx, initiator_cpu: i32, cpumask: &[u64; MASK_WORDS]) -> bool {
    let free = |c: u64| cx.online(c) && cpumask[c as usize / 64] & (1 << (c % 64)) == 0;
    match initiator_cpu {
        -1 => (0..cx.info.nr_cpu_ids as u64).any(free),
        c if c >= 0 => (c as u64) < cx.info.nr_cpu_ids as u64 && free(c as u64),
        _ => false,
    }
}

fn gen_start(cx: &mut Ctx, rng: &mut Rng) -> Call {
    let method = rng.field(0, abi::METHOD_COUNT - 1, abi::METHOD_COUNT - 1);
    // Valid rates stay low so the fuzzer does not swamp the guest.
    let rate_hz = rng.field(1, 1000, abi::MAX_RATE_HZ);
    let duration_ms = rng.field(0, 500, abi::MAX_DURATION_MS);
    let pages = rng.field(0, 4, abi::MAX_PAGES);
    let initiator_cpu = match rng.below(7) {
        0 => rng.below(cx.info.nr_cpu_ids as u64 + 2) as i32,
        1 => rng.next() as i32,
        2 => -2,
        _ => -1,
    };
    let flags = match rng.below(10) {
        0 => rng.next() as u32,
        1 | 2 => abi::GEN_DETACH,
        _ => 0,
    };
    let pad = u32::from(rng.chance(10));
    let cpumask = cx.mask(rng);
    let mut a = abi::Generator {
        method,
        rate_hz,
        duration_ms,
        pages,
        initiator_cpu,
        flags,
        pad,
        cpumask,
        ..Default::default()
    };
    let detach = flags == abi::GEN_DETACH;
    let invalid = method >= abi::METHOD_COUNT
        || rate_hz == 0
        || rate_hz > abi::MAX_RATE_HZ
        || duration_ms > abi::MAX_DURATION_MS
        || pages > abi::MAX_PAGES
        || flags & !abi::GEN_DETACH != 0
        || (detach && duration_ms == 0)
        || pad != 0
        || !cx.mask_ok(&cpumask)
        || !initiator_ok(cx, initiator_cpu, &cpumask);
    // Detached ones of ours may have ended and been reaped: below the
    // limit for sure only without them.
    let owned = cx.gens.iter().filter(|g| !g.detached).count() as u32;
    let all = cx.gens.len() as u32;
    let (want, mut also) = if invalid {
        (Err(Errno::EINVAL), Vec::new())
    } else if owned >= abi::MAX_GENERATORS {
        (Err(Errno::EBUSY), Vec::new())
    } else if all >= abi::MAX_GENERATORS {
        (Err(Errno::EBUSY), vec![Ok(())])
    } else {
        (Ok(()), Vec::new())
    };
    if want.is_ok() && cx.others.start_generators {
        also.push(Err(Errno::EBUSY));
    }
    // Someone may have stopped ours, making room.
    if want == Err(Errno::EBUSY) && cx.others.stop_guessed_ids {
        also.push(Ok(()));
    }
    let got = ioctl_ptr(
        cx.dev,
        abi::nr::GENERATOR_START,
        &mut a as *mut abi::Generator as u64,
    );
    if got.is_ok() {
        cx.gens.push(Gen {
            id: a.id,
            detached: detach,
        });
    }
    Call {
        what: format!("GENERATOR_START method {method} rate {rate_hz} dur {duration_ms} pages {pages} cpu {initiator_cpu} flags {flags:#x} pad {pad}"),
        got,
        want,
        also,
        allocates: true,
        started: got.is_ok().then_some(a.id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enomem_passes_only_where_allocations_fail() {
        let call = |got| Call {
            what: "GLOBAL_FLUSH".into(),
            got,
            want: Err(Errno::EINVAL),
            also: vec![Err(Errno::EINTR)],
            allocates: true,
            started: None,
        };
        let plain = Others::default();
        let faults = Others {
            alloc_failures: true,
            ..Others::default()
        };
        let enomem = call(Err(Errno::ENOMEM));
        assert!(!enomem.accepted_with(&plain));
        assert!(enomem.accepted_with(&faults));
        // Only where the call's path allocates (not INFO, ENTRY_FLUSH,
        // GENERATOR_STOP, or FLUSH_TIMED refused by its argument checks).
        let no_alloc = Call {
            allocates: false,
            ..call(Err(Errno::ENOMEM))
        };
        assert!(!no_alloc.accepted_with(&faults));
        // Nothing else is widened.
        assert!(!call(Ok(())).accepted_with(&faults));
        assert!(!call(Err(Errno::EFAULT)).accepted_with(&faults));
        assert!(call(Err(Errno::EINTR)).accepted_with(&plain));
        assert!(call(Err(Errno::EINVAL)).accepted_with(&plain));
    }
}
