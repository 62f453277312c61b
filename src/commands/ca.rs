//! `mqreg ca`: the registry's certificate authority.

use std::path::PathBuf;

use clap::Subcommand;

use super::Context;
use crate::error::{Error, Result};
use crate::ops::certificates;
use crate::output::print_json;
use crate::pki::ca::{CaInfo, DEFAULT_CA_DAYS};

#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Make the registry's CA: an EC P-256 key (0600) and a self-signed
    /// certificate beside the state file
    #[command(after_help = "Examples:\n  \
        mqreg ca init\n  \
        mqreg ca init --subject 'Plant 4 devices' --days 3650\n\n\
        Devices then enrol with a CSR (POST /api/client-registry/register), and\n\
        certificates it signed log in on the TLS listener without a password.")]
    Init {
        /// The CA certificate's subject CN
        #[arg(long, value_name = "CN", default_value = "mqreg device CA")]
        subject: String,
        /// How long the CA certificate is valid
        #[arg(long, value_name = "N", default_value_t = DEFAULT_CA_DAYS)]
        days: u32,
        /// Replace an existing CA (every certificate it issued stops logging in)
        #[arg(long)]
        force: bool,
    },
    /// Print the CA certificate, its SHA-256 fingerprint and validity
    Show,
    /// Adopt an existing CA: its certificate and its PKCS#8 key, PEM
    #[command(after_help = "Example:\n  \
        mqreg ca import --cert plant-ca.pem --key plant-ca.key")]
    Import {
        /// The CA certificate (PEM)
        #[arg(long, value_name = "FILE")]
        cert: PathBuf,
        /// Its private key (PEM, PKCS#8: BEGIN PRIVATE KEY)
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Replace an existing CA
        #[arg(long)]
        force: bool,
    },
}

pub fn exec(context: &Context, command: CaCommand) -> Result<()> {
    let store = &context.store;
    let info = match command {
        CaCommand::Init {
            subject,
            days,
            force,
        } => certificates::ca_init(store, &subject, days, force)?,
        CaCommand::Show => certificates::ca_show(store)?,
        CaCommand::Import { cert, key, force } => {
            let read = |path: &PathBuf| {
                std::fs::read_to_string(path)
                    .map_err(|e| Error::usage(format!("cannot read {}: {e}", path.display())))
            };
            certificates::ca_import(store, &read(&cert)?, &read(&key)?, force)?
        }
    };
    if context.json {
        return print_json(&info);
    }
    print(&info);
    Ok(())
}

fn print(info: &CaInfo) {
    let day = |time: chrono::DateTime<chrono::Utc>| time.format("%Y-%m-%d").to_string();
    println!("subject:     {}", info.subject);
    println!("SHA-256:     {}", info.fingerprint);
    println!("serial:      {}", info.serial);
    println!(
        "valid:       {} to {}",
        day(info.not_before),
        day(info.not_after)
    );
    println!("file:        {}", info.certificate_file);
    print!("{}", info.certificate);
}
