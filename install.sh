#!/bin/sh
# Installs openpista from a release archive, after checking its SHA-256
# against the release's SHA256SUMS. Nothing is installed when they differ.
#
#   sh install.sh --archive openpista-0.1.0-x86_64-unknown-linux-musl.tar.gz
#   sh install.sh --version 0.1.0            # downloads from $OPENPISTA_RELEASES
#
# Options: --sums FILE (default: SHA256SUMS beside the archive),
# --prefix DIR (default: $PREFIX, else ~/.local; the binary goes to DIR/bin).
set -eu

die() {
  echo "install.sh: $*" >&2
  exit 1
}

archive=""
sums=""
version=""
prefix="${PREFIX:-${HOME:-/usr/local}/.local}"
while [ $# -gt 0 ]; do
  case "$1" in
    --archive) archive=$2; shift 2 ;;
    --sums) sums=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    --prefix) prefix=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

if [ -z "$archive" ]; then
  [ -n "$version" ] || die "give --archive FILE or --version VERSION"
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) target=x86_64-unknown-linux-musl ;;
    *) die "no release archive for $(uname -s) $(uname -m); build from source: cargo install --path host --locked" ;;
  esac
  base="${OPENPISTA_RELEASES:-https://example.invalid/openpista/releases/download}/v$version"
  archive="$work/openpista-$version-$target.tar.gz"
  sums="$work/SHA256SUMS"
  command -v curl >/dev/null 2>&1 || die "curl is needed to download; or pass --archive"
  curl -fsSL "$base/$(basename "$archive")" -o "$archive" || die "cannot download $base/$(basename "$archive")"
  curl -fsSL "$base/SHA256SUMS" -o "$sums" || die "cannot download $base/SHA256SUMS"
fi
[ -f "$archive" ] || die "no archive at $archive"
[ -n "$sums" ] || sums="$(dirname "$archive")/SHA256SUMS"
[ -f "$sums" ] || die "no SHA256SUMS at $sums: the archive cannot be checked, so it is not installed"

name=$(basename "$archive")
expected=$(awk -v n="$name" '$2 == n || $2 == "*" n { print $1 }' "$sums")
[ -n "$expected" ] || die "$sums has no line for $name"
if command -v sha256sum >/dev/null 2>&1; then
  actual=$(sha256sum "$archive" | awk '{ print $1 }')
else
  actual=$(shasum -a 256 "$archive" | awk '{ print $1 }')
fi
[ "$expected" = "$actual" ] || die "SHA-256 mismatch for $name: expected $expected, got $actual; not installed"

tar -xzf "$archive" -C "$work"
binary=$(find "$work" -mindepth 2 -maxdepth 2 -type f -name openpista | head -n 1)
[ -n "$binary" ] || die "$name holds no openpista binary"
mkdir -p "$prefix/bin"
# Replace atomically: a running openpista keeps its old file.
cp "$binary" "$prefix/bin/.openpista.new"
chmod 0755 "$prefix/bin/.openpista.new"
mv -f "$prefix/bin/.openpista.new" "$prefix/bin/openpista"
"$prefix/bin/openpista" --version
echo "installed $prefix/bin/openpista (checked: sha256 $actual)"
