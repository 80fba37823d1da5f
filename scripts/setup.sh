#!/usr/bin/env bash
# What gatehouse needs from the system, installed when missing and possible; never waits for a password.
#   scripts/setup.sh start   Chromium's headless shell (browser-automation flows)
#   scripts/setup.sh test    the same, nginx (media-auth auth_request test), Kannel + its fake SMSC (Kannel test)
#   scripts/setup.sh bench   the same, wrk (the HTTP load generator of bench/)
# The headless shell (Debian package chromium-headless-shell) is Chromium without the browser UI layer: about
# a third of the CPU and memory per session (bench/burst.ts). A machine that has only `chromium` and cannot
# install packages keeps working with it, a notice says so.
# Installs with apt-get as root or with passwordless sudo; otherwise stops at once printing the exact command.
# SETUP_SKIP=1 skips every check (e.g. CHROME_PATH or BROWSER_WS_ENDPOINT point at a browser elsewhere).
set -uo pipefail
mode=${1:-start}
[[ ${SETUP_SKIP:-} == 1 ]] && exit 0

has() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }

need=()
can_install() { command -v apt-get >/dev/null 2>&1 && { [[ $(id -u) == 0 ]] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }; }; }
other_chrome() { has chromium || has chromium-browser || has google-chrome; }
if [[ -z ${CHROME_PATH:-}${BROWSER_WS_ENDPOINT:-} ]] && ! has chromium-headless-shell; then
  if other_chrome && ! can_install; then
    echo "gatehouse setup: using chromium; chromium-headless-shell is lighter per session:" >&2
    echo "  sudo apt-get install -y chromium-headless-shell" >&2
  else
    need+=(chromium-headless-shell)
  fi
fi
if [[ $mode == test ]]; then
  has nginx || need+=(nginx)
  has bearerbox || need+=(kannel)
  [ -x /usr/lib/kannel/test/fakesmsc ] || need+=(kannel-extras)
fi
if [[ $mode == bench ]]; then
  has wrk || need+=(wrk)
fi
((${#need[@]})) || exit 0

cmd="apt-get update && apt-get install -y --no-install-recommends ${need[*]}"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "gatehouse setup: missing ${need[*]}, and this is not a Debian/Ubuntu machine (no apt-get)." >&2
  echo "Install them with your package manager, or set CHROME_PATH to a Chromium binary." >&2
  exit 1
fi
if [[ $(id -u) == 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "gatehouse setup: missing ${need[*]}. Run this once, then the same command again:" >&2
  echo "  sudo sh -c '$cmd'" >&2
  exit 1
fi
echo "gatehouse setup: installing ${need[*]} (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >&2 && "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
  || { echo "gatehouse setup: apt-get failed; run: sudo sh -c '$cmd'" >&2; exit 1; }
