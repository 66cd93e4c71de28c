//! `duetto`: the command line (`duetto generate entity --help`). All of it lives in
//! [`duetto_cli`]; this only parses the arguments and sets the exit status.

use clap::Parser;

fn main() -> std::process::ExitCode {
    duetto_cli::run(duetto_cli::Cli::parse())
}
