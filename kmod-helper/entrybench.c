// SPDX-License-Identifier: GPL-2.0
/*
 * entrybench.ko - privileged helpers for the entrybench harness.
 *
 * /dev/entrybench lets user space time the TLB-flush primitives a
 * flush-on-kernel-entry scheme would use (CR3 reload, INVPCID, CR4.PGE
 * toggle, INVLPG), emulate such an entry (an ioctl that flushes once and
 * returns), and send kernel-side flush IPIs (flush_all, kernel-range,
 * sync_core) once or at a set rate to chosen CPUs.
 *
 * Safety rules this file follows:
 *  - every ioctl checks CAP_SYS_ADMIN and CAP_SYS_RAWIO of its caller, not
 *    only open(): an fd handed to another process carries no right;
 *  - every ioctl argument is validated before use; a primitive the CPU
 *    (or its current CR4) lacks fails with -EOPNOTSUPP instead of faulting;
 *  - timed loops run with IRQs off only in chunks of at most ~1 ms, and
 *    stop with -EINTR on any pending signal between chunks;
 *  - no CPU receives more than ENTRYBENCH_MAX_TARGET_RATE_HZ flush IPIs a
 *    second from this module, whoever sends them (eb_budget_wait());
 *  - CR3 is rewritten with the value just read, IRQs off, so the current
 *    mm and PCID (ASID bits) are kept;
 *  - CR4.PGE is cleared and set again with IRQs off, ending on the exact
 *    value read (see eb_cr4_pge_toggle() for why the shadow stays right);
 *  - no symbol the kernel exports only to KVM is imported (since "x86:
 *    Restrict KVM-induced symbol exports", cr4_update_irqsoff() and
 *    __flush_tlb_all() are such): CR and INVPCID accesses are inline asm;
 *  - generators are kthreads stopped on close() of their fd (unless
 *    detached, which needs a duration) and always on module unload.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cpu.h>
#include <linux/cpumask.h>
#include <linux/freezer.h>
#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/kthread.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <asm/cpufeature.h>
#include <asm/msr.h>
#include <asm/processor.h>
#include <asm/special_insns.h>
#include <asm/sync_core.h>
#include <asm/processor-flags.h>
#include <asm/tsc.h>

#include "entrybench_uapi.h"

/* Samples buffered in the kernel per IRQ-off chunk. */
#define EB_CHUNK_SAMPLES	4096
/* Empty timed regions used to measure the loop's own overhead. */
#define EB_OVERHEAD_RUNS	64

/*
 * Target of INVLPG and INVPCID type 0: a kernel address that is mapped
 * (module data).  It is read before every timed flush so that its
 * translation is in the TLB and the instruction has something to drop.
 * Without PTI this mapping is global: INVLPG drops it, INVPCID type 0
 * never drops global translations (SDM: "except global translations").
 */
static u64 eb_target_word;

/*
 * The deferred strategy's per-CPU state word: a remote CPU sets
 * EB_DEFER_PENDING instead of sending a flush IPI, the CPU consumes it
 * with one atomic read-modify-write on its next (emulated) entry.
 */
#define EB_DEFER_PENDING	BIT(0)
static DEFINE_PER_CPU_SHARED_ALIGNED(atomic_t, eb_defer_state);

static LIST_HEAD(eb_gens);
static DEFINE_MUTEX(eb_gen_lock);
static unsigned int eb_gen_count;
static u32 eb_next_gen_id = 1;

struct eb_gen {
	struct list_head node;
	struct task_struct *task;
	struct file *owner;	/* NULL when detached */
	cpumask_var_t mask;
	u32 id;
	u32 method;
	u32 pages;
	int cpu;		/* the initiator the thread is bound to */
	u64 period_ns;
	u64 duration_ns;
	/* Set by the thread when its duration has passed (reaping). */
	bool finished;
	/* Written by the thread only; read after kthread_stop(). */
	u64 issued;
	u64 total_cycles;
	u64 max_cycles;
	u64 alloc_failures;
	u64 throttled;
	u64 off_initiator;
};

/*
 * The per-target budget: for each CPU, the earliest time (ns, monotonic)
 * its next flush IPI from this module may be sent.  A sender reserves a
 * slot on every CPU it targets under the lock, then waits for it, so the
 * total rate any CPU receives stays at ENTRYBENCH_MAX_TARGET_RATE_HZ
 * however many generators and GLOBAL_FLUSH callers there are.
 */
#define EB_TARGET_GAP_NS	(NSEC_PER_SEC / ENTRYBENCH_MAX_TARGET_RATE_HZ)
static DEFINE_PER_CPU(u64, eb_budget_next);
static DEFINE_SPINLOCK(eb_budget_lock);

/* Cycles per millisecond: the IRQ-off budget of one chunk. */
static u64 eb_chunk_budget(void)
{
	return tsc_khz ? (u64)tsc_khz : 1000000ULL;
}

