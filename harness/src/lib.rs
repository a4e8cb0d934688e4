//! entrybench: measures what a kernel entry costs on x86 and compares
//! IPI-based TLB flushing with flushing on kernel entry.
//!
//! Layout: `cpu` decodes CPUID (live or from a dump), `platform` reads the
//! running kernel's view, `detect` joins them into an `Environment`;
//! `timer`, `placement` and `experiments` (every experiment id, the
//! kernel module's too) measure; `schedule` drives a suite and writes a
//! result file, `run` prints its summary; `kmod` talks to /dev/entrybench;
//! `commands` holds the subcommand handlers, one file each (`report`,
//! `compare` and `size` are glue into the `report` crate).

pub mod bench_measurement;
pub mod cli;
pub mod commands;
pub mod cpu;
pub mod detect;
pub mod experiments;
pub mod kmod;
pub mod perf;
pub mod placement;
pub mod platform;
pub mod run;
pub mod schedule;
pub mod timer;
pub mod tracefs;
pub mod verdict;

pub use report::model::schema;
