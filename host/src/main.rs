use clap::Parser;

fn main() {
    // glibc gives threads that contend for malloc arenas of their own, up
    // to 8 per core, and each keeps what was freed in it. Two (one per
    // runtime worker on the reference machine) cut idle memory by about
    // 1.4 MiB against the default; one saved 3 MiB but makes every
    // thread share one lock (BENCHMARKS.md, start-up).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called first, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    let cli = openpista::cli::Cli::parse();
    // Logging starts in `cli::run`, once the config's `[log]` is read.
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