static __always_inline unsigned long eb_read_cr3(void)
{
	unsigned long v;

	asm volatile("mov %%cr3, %0" : "=r" (v) : : "memory");
	return v;
}

static __always_inline void eb_write_cr3(unsigned long v)
{
	asm volatile("mov %0, %%cr3" : : "r" (v) : "memory");
}

static __always_inline unsigned long eb_read_cr4(void)
{
	unsigned long v;

	asm volatile("mov %%cr4, %0" : "=r" (v) : : "memory");
	return v;
}

static __always_inline void eb_write_cr4(unsigned long v)
{
	asm volatile("mov %0, %%cr4" : : "r" (v) : "memory");
}

/* INVPCID types (SDM vol. 2, INVPCID). */
#define EB_INVPCID_ADDR			0	/* one address, one PCID, not global */
#define EB_INVPCID_CONTEXT		1	/* one PCID, not global */
#define EB_INVPCID_ALL_GLOBAL		2	/* every PCID, global included */
#define EB_INVPCID_ALL_NONGLOBAL	3	/* every PCID, not global */

/* INVPCID with a 16-byte descriptor {pcid, address}, as the SDM defines. */
static __always_inline void eb_invpcid(unsigned long type, unsigned long pcid,
				       unsigned long addr)
{
	struct { u64 pcid, addr; } desc = { pcid, addr };

	asm volatile("invpcid %[desc], %[type]"
		     : : [desc] "m" (desc), [type] "r" (type) : "memory");
}

/*
 * CR4.PGE cleared and set again: drops every translation, global ones
 * included (the series' fallback without INVPCID).  Caller has IRQs off
 * and @cr4 is this CPU's CR4 with PGE set.
 *
 * The kernel keeps a CR4 shadow (cpu_tlbstate.cr4) and pins some bits in
 * native_write_cr4(); neither is reachable from a module any more.  Both
 * stay right: IRQs are off, so nothing on this CPU updates CR4 between
 * the two writes (the kernel also changes CR4 only with IRQs off, and no
 * NMI handler writes it), no pinned bit is touched, and the second write
 * restores exactly the value read, which is what the shadow holds.
 */
static __always_inline void eb_cr4_pge_toggle(unsigned long cr4)
{
	eb_write_cr4(cr4 & ~X86_CR4_PGE);
	eb_write_cr4(cr4);
}

static bool eb_cr_writes_allowed(void)
{
#ifdef X86_FEATURE_XENPV
	/* A Xen PV kernel runs outside ring 0: CR writes would fault. */
	if (boot_cpu_has(X86_FEATURE_XENPV))
		return false;
#endif
	return true;
}

/* The series' flush: INVPCID type 2 if the CPU has it, else CR4.PGE twice. */
static bool eb_series_supported(unsigned long cr4)
{
	return boot_cpu_has(X86_FEATURE_INVPCID) ||
	       (boot_cpu_has(X86_FEATURE_PGE) && (cr4 & X86_CR4_PGE));
}

/*
 * Runs inside timed regions: static_cpu_has() is patched at module load,
 * so choosing the instruction costs no load and no branch there.
 */
static __always_inline void eb_series_flush(unsigned long cr4)
{
	if (static_cpu_has(X86_FEATURE_INVPCID))
		eb_invpcid(EB_INVPCID_ALL_GLOBAL, 0, 0);
	else
		eb_cr4_pge_toggle(cr4);
}

static bool eb_variant_supported(u32 v, unsigned long cr4)
{
	if (v != ENTRYBENCH_V_NOP && !eb_cr_writes_allowed())
		return false;

	switch (v) {
	case ENTRYBENCH_V_NOP:
	case ENTRYBENCH_V_CR3_FLUSH:
	case ENTRYBENCH_V_INVLPG:
		return true;
	case ENTRYBENCH_V_CR3_NOFLUSH:
		/* Bit 63 of CR3 is reserved (#GP) unless CR4.PCIDE is set. */
		return boot_cpu_has(X86_FEATURE_PCID) && (cr4 & X86_CR4_PCIDE);
	case ENTRYBENCH_V_INVPCID0:
	case ENTRYBENCH_V_INVPCID1:
	case ENTRYBENCH_V_INVPCID2:
	case ENTRYBENCH_V_INVPCID3:
		return boot_cpu_has(X86_FEATURE_INVPCID);
	case ENTRYBENCH_V_CR4_PGE:
		return boot_cpu_has(X86_FEATURE_PGE) && (cr4 & X86_CR4_PGE);
	case ENTRYBENCH_V_SERIES:
	case ENTRYBENCH_V_DEFERRED:
		return eb_series_supported(cr4);
	default:
		return false;
	}
}

static u32 eb_variants_mask(unsigned long cr4)
{
	u32 v, mask = 0;

	for (v = 0; v < ENTRYBENCH_V_COUNT; v++)
		if (eb_variant_supported(v, cr4))
			mask |= 1U << v;
	return mask;
}

