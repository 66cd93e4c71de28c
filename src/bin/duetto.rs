//! `duetto`: the command line (`duetto generate entity --help`). All of it lives in
//! [`duetto::cli`]; this only parses the arguments and sets the exit status.

use clap::Parser;

fn main() -> std::process::ExitCode {
    duetto::cli::run(duetto::cli::Cli::parse())
}
