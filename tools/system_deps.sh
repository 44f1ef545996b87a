#!/usr/bin/env bash
# Debian packages the tests need: a headless browser for the book test and
# bubblewrap for the grader's sandbox.  Installs only what is missing, and only as root.
# `system_deps.sh grade`: only what grading needs (bubblewrap), so an instructor can grade as an ordinary user.
set -euo pipefail
need=()
if [[ ${1:-} != grade ]]; then
  command -v chromium >/dev/null || need+=(chromium)
  command -v chromedriver >/dev/null || need+=(chromium-driver)
fi
command -v bwrap >/dev/null || need+=(bubblewrap)
((${#need[@]} == 0)) && exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "missing Debian packages: ${need[*]}" >&2
  echo "install them as root:  sudo apt-get update && sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