/*
 * One flush of variant @v.  Caller has IRQs off and has checked
 * eb_variant_supported() against the CR4 of this CPU.  Returns 1 when the
 * deferred variant found its pending bit and flushed, else 0.
 */
static __always_inline int eb_flush_one(u32 v, unsigned long cr4)
{
	unsigned long cr3, pcid;

	switch (v) {
	case ENTRYBENCH_V_NOP:
		barrier();
		break;
	case ENTRYBENCH_V_CR3_NOFLUSH:
		/* Same mm, same PCID: loads CR3 without dropping entries. */
		cr3 = eb_read_cr3();
		eb_write_cr3(cr3 | X86_CR3_PCID_NOFLUSH);
		break;
	case ENTRYBENCH_V_CR3_FLUSH:
		/* Same mm, same PCID: drops that PCID's non-global entries. */
		cr3 = eb_read_cr3();
		eb_write_cr3(cr3);
		break;
	case ENTRYBENCH_V_INVPCID0:
	case ENTRYBENCH_V_INVPCID1:
		/* PCID must be 0 unless CR4.PCIDE, else INVPCID raises #GP. */
		pcid = (cr4 & X86_CR4_PCIDE) ? (eb_read_cr3() & X86_CR3_PCID_MASK) : 0;
		if (v == ENTRYBENCH_V_INVPCID0)
			eb_invpcid(EB_INVPCID_ADDR, pcid,
				   (unsigned long)&eb_target_word);
		else
			eb_invpcid(EB_INVPCID_CONTEXT, pcid, 0);
		break;
	case ENTRYBENCH_V_INVPCID2:
		eb_invpcid(EB_INVPCID_ALL_GLOBAL, 0, 0);
		break;
	case ENTRYBENCH_V_INVPCID3:
		eb_invpcid(EB_INVPCID_ALL_NONGLOBAL, 0, 0);
		break;
	case ENTRYBENCH_V_CR4_PGE:
		eb_cr4_pge_toggle(cr4);
		break;
	case ENTRYBENCH_V_INVLPG:
		asm volatile("invlpg (%0)" : : "r" (&eb_target_word) : "memory");
		break;
	case ENTRYBENCH_V_SERIES:
		eb_series_flush(cr4);
		break;
	case ENTRYBENCH_V_DEFERRED:
		/* One locked RMW on every entry; the flush only when asked. */
		if (atomic_fetch_andnot(EB_DEFER_PENDING,
					this_cpu_ptr(&eb_defer_state)) &
		    EB_DEFER_PENDING) {
			eb_series_flush(cr4);
			return 1;
		}
		break;
	}
	return 0;
}

/* Puts the target's translation in the TLB before a flush that drops it. */
static __always_inline void eb_prepare(u32 v)
{
	if (v == ENTRYBENCH_V_INVPCID0 || v == ENTRYBENCH_V_INVLPG)
		(void)READ_ONCE(eb_target_word);
}

static long eb_ioctl_info(void __user *uarg)
{
	struct entrybench_info info;
	unsigned long cr4;
	unsigned int cpu;

	memset(&info, 0, sizeof(info));
	info.abi_version = ENTRYBENCH_ABI_VERSION;
	info.nr_cpu_ids = nr_cpu_ids;
	info.tsc_khz = tsc_khz;

	preempt_disable();
	cr4 = eb_read_cr4();
	preempt_enable();
	info.cr4 = cr4;

	if (boot_cpu_has(X86_FEATURE_PCID))
		info.flags |= ENTRYBENCH_F_PCID;
	if (boot_cpu_has(X86_FEATURE_INVPCID))
		info.flags |= ENTRYBENCH_F_INVPCID;
	if (boot_cpu_has(X86_FEATURE_PGE))
		info.flags |= ENTRYBENCH_F_PGE;
	if (boot_cpu_has(X86_FEATURE_PTI))
		info.flags |= ENTRYBENCH_F_PTI;
#ifdef X86_FEATURE_INVLPGB
	if (boot_cpu_has(X86_FEATURE_INVLPGB))
		info.flags |= ENTRYBENCH_F_INVLPGB;
#endif
	if (boot_cpu_data.extended_cpuid_level >= 0x80000008 &&
	    (cpuid_ebx(0x80000008) & BIT(3)))
		info.flags |= ENTRYBENCH_F_INVLPGB_CPUID;
	if (cr4 & X86_CR4_PCIDE)
		info.flags |= ENTRYBENCH_F_CR4_PCIDE;
	if (cr4 & X86_CR4_PGE)
		info.flags |= ENTRYBENCH_F_CR4_PGE;
	if (boot_cpu_has(X86_FEATURE_HYPERVISOR))
		info.flags |= ENTRYBENCH_F_HYPERVISOR;

	info.variants_supported = eb_variants_mask(cr4);
	info.methods_supported = (1U << ENTRYBENCH_M_COUNT) - 1;
	for_each_online_cpu(cpu)
		if (cpu < ENTRYBENCH_MASK_WORDS * 64)
			info.online_mask[cpu / 64] |= 1ULL << (cpu % 64);

	if (copy_to_user(uarg, &info, sizeof(info)))
		return -EFAULT;
	return 0;
}

