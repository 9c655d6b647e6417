#!/usr/bin/env bash
# Installs the Debian packages the platform and its tests need that pip cannot:
# chromium (browser tests), fonts-wqy-zenhei (Chinese text in PDFs), gettext
# (compilemessages), radosgw/ceph-mon/ceph-osd (the S3 server of the tests) and
# redis-server (the browser test of the opening hall starts one of its own) and
# poppler-utils (pdftotext reads the PDF records' text back in a test).
# Does nothing when everything is there; says what is missing when not root.
set -euo pipefail
need=()
command -v chromium >/dev/null || need+=(chromium)
[ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || need+=(fonts-wqy-zenhei)
command -v msgfmt >/dev/null || need+=(gettext)
command -v radosgw >/dev/null || need+=(radosgw)
command -v ceph-mon >/dev/null || need+=(ceph-mon)
command -v ceph-osd >/dev/null || need+=(ceph-osd)
[ -x /usr/bin/redis-server ] || need+=(redis-server)
command -v pdftotext >/dev/null || need+=(poppler-utils)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing Debian packages: ${need[*]} (run as root: apt-get install ${need[*]})." >&2
  echo "Tests that need them skip with a reason; the platform itself runs without them." >&2
  exit 0
fi
echo "Installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
