#!/usr/bin/env bash
# The Debian packages some tests need beside Python: promtool and Prometheus (the SRE view's
# rules and a real scrape), and chromium, which Playwright drives in the dashboard's browser
# tests (Playwright's own browser download cannot work offline). Installed only when missing; needs root (or sudo) and the
# Debian package mirror.
set -euo pipefail
packages=(prometheus chromium)
commands=(promtool chromium)

missing=()
for i in "${!commands[@]}"; do
  command -v "${commands[$i]}" >/dev/null 2>&1 || missing+=("${packages[$i]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
echo "installing Debian packages: ${missing[*]}"
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
