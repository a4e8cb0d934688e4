//! Everything a user reads: the report's tables (`report_tables`,
//! `burst`, `scenario`, `caveats`), the `Table` they fill and the
//! 72-column layout (`text_table`), its text, Markdown and CSV renderings
//! (`export`: one file per format), the SVG plots (`plot`), the A/B
//! comparison (`compare`) and the hardware sizing (`size`). Built on
//! `crate::model`.

pub mod burst;
pub mod caveats;
pub mod compare;
pub mod drift_text;
pub mod export;
pub mod plot;
pub mod report_tables;
pub mod scenario;
pub mod size;
pub mod text_table;
