/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The ABI of /dev/entrybench, shared by the module and
 * user space (the Rust harness mirrors it in harness/src/kmod/abi.rs and
 * harness/tests/kmod_abi.rs proves the layouts match).
 *
 * Every structure uses fixed-width types with explicit padding so that
 * its layout is the same for every compiler and for Rust #[repr(C)].
 * Any incompatible change bumps ENTRYBENCH_ABI_VERSION.  New enum values
 * are compatible: INFO's *_supported masks say what a module knows.
 */
#ifndef _UAPI_ENTRYBENCH_H
#define _UAPI_ENTRYBENCH_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define ENTRYBENCH_ABI_VERSION		2
#define ENTRYBENCH_DEVICE_NAME		"entrybench"

/* Flush primitives (FLUSH_TIMED, ENTRY_FLUSH). */
enum entrybench_variant {
	ENTRYBENCH_V_NOP		= 0,
	ENTRYBENCH_V_CR3_NOFLUSH	= 1,	/* CR3 write, bit 63 set: needs CR4.PCIDE */
	ENTRYBENCH_V_CR3_FLUSH		= 2,	/* CR3 write: current PCID, not global */
	ENTRYBENCH_V_INVPCID0		= 3,	/* individual address */
	ENTRYBENCH_V_INVPCID1		= 4,	/* single context */
	ENTRYBENCH_V_INVPCID2		= 5,	/* all contexts incl. global */
	ENTRYBENCH_V_INVPCID3		= 6,	/* all contexts excl. global */
	ENTRYBENCH_V_CR4_PGE		= 7,	/* CR4.PGE cleared and set again */
	ENTRYBENCH_V_INVLPG		= 8,	/* one kernel address */
	/*
	 * What the flush-on-entry series runs: INVPCID type 2 when the CPU
	 * has INVPCID, else CR4.PGE toggled twice (chosen by the module).
	 */
	ENTRYBENCH_V_SERIES		= 9,
	/*
	 * The deferred strategy: one atomic read-modify-write of this CPU's
	 * state word; the SERIES flush only if a remote CPU set the
	 * flush-pending bit (ENTRYBENCH_M_DEFER_MARK).  ENTRY_FLUSH returns 1
	 * when it flushed, 0 when the bit was clear.
	 */
	ENTRYBENCH_V_DEFERRED		= 10,
	ENTRYBENCH_V_COUNT		= 11,
};

/* Kernel-side global flushes (GLOBAL_FLUSH, GENERATOR_START). */
enum entrybench_method {
	ENTRYBENCH_M_FLUSH_ALL		= 0,	/* on_each_cpu_mask + a full flush */
	ENTRYBENCH_M_KERNEL_RANGE	= 1,	/* __vmalloc, vfree, vm_unmap_aliases */
	ENTRYBENCH_M_SYNC_CORE		= 2,	/* on_each_cpu_mask + sync_core */
	ENTRYBENCH_M_DEFER_MARK		= 3,	/* no IPI: set the targets' pending bit */
	ENTRYBENCH_M_COUNT		= 4,
};

/* entrybench_info.flags: the kernel's view (boot_cpu_has, CR4). */
#define ENTRYBENCH_F_PCID		(1ULL << 0)
#define ENTRYBENCH_F_INVPCID		(1ULL << 1)
#define ENTRYBENCH_F_PGE		(1ULL << 2)
#define ENTRYBENCH_F_PTI		(1ULL << 3)
#define ENTRYBENCH_F_INVLPGB		(1ULL << 4)	/* kernel feature bit (>= 6.15) */
#define ENTRYBENCH_F_INVLPGB_CPUID	(1ULL << 5)	/* CPUID 0x80000008 EBX[3] */
#define ENTRYBENCH_F_CR4_PCIDE		(1ULL << 6)
#define ENTRYBENCH_F_CR4_PGE		(1ULL << 7)
#define ENTRYBENCH_F_HYPERVISOR		(1ULL << 8)

/* Limits: larger requests fail with -EINVAL. */
#define ENTRYBENCH_MAX_ITERATIONS	(1U << 20)
#define ENTRYBENCH_MAX_GLOBAL_COUNT	100000U
#define ENTRYBENCH_MAX_PAGES		1024U
#define ENTRYBENCH_MAX_RATE_HZ		100000U
#define ENTRYBENCH_MAX_DURATION_MS	3600000U
#define ENTRYBENCH_MAX_GENERATORS	8U
/*
 * Flush IPIs per second any one CPU receives from the module, generators
 * and GLOBAL_FLUSH callers together: a sender past the budget waits.
 */
