//! CLI glue into the `report` crate. (stub: issue 5)

#[derive(Debug, clap::Args)]
pub struct ReportArgs {}
#[derive(Debug, clap::Args)]
pub struct CompareArgs {}
#[derive(Debug, clap::Args)]
pub struct SizeArgs {}

pub fn report_cmd(_a: ReportArgs) -> anyhow::Result<i32> {
    anyhow::bail!("report: not implemented yet")
}
pub fn compare_cmd(_a: CompareArgs) -> anyhow::Result<i32> {
    anyhow::bail!("compare: not implemented yet")
}
pub fn size_cmd(_a: SizeArgs) -> anyhow::Result<i32> {
    anyhow::bail!("size: not implemented yet")
}
