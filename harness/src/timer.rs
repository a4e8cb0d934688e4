//! Fenced TSC timer. (stub: issue 3)
