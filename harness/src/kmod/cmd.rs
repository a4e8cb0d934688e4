//! `entrybench kmod build|load|unload|status`. (stub: issue 4)

#[derive(Debug, clap::Args)]
pub struct KmodArgs {}

pub fn cmd(_args: KmodArgs) -> anyhow::Result<i32> {
    anyhow::bail!("kmod: not implemented yet")
}