static long eb_ioctl_flush_timed(void __user *uarg)
{
	struct entrybench_flush_timed a;
	u64 __user *out;
	u64 *buf, budget, overhead = U64_MAX;
	u32 done = 0, chunks = 0, cpu = U32_MAX;
	unsigned long flags, cr4;
	long ret = 0;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if (a.variant >= ENTRYBENCH_V_COUNT || a.iterations == 0 ||
	    a.iterations > ENTRYBENCH_MAX_ITERATIONS || !a.cycles_ptr)
		return -EINVAL;
	out = u64_to_user_ptr(a.cycles_ptr);
	if (!access_ok(out, (size_t)a.iterations * sizeof(u64)))
		return -EFAULT;

	/* The caller is told (ENOMEM); a failure is not a kernel warning. */
	buf = kvmalloc_array(EB_CHUNK_SAMPLES, sizeof(u64),
			     GFP_KERNEL | __GFP_NOWARN);
	if (!buf)
		return -ENOMEM;
	budget = eb_chunk_budget();

	while (done < a.iterations) {
		u32 want = min_t(u32, a.iterations - done, EB_CHUNK_SAMPLES);
		u32 i, this_cpu;
		u64 start, t0, t1;

		preempt_disable();
		local_irq_save(flags);
		this_cpu = smp_processor_id();
		cr4 = eb_read_cr4();
		if (!eb_variant_supported(a.variant, cr4)) {
			local_irq_restore(flags);
			preempt_enable();
			ret = -EOPNOTSUPP;
			break;
		}
		if (chunks == 0) {
			/* The floor: two back-to-back ordered TSC reads. */
			for (i = 0; i < EB_OVERHEAD_RUNS; i++) {
				t0 = rdtsc_ordered();
				t1 = rdtsc_ordered();
				overhead = min(overhead, t1 - t0);
			}
		}
		start = rdtsc_ordered();
		for (i = 0; i < want; ) {
			eb_prepare(a.variant);
			t0 = rdtsc_ordered();
			eb_flush_one(a.variant, cr4);
			t1 = rdtsc_ordered();
			buf[i++] = t1 - t0;
			/* Bound the IRQ-off section to ~1 ms. */
			if (t1 - start > budget)
				break;
		}
		local_irq_restore(flags);
		preempt_enable();

		if (chunks == 0)
			cpu = this_cpu;
		else if (cpu != this_cpu)
			cpu = U32_MAX;	/* migrated between chunks */
		chunks++;
		if (copy_to_user(out + done, buf, (size_t)i * sizeof(u64))) {
			ret = -EFAULT;
			break;
		}
		done += i;
		/* Ctrl-C must not wait for a million flushes. */
		if (signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		cond_resched();
	}
	kvfree(buf);
	if (ret)
		return ret;

	a.cpu = cpu;
	a.chunks = chunks;
	a.overhead = overhead;
	if (copy_to_user(uarg, &a, sizeof(a)))
		return -EFAULT;
	return 0;
}

/*
 * The emulated flush-on-entry: one flush, then straight back out.  Returns
 * 1 when the deferred variant flushed (the pending bit was set), else 0.
 */
static long eb_ioctl_entry_flush(unsigned long variant)
{
	unsigned long flags, cr4;
	long ret;

	if (variant >= ENTRYBENCH_V_COUNT)
		return -EINVAL;
	local_irq_save(flags);
	cr4 = eb_read_cr4();
	if (eb_variant_supported(variant, cr4))
		ret = eb_flush_one(variant, cr4);
	else
		ret = -EOPNOTSUPP;
	local_irq_restore(flags);
	return ret;
}

/* Turns a user CPU bitmap into a cpumask; every CPU must be online. */
static int eb_mask_from_user(const u64 *words, struct cpumask *mask)
{
	unsigned int w, b;
	bool any = false;

	cpumask_clear(mask);
	for (w = 0; w < ENTRYBENCH_MASK_WORDS; w++) {
		for (b = 0; b < 64; b++) {
			unsigned int cpu = w * 64 + b;

			if (!(words[w] & (1ULL << b)))
				continue;
			if (cpu >= nr_cpu_ids || !cpu_online(cpu))
				return -EINVAL;
			cpumask_set_cpu(cpu, mask);
			any = true;
		}
	}
	return any ? 0 : -EINVAL;
}

/*
 * The kernel's __flush_tlb_all() is KVM-only now; this is the same flush
 * of everything, global entries included (IPI handlers run IRQs off).
 */
static void eb_ipi_flush_all(void *unused)
{
	unsigned long cr4;

	if (!eb_cr_writes_allowed())
		return;
	cr4 = eb_read_cr4();
	if (eb_series_supported(cr4))
		eb_series_flush(cr4);
	else
		eb_write_cr3(eb_read_cr3());	/* no PGE: nothing is global */
}

/* Marks every CPU of @mask: "flush on your next entry". */
static void eb_defer_mark(const struct cpumask *mask)
{
	unsigned int cpu;

	for_each_cpu(cpu, mask)
		atomic_or(EB_DEFER_PENDING, per_cpu_ptr(&eb_defer_state, cpu));
}

static void eb_ipi_sync_core(void *unused)
{
	sync_core();
}

/*
 * Whoever runs an eb_budget_wait() must stop waiting: kthread_stop() for
 * a generator, any signal for a caller in user context.
 */
static bool eb_should_stop(void)
{
	if (current->flags & PF_KTHREAD)
		return kthread_should_stop();
	return signal_pending(current);
}

/*
 * Reserves one flush IPI to every CPU of @mask in the per-target budget
 * and sleeps until it may be sent.  Sets *@throttled if it had to wait.
 * Returns -EINTR if told to stop while waiting (eb_should_stop()).
 */
static int eb_budget_wait(const struct cpumask *mask, bool *throttled)
{
	u64 now = ktime_get_ns(), at = now;
	unsigned int cpu;
	ktime_t kt;

	spin_lock(&eb_budget_lock);
	for_each_cpu(cpu, mask)
		at = max(at, per_cpu(eb_budget_next, cpu));
	for_each_cpu(cpu, mask)
		per_cpu(eb_budget_next, cpu) = at + EB_TARGET_GAP_NS;
	spin_unlock(&eb_budget_lock);

	*throttled = at > now;
	if (!*throttled)
		return 0;
	kt = ns_to_ktime(at);
	/* Set the state before the check: a stop or signal then wakes us. */
	set_current_state(TASK_INTERRUPTIBLE);
	if (!eb_should_stop())
		schedule_hrtimeout_range(&kt, EB_TARGET_GAP_NS / 2,
					 HRTIMER_MODE_ABS);
	__set_current_state(TASK_RUNNING);
	return eb_should_stop() ? -EINTR : 0;
}

/* The CPUs a flush of @method interrupts; NULL when it sends no IPI. */
static const struct cpumask *eb_ipi_targets(u32 method,
					    const struct cpumask *mask)
{
	switch (method) {
	case ENTRYBENCH_M_FLUSH_ALL:
	case ENTRYBENCH_M_SYNC_CORE:
		return mask;
	case ENTRYBENCH_M_KERNEL_RANGE:
		/* flush_tlb_kernel_range() interrupts every online CPU. */
		return cpu_online_mask;
	default:
		return NULL;
	}
}

/* What one kernel-side global flush did. */
struct eb_flush_result {
	u64 cycles;		/* the initiator's, TSC */
	bool throttled;		/* waited for the per-target budget */
};

/* The vmalloc, vfree and vm_unmap_aliases of the kernel_range method. */
static int eb_kernel_range_once(u32 pages, u64 *cycles)
{
	u64 t0, t1;
	void *p;

	/*
	 * Drain lazily freed areas first so the flush below covers only
	 * our range.  The flush reaches every online CPU: the mask cannot
	 * narrow it (that is the point of measuring it).
	 */
	vm_unmap_aliases();
	/* Failure is an outcome the caller counts, not a kernel warning. */
	p = __vmalloc((unsigned long)pages * PAGE_SIZE,
		      GFP_KERNEL | __GFP_NOWARN);
	if (!p)
		return -ENOMEM;
	memset(p, 0, (size_t)pages * PAGE_SIZE);
	/*
	 * vm_unmap_aliases() takes a mutex, so this region stays
	 * preemptible: it is the time a kernel caller waits, scheduling
	 * included.  Generators are bound to their CPU; a user caller
	 * that migrates between two unsynchronised TSCs reads 0.
	 */
	t0 = rdtsc_ordered();
	vfree(p);
	vm_unmap_aliases();
	t1 = rdtsc_ordered();
	*cycles = t1 > t0 ? t1 - t0 : 0;
	return 0;
}

/*
 * One kernel-side global flush, after waiting for the targets' budget.
 * May sleep.  Returns 0, -ENOMEM (kernel_range could not allocate) or
 * -EINTR (stopped while waiting).
 */
static int eb_global_once(u32 method, const struct cpumask *mask, u32 pages,
			  struct eb_flush_result *res)
{
	const struct cpumask *targets = eb_ipi_targets(method, mask);
	u64 t0, t1;
	int ret;

	res->throttled = false;
	if (targets) {
		ret = eb_budget_wait(targets, &res->throttled);
		if (ret)
			return ret;
	}
	if (method == ENTRYBENCH_M_KERNEL_RANGE)
		return eb_kernel_range_once(pages, &res->cycles);

	/* Both TSC reads on one CPU, nothing scheduled in between. */
	preempt_disable();
	t0 = rdtsc_ordered();
	if (method == ENTRYBENCH_M_FLUSH_ALL)
		on_each_cpu_mask(mask, eb_ipi_flush_all, NULL, true);
	else if (method == ENTRYBENCH_M_SYNC_CORE)
		on_each_cpu_mask(mask, eb_ipi_sync_core, NULL, true);
	else
		eb_defer_mark(mask);
	t1 = rdtsc_ordered();
	preempt_enable();
	res->cycles = t1 - t0;
	return 0;
}

static long eb_ioctl_global_flush(void __user *uarg)
{
	struct entrybench_global_flush *a;
	struct eb_flush_result r;
	cpumask_var_t mask;
	u64 __user *out;
	long ret = 0;
	u32 i;

	a = kmalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		return -ENOMEM;
	if (!zalloc_cpumask_var(&mask, GFP_KERNEL)) {
		kfree(a);
		return -ENOMEM;
	}
	if (copy_from_user(a, uarg, sizeof(*a))) {
		ret = -EFAULT;
		goto out;
	}
	if (a->method >= ENTRYBENCH_M_COUNT || a->count == 0 ||
	    a->count > ENTRYBENCH_MAX_GLOBAL_COUNT ||
	    a->pages > ENTRYBENCH_MAX_PAGES || a->__pad) {
		ret = -EINVAL;
		goto out;
	}
	/*
	 * A CPU that goes offline after this check is simply not
	 * interrupted: on_each_cpu_mask() skips offline CPUs.
	 */
	ret = eb_mask_from_user(a->cpumask, mask);
	if (ret)
		goto out;
	out = u64_to_user_ptr(a->cycles_ptr);
	if (out && !access_ok(out, (size_t)a->count * sizeof(u64))) {
		ret = -EFAULT;
		goto out;
	}

	a->total_cycles = 0;
	a->max_cycles = 0;
	a->throttled = 0;
	for (i = 0; i < a->count; i++) {
		ret = eb_global_once(a->method, mask, a->pages ? a->pages : 1,
				     &r);
		if (ret)
			goto out;
		a->total_cycles += r.cycles;
		a->max_cycles = max(a->max_cycles, r.cycles);
		a->throttled += r.throttled;
		if (out && put_user(r.cycles, out + i)) {
			ret = -EFAULT;
			goto out;
		}
		/* A kernel_range call at its limits takes minutes. */
		if (signal_pending(current)) {
			ret = -EINTR;
			goto out;
		}
		cond_resched();
	}
	if (copy_to_user(uarg, a, sizeof(*a)))
		ret = -EFAULT;
out:
	free_cpumask_var(mask);
	kfree(a);
	return ret;
}

/* Sleeps until the generator's next period (or kthread_stop()). */
static void eb_gen_sleep_until(ktime_t next)
{
	set_current_state(TASK_INTERRUPTIBLE);
	if (!kthread_should_stop() && !freezing(current))
		schedule_hrtimeout_range(&next, 0, HRTIMER_MODE_ABS);
	__set_current_state(TASK_RUNNING);
}

/* One flush of generator @g, counted. */
static void eb_gen_once(struct eb_gen *g)
{
	struct eb_flush_result r;
	int ret;

	/* The initiator went offline: the scheduler moved the thread. */
	if (raw_smp_processor_id() != g->cpu)
		g->off_initiator++;
	ret = eb_global_once(g->method, g->mask, g->pages, &r);
	if (ret == -ENOMEM)
		g->alloc_failures++;
	if (ret)
		return;
	g->issued++;
	g->throttled += r.throttled;
	g->total_cycles += r.cycles;
	g->max_cycles = max(g->max_cycles, r.cycles);
}

static int eb_gen_thread(void *data)
{
	struct eb_gen *g = data;
	ktime_t next = ktime_get();
	ktime_t end = ktime_add_ns(next, g->duration_ns);

	/* Suspend freezes the generator instead of letting it flush on. */
	set_freezable();
	while (!kthread_should_stop()) {
		ktime_t now = ktime_get();

		try_to_freeze();
		if (g->duration_ns && ktime_after(now, end)) {
			/* Done: a detached one is reaped by the next START. */
			WRITE_ONCE(g->finished, true);
			set_current_state(TASK_INTERRUPTIBLE);
			if (!kthread_should_stop() && !freezing(current))
				schedule();
			__set_current_state(TASK_RUNNING);
			continue;
		}

		eb_gen_once(g);

		next = ktime_add_ns(next, g->period_ns);
		now = ktime_get();
		if (ktime_before(next, now))
			next = now;	/* fell behind: do not burst to catch up */
		eb_gen_sleep_until(next);
		/* An expired timeout may not schedule at all: stay fair. */
		cond_resched();
	}
	return 0;
}

static void eb_gen_free(struct eb_gen *g)
{
	free_cpumask_var(g->mask);
	kfree(g);
}

/* Stops @g (already off the list) and frees it. */
static void eb_gen_stop(struct eb_gen *g, struct entrybench_generator *res)
{
	kthread_stop(g->task);
	if (res) {
		res->issued = g->issued;
		res->total_cycles = g->total_cycles;
		res->max_cycles = g->max_cycles;
		res->alloc_failures = g->alloc_failures;
		res->throttled = g->throttled;
		res->off_initiator = g->off_initiator;
	}
	eb_gen_free(g);
}

/* Stops and frees every generator of @victims (off the list already). */
static void eb_gen_stop_list(struct list_head *victims)
{
	struct eb_gen *g, *tmp;

	list_for_each_entry_safe(g, tmp, victims, node) {
		list_del(&g->node);
		eb_gen_stop(g, NULL);
	}
}

/*
 * Stops the generators owned by @file, all of them if @file is NULL, or
 * (@finished_detached) only detached ones whose duration has passed.
 */
static void eb_gen_stop_matching(struct file *file, bool finished_detached)
{
	struct eb_gen *g, *tmp;
	LIST_HEAD(victims);
	bool stop;

	mutex_lock(&eb_gen_lock);
	list_for_each_entry_safe(g, tmp, &eb_gens, node) {
		if (finished_detached)
			stop = !g->owner && READ_ONCE(g->finished);
		else
			stop = !file || g->owner == file;
		if (stop) {
			list_move_tail(&g->node, &victims);
			eb_gen_count--;
		}
	}
	mutex_unlock(&eb_gen_lock);
	eb_gen_stop_list(&victims);
}

/*
 * Takes generator @id off the list if @file may stop it (its own, or a
 * detached one); NULL if there is no such generator.
 */
static struct eb_gen *eb_gen_take(struct file *file, u32 id)
{
	struct eb_gen *g, *found = NULL;

	mutex_lock(&eb_gen_lock);
	list_for_each_entry(g, &eb_gens, node) {
		if (g->id == id && (g->owner == file || !g->owner)) {
			found = g;
			list_del(&g->node);
			eb_gen_count--;
			break;
		}
	}
	mutex_unlock(&eb_gen_lock);
	return found;
}

/* The arguments of GENERATOR_START a generator can be built from. */
static bool eb_gen_args_valid(const struct entrybench_generator *a)
{
	if (a->method >= ENTRYBENCH_M_COUNT || a->rate_hz == 0 ||
	    a->rate_hz > ENTRYBENCH_MAX_RATE_HZ ||
	    a->duration_ms > ENTRYBENCH_MAX_DURATION_MS ||
	    a->pages > ENTRYBENCH_MAX_PAGES ||
	    (a->flags & ~ENTRYBENCH_GEN_DETACH) || a->__pad)
		return false;
	/* Nobody could list it: a detached generator must end by itself. */
	if ((a->flags & ENTRYBENCH_GEN_DETACH) && !a->duration_ms)
		return false;
	/* Only -1 means "pick one". */
	return a->initiator_cpu >= -1;
}

/*
 * The initiator: @want, or with -1 the first online CPU not in @mask; it
 * must be online and not a target.  -1 if there is none.  Caller holds
 * cpus_read_lock().
 */
static int eb_gen_initiator(int want, const struct cpumask *mask)
{
	int cpu;

	if (want >= 0) {
		if (want >= nr_cpu_ids || !cpu_online(want) ||
		    cpumask_test_cpu(want, mask))
			return -1;
		return want;
	}
	for_each_online_cpu(cpu)
		if (!cpumask_test_cpu(cpu, mask))
			return cpu;
	return -1;
}

/*
 * Creates, binds and starts @g's thread on @cpu and lists it; its id in
 * *@id.  Caller holds cpus_read_lock(), so @cpu stays online until the
 * thread is bound and woken.  Once listed, @g may be stopped and freed by
 * anyone at any time: the caller must not touch it after success.
 */
static int eb_gen_launch(struct eb_gen *g, int cpu, u32 *id)
{
	struct task_struct *task;

	mutex_lock(&eb_gen_lock);
	if (eb_gen_count >= ENTRYBENCH_MAX_GENERATORS) {
		mutex_unlock(&eb_gen_lock);
		return -EBUSY;
	}
	g->id = eb_next_gen_id++;
	if (!eb_next_gen_id)
		eb_next_gen_id = 1;
	task = kthread_create(eb_gen_thread, g, "entrybench-gen%u", g->id);
	if (IS_ERR(task)) {
		mutex_unlock(&eb_gen_lock);
		return PTR_ERR(task);
	}
	kthread_bind(task, cpu);
	g->task = task;
	g->cpu = cpu;
	list_add_tail(&g->node, &eb_gens);
	eb_gen_count++;
	*id = g->id;
	wake_up_process(task);
	mutex_unlock(&eb_gen_lock);
	return 0;
}

static long eb_ioctl_gen_start(struct file *file, void __user *uarg)
{
	struct entrybench_generator *a;
	struct eb_gen *g = NULL;
	int cpu;
	long ret;

	a = kmalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		return -ENOMEM;
	if (copy_from_user(a, uarg, sizeof(*a))) {
		ret = -EFAULT;
		goto out;
	}
	if (!eb_gen_args_valid(a)) {
		ret = -EINVAL;
		goto out;
	}
	/* Finished detached generators no longer count toward the limit. */
	eb_gen_stop_matching(NULL, true);

	g = kzalloc(sizeof(*g), GFP_KERNEL);
	if (!g || !zalloc_cpumask_var(&g->mask, GFP_KERNEL)) {
		kfree(g);
		ret = -ENOMEM;
		goto out;
	}
	g->method = a->method;
	g->pages = a->pages ? a->pages : 1;
	g->period_ns = div_u64(NSEC_PER_SEC, a->rate_hz);
	g->duration_ns = (u64)a->duration_ms * NSEC_PER_MSEC;
	g->owner = (a->flags & ENTRYBENCH_GEN_DETACH) ? NULL : file;

	/* No CPU comes or goes from the checks until the thread runs. */
	cpus_read_lock();
	ret = eb_mask_from_user(a->cpumask, g->mask);
	cpu = ret ? -1 : eb_gen_initiator(a->initiator_cpu, g->mask);
	if (cpu < 0)
		ret = -EINVAL;
	else
		ret = eb_gen_launch(g, cpu, &a->id);
	cpus_read_unlock();
	if (ret) {
		eb_gen_free(g);
		goto out;
	}
	a->initiator_cpu = cpu;

	if (copy_to_user(uarg, a, sizeof(*a))) {
		/*
		 * The caller never learns the id: a detached generator would
		 * run on unseen.  Stop it; another thread may have stopped
		 * it already (ids are guessable), so look it up again.
		 */
		g = eb_gen_take(file, a->id);
		if (g)
			eb_gen_stop(g, NULL);
		ret = -EFAULT;
	}
out:
	kfree(a);
	return ret;
}

static long eb_ioctl_gen_stop(struct file *file, void __user *uarg)
{
	struct entrybench_generator a;
	struct eb_gen *found;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if (a.id == 0)
		return -EINVAL;

	found = eb_gen_take(file, a.id);
	if (!found)
		return -EINVAL;

	eb_gen_stop(found, &a);
	if (copy_to_user(uarg, &a, sizeof(a)))
		return -EFAULT;
	return 0;
}

/* Raw CR and TLB access: both rights, of whoever calls now. */
static bool eb_caller_allowed(void)
{
	return capable(CAP_SYS_ADMIN) && capable(CAP_SYS_RAWIO);
}

static long eb_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	/* The fd may have been passed to a process without the rights. */
	if (!eb_caller_allowed())
		return -EPERM;

	switch (cmd) {
	case ENTRYBENCH_IOC_INFO:
		return eb_ioctl_info(uarg);
	case ENTRYBENCH_IOC_FLUSH_TIMED:
		return eb_ioctl_flush_timed(uarg);
	case ENTRYBENCH_IOC_ENTRY_FLUSH:
		return eb_ioctl_entry_flush(arg);
	case ENTRYBENCH_IOC_GLOBAL_FLUSH:
		return eb_ioctl_global_flush(uarg);
	case ENTRYBENCH_IOC_GENERATOR_START:
		return eb_ioctl_gen_start(file, uarg);
	case ENTRYBENCH_IOC_GENERATOR_STOP:
		return eb_ioctl_gen_stop(file, uarg);
	default:
		return -ENOTTY;
	}
}

