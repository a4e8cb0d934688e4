//! Choosing and pinning victim and initiator CPUs. (stub: issue 3)
