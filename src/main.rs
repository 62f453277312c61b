use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = mqreg::cli::Cli::parse();
    match mqreg::commands::exec(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.code as u8)
        }
    }
}
