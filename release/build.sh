#!/usr/bin/env bash
# Builds openpista's release archive: a static (musl) Linux binary with the
# licences, the README, the changelog, the example config and install.sh,
# as OUT/openpista-VERSION-TARGET.tar.gz, and OUT/SHA256SUMS.
#
#   bash release/build.sh [--profile dist] [--target x86_64-unknown-linux-musl] [--out dist]
#
# `just release` runs it with the defaults (the `dist` profile: fat LTO,
# what ships); CI builds a `dev` archive to test install.sh and the image.
# Needs the target (`rustup target add x86_64-unknown-linux-musl`) and a
# C compiler for it (Debian: musl-tools) for the crates that build C.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=dist
target=x86_64-unknown-linux-musl
out=dist
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile=$2; shift 2 ;;
    --target) target=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: bash release/build.sh [--profile P] [--target T] [--out DIR]" >&2; exit 2 ;;
  esac
done
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
# ring and others compile C for the target: musl-gcc links it statically.
if [[ "$target" == *-musl ]]; then
  cc_var="CC_$(echo "$target" | tr '-' '_')"
  export "$cc_var"="${!cc_var:-musl-gcc}"
fi
cargo build --locked -p openpista --profile "$profile" --target "$target"
case "$profile" in dev) dir=debug ;; *) dir=$profile ;; esac
bin="target/$target/$dir/openpista"
# A static binary asks for no program interpreter (ld.so).
if [[ "$target" == *-musl ]] && readelf -l "$bin" | grep -q "program interpreter"; then
  echo "$bin is dynamically linked; a musl release must be static" >&2
  exit 1
fi
name="openpista-$version-$target"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/$name"
cp "$bin" "$stage/$name/openpista"
# Debug builds carry their symbols; an archive never needs them.
strip "$stage/$name/openpista"
cp LICENSE-MIT LICENSE-APACHE README.md CHANGELOG.md config.example.toml install.sh "$stage/$name/"
mkdir -p "$out"
# Reproducible order, owner and times, so the same build gives the same
# archive and checksum.
tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner \
  --mtime="@$(git log -1 --format=%ct 2>/dev/null || echo 0)" \
  -czf "$out/$name.tar.gz" "$name"
(
  cd "$out"
  touch SHA256SUMS
  grep -v "  $name.tar.gz\$" SHA256SUMS > SHA256SUMS.new || true
  sha256sum "$name.tar.gz" >> SHA256SUMS.new
  mv SHA256SUMS.new SHA256SUMS
)
echo "$out/$name.tar.gz"
