//! /dev/entrybench: the ABI mirror (`abi`), a safe wrapper (`device`),
//! the module's self-test and fuzzers (`selftest`, `fuzz`, run by
//! `entrybench kmod` in the VM test). Its experiments are
//! `experiments::kmod`; the subcommand is `commands::kmod`.

pub mod abi;
pub mod device;
pub mod fuzz;
pub mod selftest;

pub use device::{available, Device, DeviceInfo, GeneratorHandle, GeneratorSpec, GeneratorStats};
