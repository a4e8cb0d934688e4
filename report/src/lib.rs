//! Everything that reads entrybench results: the result schema itself,
//! statistics, and the outputs users paste into mail (tables, plots,
//! compare, sizing).

pub mod load;
pub mod schema;
pub mod stats;
