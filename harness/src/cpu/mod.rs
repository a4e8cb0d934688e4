//! CPUID decoding, live or from a dump. (stub: issue 2)
