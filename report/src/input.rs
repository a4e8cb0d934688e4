//! Foreign formats read into result files: criterion's saved benches
//! (`criterion`). Reading, so it sits apart from `output`.

pub mod criterion;
