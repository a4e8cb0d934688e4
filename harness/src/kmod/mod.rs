//! /dev/entrybench: the ABI mirror (`abi`), a safe wrapper (`device`), the
//! kernel-module experiments (`backend`, `entry_flush`, `scenario`) and
//! `entrybench kmod` (`cmd`).

pub mod abi;
pub mod backend;
pub mod cmd;
pub mod device;
pub mod entry_flush;
pub mod fuzz;
pub mod scenario;
pub mod selftest;

pub use device::{available, Device, DeviceInfo, GeneratorHandle, GeneratorSpec, GeneratorStats};
