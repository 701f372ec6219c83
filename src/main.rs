//! `bigmember`: run the platform, one service, migrations, demo data, tokens,
//! and compose the supergraph.

mod cli;
mod compose;
mod demo;
mod gateway;

use std::process::ExitCode;

/// An allocator made for many small, short-lived allocations: the gateway
/// and the services allocate per request and free it all at its end.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
