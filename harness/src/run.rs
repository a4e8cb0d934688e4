//! `entrybench run`. (stub: issue 3)

#[derive(Debug, clap::Args)]
pub struct RunArgs {}

pub fn cmd(_args: RunArgs) -> anyhow::Result<i32> {
    anyhow::bail!("run: not implemented yet")
}
