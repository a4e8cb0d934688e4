//! The running kernel's view: /proc, /sys, perf. (stub: issue 2)
