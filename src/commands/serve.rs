//! `mqreg serve`: the MQTT broker.

use clap::Args;

use super::Context;
use crate::error::{Error, Result};

#[derive(Debug, Args)]
pub struct ServeArgs {}

pub fn exec(_context: &Context, _args: ServeArgs) -> Result<()> {
    Err(Error::failure("serve is not built yet"))
}
