use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match mqreg::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Scripts that asked for JSON get a JSON error for bad arguments too.
            let is_answer = matches!(
                error.kind(),
                clap::error::ErrorKind::DisplayHelp
                    | clap::error::ErrorKind::DisplayVersion
                    | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            );
            if !is_answer && std::env::args_os().any(|arg| arg == "--json") {
                let message = error.kind().to_string();
                let detail = error.to_string();
                mqreg::output::print_json_error(&mqreg::error::Error::usage(
                    detail
                        .lines()
                        .next()
                        .unwrap_or(&message)
                        .trim_start_matches("error: "),
                ));
            }
            error.exit();
        }
    };
    match mqreg::commands::exec(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if std::env::args_os().any(|arg| arg == "--json") {
                mqreg::output::print_json_error(&error);
            }
            eprintln!("error: {error}");
            ExitCode::from(error.code as u8)
        }
    }
}
