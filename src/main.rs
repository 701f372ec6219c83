//! `bigmember`: run the platform, one service, migrations, demo data, tokens,
//! and compose the supergraph.

mod cli;
mod compose;
mod demo;
mod gateway;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match cli::run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
