//! Everything a user reads: the report's tables (`report_tables`, `burst`,
//! `scenario`, `caveats`) and their text, Markdown and CSV renderings
//! (`text_table`, `report_formats`), the SVG plots (`plot`), the A/B
//! comparison (`compare`) and the hardware sizing (`size`). Built on
//! `crate::model`.

pub mod burst;
pub mod caveats;
pub mod compare;
pub mod plot;
pub mod report_formats;
pub mod report_tables;
pub mod scenario;
pub mod size;
pub mod text_table;
