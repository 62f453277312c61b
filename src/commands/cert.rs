//! `mqreg cert`: device certificates an admin issues by hand.

use std::path::PathBuf;

use clap::Subcommand;

use super::{parse_username, Context};
use crate::error::{Error, Result};
use crate::ops::certificates;
use crate::output::print_json;

#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Sign a device's CSR for an existing user; prints the certificate (PEM)
    #[command(after_help = "Examples:\n  \
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \\\n      \
        -keyout sensor_1.key -subj /CN=sensor_1 -out sensor_1.csr\n  \
        mqreg cert issue sensor_1 --csr sensor_1.csr > sensor_1.pem\n  \
        mqreg ca show --json | jq -r .certificate > ca.pem")]
    Issue {
        /// The user (the CSR's subject CN must be this name)
        #[arg(value_parser = parse_username)]
        user: String,
        /// The certificate signing request (PEM); - reads stdin
        #[arg(long, value_name = "FILE")]
        csr: PathBuf,
        /// How long it is valid [default: certificate_days in [registry], 365]
        #[arg(long, value_name = "N")]
        days: Option<u32>,
    },
}

pub fn exec(context: &Context, command: CertCommand) -> Result<()> {
    match command {
        CertCommand::Issue { user, csr, days } => {
            if days == Some(0) {
                return Err(Error::usage(
                    "a certificate must be valid for at least 1 day",
                ));
            }
            let text = if csr.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())
                    .map_err(|e| Error::usage(format!("cannot read the CSR from stdin: {e}")))?
            } else {
                std::fs::read_to_string(&csr)
                    .map_err(|e| Error::usage(format!("cannot read {}: {e}", csr.display())))?
            };
            let issued = certificates::issue(&context.store, &user, &text, days)?;
            if context.json {
                return print_json(&issued);
            }
            print!("{}", issued.certificate);
            eprintln!(
                "issued to {user}: serial {}, SHA-256 {}, valid until {}",
                issued.serial,
                issued.fingerprint,
                issued.not_after.replace('T', " ").trim_end_matches('Z')
            );
            Ok(())
        }
    }
}
