//! /dev/entrybench: the ABI mirror (`abi`), a safe wrapper (`device`),
//! the module's self-test and fuzzers (`selftest`, `fuzz`, run by
//! `entrybench kmod` in the VM test). Its experiments are
//! `experiments::kmod`; the subcommand is `commands::kmod`.

pub mod abi;
pub mod device;
pub mod fuzz;
pub mod selftest;

/// A kernel (direct-map) address: every pointer argument set to it must be
/// refused with EFAULT (the self-test's and the fuzzers' bad pointer).
pub(crate) const KERNEL_ADDR: u64 = 0xffff_8880_0000_0000;

pub use device::{available, Device, DeviceInfo, GeneratorHandle, GeneratorSpec, GeneratorStats};
