# Everyday commands. `just` is optional: each recipe is one cargo command.

# Build the host (and, through host/build.rs, the wasm components)
build:
    cargo build

# Run the host on its embedded defaults
serve:
    cargo run -- serve

# The whole test suite (the README's test command)
test:
    cargo test --workspace

# Only the wasm components, for inspecting their size
components:
    cargo build --target wasm32-wasip2 --profile wasm --target-dir target/wasm -p tool-basics -p tool-files -p llm-echo

# Benchmarks (see BENCHMARKS.md)
bench:
    cargo bench -p openpista

# What CI runs
ci:
    bash .ci/run

lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# A release: the static Linux archive and SHA256SUMS in dist/, and the
# FROM-scratch image (needs Docker), tagged with the version
release:
    bash release/build.sh --profile dist --out dist
    bash release/image.sh dist/openpista-*-x86_64-unknown-linux-musl.tar.gz openpista:$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
