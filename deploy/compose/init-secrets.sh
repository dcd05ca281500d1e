#!/bin/sh
# Development keys for docker compose, made once: deploy/compose/init-secrets.sh [DIR]
# (default deploy/compose/secrets/, ignored by git and by the image's build context).
#   keys.env                  AUDITPIPE_HMAC_KEY, AUDITPIPE_DLQ_KEY, AUDITPIPE_WEBHOOK_SECRET (env_file)
#   archive-signing.key.pem   Ed25519 archive signing key (compose secret `archive_signing_key`)
#   archive-signing.pub.pem   its public key, for `auditpipe verify --public-key`
# The files are world-readable because the containers run as uid 10001; for anything but a
# local demo, use your secret store (the Helm chart takes Kubernetes Secrets).
set -eu
dir=${1:-$(dirname "$0")/secrets}
mkdir -p "$dir"
if [ ! -f "$dir/keys.env" ]; then
  {
    echo "AUDITPIPE_HMAC_KEY=$(openssl rand -hex 32)"
    echo "AUDITPIPE_DLQ_KEY=$(openssl rand -hex 32)"
    echo "AUDITPIPE_WEBHOOK_SECRET=$(openssl rand -hex 32)"
  } > "$dir/keys.env"
fi
if [ ! -f "$dir/archive-signing.key.pem" ]; then
  openssl genpkey -algorithm ed25519 -out "$dir/archive-signing.key.pem"
  openssl pkey -in "$dir/archive-signing.key.pem" -pubout -out "$dir/archive-signing.pub.pem"
fi
chmod 0644 "$dir/keys.env" "$dir/archive-signing.key.pem" "$dir/archive-signing.pub.pem"
echo "compose secrets in $dir"
