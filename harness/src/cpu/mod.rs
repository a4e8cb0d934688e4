//! CPUID decoding, live or from a dump of another machine.
//!
//! `source` says where register values come from (`LiveCpuid`,
//! `DumpCpuid`), `dump` parses dump files, `decode` turns any source into
//! `CpuFacts`, with the name tables in `uarch` and `tlb`.

mod decode;
mod dump;
mod source;
mod tlb;
mod uarch;

pub use decode::{decode, display_family_model};
pub use dump::{read_dump, DumpCpuid};
pub use source::{CpuidSource, LiveCpuid};
pub use uarch::{feature_check, uarch};

use crate::schema::CpuFacts;

/// Facts about the CPU this process runs on.
pub fn live_facts() -> CpuFacts {
    decode(&LiveCpuid, "live")
}
