#!/usr/bin/env bash
# The Debian packages pip and npm cannot provide, for one of the two commands:
#   install-system-deps.sh run    what the platform needs to run (`make run`): a CJK font
#                                 (fonts-wqy-zenhei, Chinese text in PDF records), gettext
#                                 (compilemessages) and Node.js with npm (the browser's scripts)
#   install-system-deps.sh test   that, plus what only the tests need (`make test`): chromium
#                                 (browser tests), radosgw/ceph-mon/ceph-osd (the tests' S3
#                                 server), redis-server (the opening hall's browser test starts
#                                 one of its own) and poppler-utils (pdftotext reads PDF records)
# With --check after the purpose it only prints the missing packages (one line, maybe empty).
# Says what it checks and what it installs; does nothing when everything is there; says what is
# missing when not root (tests that need a missing package skip with a reason).
set -euo pipefail
purpose="${1:-run}"
check="${2:-}"
case "$purpose" in
  run | test) ;;
  *) echo "usage: $0 run|test [--check]" >&2; exit 2 ;;
esac
case "$check" in
  "" | --check) ;;
  *) echo "usage: $0 run|test [--check]" >&2; exit 2 ;;
esac
need=()
[ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || need+=(fonts-wqy-zenhei)
command -v msgfmt >/dev/null || need+=(gettext)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
if [ "$purpose" = test ]; then
  command -v chromium >/dev/null || need+=(chromium)
  command -v radosgw >/dev/null || need+=(radosgw)
  command -v ceph-mon >/dev/null || need+=(ceph-mon)
  command -v ceph-osd >/dev/null || need+=(ceph-osd)
  [ -x /usr/bin/redis-server ] || need+=(redis-server)
  command -v pdftotext >/dev/null || need+=(poppler-utils)
fi
if [ "$check" = --check ]; then
  echo "${need[*]:-}"
  exit 0
fi
if [ ${#need[@]} -eq 0 ]; then
  echo "==> Debian packages for make $purpose: all installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "==> Missing Debian packages for make $purpose: ${need[*]} (run as root: apt-get install ${need[*]})." >&2
  if [ "$purpose" = test ]; then
    echo "    Tests that need them skip with a reason." >&2
  fi
  exit 0
fi
echo "==> Installing Debian packages for make $purpose: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
echo "==> apt-get update"
apt-get update
echo "==> apt-get install ${need[*]}"
apt-get install -y --no-install-recommends "${need[@]}"
echo "==> Debian packages installed"
