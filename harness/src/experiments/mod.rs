//! Experiment ids and how each is measured. (stub: issue 3)
