//! `mqreg generate-docs`: shell completions and man pages from the clap
//! definitions, so they can never describe another program than the one built.
//! The repository keeps the output in `completions/` and `man/`; a test fails
//! when they are stale.

use std::fs;
use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::cli::Cli;
use crate::error::{Error, Result};

#[derive(Debug, Args)]
pub struct DocsArgs {
    /// Folder that receives completions/ and man/
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
}

pub fn exec(args: &DocsArgs) -> Result<()> {
    for (path, contents) in render() {
        let target = args.out.join(&path);
        if let Some(folder) = target.parent() {
            fs::create_dir_all(folder).map_err(|e| write_error(folder, e))?;
        }
        fs::write(&target, contents).map_err(|e| write_error(&target, e))?;
    }
    Ok(())
}

fn write_error(path: &Path, error: std::io::Error) -> Error {
    Error::failure(format!("cannot write {}: {error}", path.display()))
}

/// Every generated file: its path relative to the repository and its contents.
pub fn render() -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for (shell, name) in [
        (Shell::Bash, "mqreg.bash"),
        (Shell::Zsh, "_mqreg"),
        (Shell::Fish, "mqreg.fish"),
    ] {
        let mut contents = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "mqreg", &mut contents);
        files.push((Path::new("completions").join(name), contents));
    }
    let mut command = Cli::command();
    command.build();
    man_pages(&command, "mqreg", &mut files);
    files
}

/// One page per command and subcommand, named like git's: `mqreg-registry-approve.1`.
fn man_pages(command: &clap::Command, name: &str, files: &mut Vec<(PathBuf, Vec<u8>)>) {
    if command.is_hide_set() {
        return;
    }
    let page = command.clone().name(name.to_owned());
    let mut contents = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut contents)
        .expect("rendering to memory cannot fail");
    files.push((Path::new("man").join(format!("{name}.1")), contents));
    for sub in command.get_subcommands() {
        if sub.get_name() != "help" {
            man_pages(sub, &format!("{name}-{}", sub.get_name()), files);
        }
    }
}
