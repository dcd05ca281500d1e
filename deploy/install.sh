#!/bin/sh
# Install auditpipe into a fresh virtualenv: the install steps of deploy/Dockerfile, shared with
# CI (deploy/check-install.sh runs this same script in a clean temp dir, so the image's install
# steps are checked on machines without a Docker daemon).
#
#   deploy/install.sh APP VENV
#
# APP holds pyproject.toml, README.md, pipeline/, schemas/, rules/ and native/; VENV is created.
# auditpipe is installed editable from APP because it reads schemas/ and rules/ next to its
# package; native/ (Rust, needs cargo) is built into a wheel and installed.
set -eu
app=$1
venv=$2
python3.11 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet --editable "$app"
"$venv/bin/pip" install --quiet "$app/native"
# bytecode now: the image runs with a read-only root filesystem and PYTHONDONTWRITEBYTECODE
"$venv/bin/python" -m compileall -q "$app/pipeline" >/dev/null
"$venv/bin/python" -c "import auditpipe_native, pipeline.cli.main"
"$venv/bin/auditpipe" --help >/dev/null
