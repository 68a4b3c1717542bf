use clap::Parser;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("OPENPISTA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,openpista=info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = openpista::cli::Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = runtime
        .block_on(openpista::cli::run(cli))
        .unwrap_or_else(|e| {
            eprintln!("error: {e:#}");
            1
        });
    std::process::exit(code);
}
