#!/usr/bin/env bash
# Developer tool (CI does not run it): take screenshots of HTML race reports in a headless
# Chromium, to look at the pages before calling a rendering change done.
#
# Usage: scripts/screenshot-reports.sh DIR [OUT] [NAME...]
#
#   DIR   a reports directory. Its *.html pages are shot; if it has none, its *--*.json reports
#         are first rendered to OUT/html with `mountcheck __render-html` (the binary is
#         $MOUNTCHECK, or target/release/mountcheck, built if missing).
#   OUT   where the PNG files go (default: DIR/screenshots).
#   NAME  only these pages (file names without .html, e.g. get-super-no-pin--loom).
#
# Each page gives OUT/<name>.png (the top of the page in a 1400x1800 window, what a reader sees
# first) and OUT/<name>-tall.png (a 1400x$TALL window, default 5000, for the picture and the
# tables below it). Needs chromium (Debian: apt-get install chromium). Nothing is fetched: the
# pages are self-contained and Chromium runs with networking features off.
set -euo pipefail

if [ $# -lt 1 ]; then
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
dir=$1
out=${2:-$dir/screenshots}
shift $(( $# >= 2 ? 2 : 1 ))
tall=${TALL:-5000}
root=$(cd "$(dirname "$0")/.." && pwd)

chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
    echo "screenshot-reports: chromium not found (Debian: apt-get install chromium)" >&2
    exit 2
fi
mkdir -p "$out"

pages_dir=$dir
if ! compgen -G "$dir/*.html" >/dev/null; then
    if ! compgen -G "$dir/*--*.json" >/dev/null; then
        echo "screenshot-reports: no *.html page and no *--*.json report in $dir" >&2
        exit 2
    fi
    bin=${MOUNTCHECK:-$root/target/release/mountcheck}
    if [ ! -x "$bin" ]; then
        (cd "$root" && cargo build --release -p mountcheck)
    fi
    pages_dir=$out/html
    "$bin" __render-html "$pages_dir" "$dir"/*--*.json
fi

shoot() {
    local page=$1 png=$2 size=$3 profile
    profile=$(mktemp -d)
    timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --hide-scrollbars --user-data-dir="$profile" --screenshot="$png" \
        --window-size="$size" "file://$page" >/dev/null 2>&1 || true
    rm -rf "$profile"
    if [ -s "$png" ]; then
        echo "$png"
    else
        echo "screenshot-reports: no screenshot of $page" >&2
        return 1
    fi
}

status=0
for page in "$pages_dir"/*.html; do
    name=$(basename "$page" .html)
    if [ $# -gt 0 ]; then
        case " $* " in *" $name "*) ;; *) continue ;; esac
    fi
    abs=$(cd "$(dirname "$page")" && pwd)/$(basename "$page")
    shoot "$abs" "$out/$name.png" 1400,1800 || status=1
    shoot "$abs" "$out/$name-tall.png" "1400,$tall" || status=1
done
exit $status
