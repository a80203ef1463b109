use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    polis::cli::run(polis::config::Cli::parse()).await
}