#define ENTRYBENCH_MAX_TARGET_RATE_HZ	100000U
#define ENTRYBENCH_MASK_WORDS		16	/* CPUs 0..1023 */

struct entrybench_info {
	__u32 abi_version;
	__u32 nr_cpu_ids;
	__u64 flags;			/* ENTRYBENCH_F_* */
	__u64 cr4;			/* raw CR4 of the CPU that served the call */
	__u64 tsc_khz;
	__u32 variants_supported;	/* bit per entrybench_variant */
	__u32 methods_supported;	/* bit per entrybench_method */
	__u64 online_mask[ENTRYBENCH_MASK_WORDS];
};

struct entrybench_flush_timed {
	__u32 variant;			/* in */
	__u32 iterations;		/* in: 1..ENTRYBENCH_MAX_ITERATIONS */
	__u64 cycles_ptr;		/* in: user __u64[iterations] */
	__u32 cpu;			/* out: CPU that ran the loop */
	__u32 chunks;			/* out: IRQ-off sections used */
	__u64 overhead;			/* out: min cycles of an empty timed region */
};

struct entrybench_global_flush {
	__u32 method;			/* in */
	__u32 count;			/* in: 1..ENTRYBENCH_MAX_GLOBAL_COUNT */
	__u32 pages;			/* in: kernel_range size; 0 means 1 */
	__u32 __pad;			/* must be zero */
	__u64 cycles_ptr;		/* in: user __u64[count], or 0 */
	__u64 total_cycles;		/* out */
	__u64 max_cycles;		/* out */
	__u64 throttled;		/* out: flushes that waited for the target budget */
	__u64 cpumask[ENTRYBENCH_MASK_WORDS];	/* in: target CPUs, online */
};

/*
 * entrybench_generator.flags.  A detached generator outlives close() of
 * its fd and needs a duration: it stops by itself (and is then reaped by
 * the next GENERATOR_START), or on STOP of its id, or on unload.
 */
#define ENTRYBENCH_GEN_DETACH		(1U << 0)

struct entrybench_generator {
	__u32 method;			/* in */
	__u32 rate_hz;			/* in: 1..ENTRYBENCH_MAX_RATE_HZ */
	__u32 duration_ms;		/* in: 0 = until stopped (not with DETACH) */
	__u32 pages;			/* in: kernel_range size; 0 means 1 */
	__s32 initiator_cpu;		/* in: -1 = first online CPU not targeted */
	__u32 flags;			/* in: ENTRYBENCH_GEN_* */
	__u32 id;			/* out (START), in (STOP) */
	__u32 __pad;			/* must be zero */
	__u64 issued;			/* out (STOP): flushes issued */
	__u64 total_cycles;		/* out (STOP): initiator cycles */
	__u64 max_cycles;		/* out (STOP) */
	__u64 alloc_failures;		/* out (STOP): kernel_range areas not allocated */
	__u64 throttled;		/* out (STOP): flushes that waited for the target budget */
	__u64 off_initiator;		/* out (STOP): flushes issued from another CPU */
	__u64 cpumask[ENTRYBENCH_MASK_WORDS];	/* in: target CPUs, online */
};

/*
 * Every ioctl needs CAP_SYS_ADMIN and CAP_SYS_RAWIO in the caller, checked
 * at open and again on each call (an fd passed on does not carry the
 * right), else -EPERM.  The long ones (FLUSH_TIMED, GLOBAL_FLUSH) stop
 * with -EINTR when a signal is pending.
 */
#define ENTRYBENCH_IOC_MAGIC		0xEB

#define ENTRYBENCH_IOC_INFO \
	_IOR(ENTRYBENCH_IOC_MAGIC, 0, struct entrybench_info)
#define ENTRYBENCH_IOC_FLUSH_TIMED \
	_IOWR(ENTRYBENCH_IOC_MAGIC, 1, struct entrybench_flush_timed)
/*
 * The argument is the variant itself (no copy_from_user on the path); the
 * return value is 1 if the deferred variant flushed, else 0.
 */
#define ENTRYBENCH_IOC_ENTRY_FLUSH \
	_IO(ENTRYBENCH_IOC_MAGIC, 2)
#define ENTRYBENCH_IOC_GLOBAL_FLUSH \
	_IOWR(ENTRYBENCH_IOC_MAGIC, 3, struct entrybench_global_flush)
#define ENTRYBENCH_IOC_GENERATOR_START \
	_IOWR(ENTRYBENCH_IOC_MAGIC, 4, struct entrybench_generator)
#define ENTRYBENCH_IOC_GENERATOR_STOP \
	_IOWR(ENTRYBENCH_IOC_MAGIC, 5, struct entrybench_generator)

#endif /* _UAPI_ENTRYBENCH_H */
