#!/usr/bin/env bash
# Installs Debian's Chromium and ChromeDriver for the browser tests when they are missing.
# Playwright's own browser download cannot work here; the tests launch /usr/bin/chromium.
set -u
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "browser tests: /usr/bin/chromium is missing and apt-get is not usable as this user; they will be skipped." >&2
  exit 0
fi
echo "browser tests: installing Debian's chromium and chromium-driver"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq chromium chromium-driver >/dev/null \
  || echo "browser tests: apt-get could not install chromium; they will be skipped." >&2
exit 0
