use std::process::ExitCode;

fn main() -> ExitCode {
    let (cli, config) = match mqreg::cli::parse_with_config(std::env::args_os().collect()) {
        Ok(parsed) => parsed,
        Err(mqreg::cli::ParseError::Config(error)) => return fail(error),
        Err(mqreg::cli::ParseError::Clap(error)) => {
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
    match mqreg::commands::exec(cli, config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(error),
    }
}

fn fail(error: mqreg::error::Error) -> ExitCode {
    if std::env::args_os().any(|arg| arg == "--json") {
        mqreg::output::print_json_error(&error);
    }
    eprintln!("error: {error}");
    ExitCode::from(error.code as u8)
}
