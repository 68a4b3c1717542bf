#!/usr/bin/env bash
# Builds the container image FROM scratch from a release archive's binary.
#
#   bash release/image.sh dist/openpista-VERSION-TARGET.tar.gz [TAG]
set -euo pipefail
archive=$1
tag=${2:-openpista:latest}
here="$(cd "$(dirname "$0")" && pwd)"
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
tar -xzf "$archive" -C "$context" --wildcards --strip-components=1 '*/openpista'
cp "$here/Dockerfile" "$context/Dockerfile"
# The classic builder needs no buildx plugin and pulls nothing for scratch.
DOCKER_BUILDKIT=0 docker build --quiet -t "$tag" "$context" >/dev/null
echo "$tag"
