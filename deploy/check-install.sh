#!/usr/bin/env bash
# CI check of the image's install steps without a Docker daemon: copy the files deploy/Dockerfile
# copies (tracked or new, not ignored) into a clean temp dir and run deploy/install.sh there, the
# script the Dockerfile runs, into a fresh virtualenv. Then the installed `auditpipe` must load
# its schemas and rules from that copy. pip's cache and a cargo target dir under .stack/ keep
# repeat runs fast; the image itself builds with no cache.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/app"
git ls-files -z --cached --others --exclude-standard -- \
    pyproject.toml README.md pipeline schemas rules native deploy/install.sh \
  | tar --null -T - -cf - | tar -xf - -C "$tmp/app"
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="$repo/.stack/cache/cargo-target-image"
start=$(date +%s)
(cd "$tmp" && env -u PYTHONPATH -u VIRTUAL_ENV sh app/deploy/install.sh "$tmp/app" "$tmp/venv")
(cd "$tmp/app" && env -u PYTHONPATH "$tmp/venv/bin/python" -c '
import pathlib, pipeline
assert pathlib.Path(pipeline.__file__).is_relative_to(pathlib.Path.cwd()), pipeline.__file__
' && env -u PYTHONPATH "$tmp/venv/bin/auditpipe" validate >/dev/null)
echo "image install steps OK in a clean venv ($(( $(date +%s) - start ))s)"
