//! /dev/entrybench: ABI mirror, backend, `entrybench kmod`. (stub: issue 4)

pub mod cmd;