static int eb_open(struct inode *inode, struct file *file)
{
	/* Mode 0600 already limits this to root; CR writes want more. */
	if (!eb_caller_allowed())
		return -EPERM;
	return 0;
}

static int eb_release(struct inode *inode, struct file *file)
{
	eb_gen_stop_matching(file, false);
	return 0;
}

static const struct file_operations eb_fops = {
	.owner		= THIS_MODULE,
	.open		= eb_open,
	.release	= eb_release,
	.unlocked_ioctl	= eb_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice eb_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= ENTRYBENCH_DEVICE_NAME,
	.fops	= &eb_fops,
	.mode	= 0600,
};

static int __init entrybench_init(void)
{
	int ret = misc_register(&eb_misc);

	if (ret)
		return ret;
	pr_info("ABI %u, /dev/%s\n", ENTRYBENCH_ABI_VERSION,
		ENTRYBENCH_DEVICE_NAME);
	return 0;
}

static void __exit entrybench_exit(void)
{
	/* No fd is open (each holds a module reference): no new generators. */
	misc_deregister(&eb_misc);
	eb_gen_stop_matching(NULL, false);
	pr_info("unloaded\n");
}

module_init(entrybench_init);
module_exit(entrybench_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("entrybench developers");
MODULE_DESCRIPTION("Flush-on-entry emulation and kernel flush IPI generators for entrybench");
MODULE_VERSION("1");
