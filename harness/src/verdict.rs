//! The one-paragraph verdict for a machine. (stub: issue 2)
