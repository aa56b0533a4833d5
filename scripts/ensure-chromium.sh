#!/bin/sh
# Browser tests drive Debian's Chromium (Playwright cannot download its own here).
set -eu
if [ -x /usr/bin/chromium ]; then exit 0; fi
echo "Installing Debian's chromium for the browser tests…"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
test -x /usr/bin/chromium || { echo "chromium did not install: run 'apt-get install -y chromium'" >&2; exit 1; }
