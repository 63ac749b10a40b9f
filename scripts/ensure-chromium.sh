#!/usr/bin/env bash
# Installs Debian's Chromium and ChromeDriver for the browser tests when they are missing, and a
# Thai font: without one Chromium draws Thai as boxes of another width, and the layout tests
# (the header in one row in every language) measure those boxes, not what a Thai shopper sees.
# Playwright's own browser download cannot work here; the tests launch /usr/bin/chromium.
set -u
packages=()
[ -x /usr/bin/chromium ] || packages+=(chromium chromium-driver)
if ! command -v fc-list >/dev/null || [ -z "$(fc-list :lang=th 2>/dev/null)" ]; then packages+=(fonts-thai-tlwg); fi
if [ ${#packages[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "browser tests: ${packages[*]} missing and apt-get is not usable as this user; they will be skipped or measure fallback glyphs." >&2
  exit 0
fi
echo "browser tests: installing Debian's ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq "${packages[@]}" >/dev/null \
  || echo "browser tests: apt-get could not install ${packages[*]}; they will be skipped." >&2
exit 0
