//! `mqreg state`: the state as a whole, wherever it is kept.

use std::path::PathBuf;

use clap::Subcommand;

use super::Context;
use crate::error::Result;
use crate::ops::migrate;
use crate::output::print_json;
use crate::state::store::Store;

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Copy a state file (users, roles, pending requests, bans, tokens,
    /// settings and the registry's CA) into a PostgreSQL database
    #[command(after_help = "Example:\n  \
        mqreg state migrate --from /var/lib/mqreg/state.toml \\\n      \
        --to postgresql://mqreg@db.plant.example/registry\n\n\
        Then point every gateway at the database: --state URL, MQREG_STATE=URL\n\
        or `state = \"URL\"` in the config file. The file is left as it was.")]
    Migrate {
        /// The state file to copy
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// The database (postgresql://USER@HOST/DB); its schema is created if needed
        #[arg(long, value_name = "URL")]
        to: String,
        /// Replace a registry the database holds already
        #[arg(long)]
        force: bool,
    },
}

pub fn exec(context: &Context, command: StateCommand) -> Result<()> {
    match command {
        StateCommand::Migrate { from, to, force } => {
            // The copy path is never used: migrating keeps no copy.
            let target = Store::postgres(&to, context.store.path())?;
            let migrated = migrate::migrate(&from, &target, force)?;
            if context.json {
                return print_json(&migrated);
            }
            println!(
                "copied {} to {}: {} users, {} roles, {} pending requests, {} bans, {} tokens{}",
                migrated.from,
                migrated.to,
                migrated.users,
                migrated.roles,
                migrated.pending,
                migrated.bans,
                migrated.tokens,
                if migrated.files.is_empty() {
                    ""
                } else {
                    ", and the registry's CA"
                }
            );
            Ok(())
        }
    }
}
