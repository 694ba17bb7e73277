#!/usr/bin/env bash
# Install (or find) the reference codecs that corpus/bench.py compares nzip with.
#
#   corpus/install-tools.sh            install what is missing, then report
#   corpus/install-tools.sh --check    only report; install nothing
#   corpus/install-tools.sh --strict   like the default, but exit 1 if anything is missing
#
# Debian packages are installed with apt-get (needs root; skipped otherwise).
# oxipng is built with `cargo install --locked` at a pinned version into corpus/tools/
# (git-ignored); bench.py looks there first.
#
# The report lists every tool as `ok`, or `MISSING` with the package that provides it.
set -euo pipefail

CORPUS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TOOLS_DIR="${NZIP_CORPUS_TOOLS:-$CORPUS_DIR/tools}"
OXIPNG_VERSION="10.2.1"

# Debian package -> the executables bench.py needs from it.
DEB_TOOLS=(
    "xz-utils:xz"
    "zstd:zstd"
    "brotli:brotli"
    "bzip2:bzip2"
    "7zip:7zz"
    "zpaq:zpaq"
    "libjxl-tools:cjxl djxl"
    "webp:cwebp dwebp"
    "flac:flac"
    "wavpack:wavpack wvunpack"
    "ffmpeg:ffmpeg"
)

MODE="install"
for arg in "$@"; do
    case "$arg" in
        --check) MODE="check" ;;
        --strict) STRICT=1 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "install-tools.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done
STRICT="${STRICT:-0}"

log() { echo "install-tools: $*" >&2; }

# Packages whose executables are not all on PATH.
missing_debs() {
    local entry pkg bins bin
    for entry in "${DEB_TOOLS[@]}"; do
        pkg="${entry%%:*}"; bins="${entry#*:}"
        for bin in $bins; do
            if ! command -v "$bin" >/dev/null 2>&1; then echo "$pkg"; break; fi
        done
    done
}

install_debs() {
    local pkgs
    mapfile -t pkgs < <(missing_debs)
    [ "${#pkgs[@]}" -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        log "not root or no apt-get: cannot install ${pkgs[*]}"
        return 0
    fi
    log "apt-get install ${pkgs[*]}"
    if ! compgen -G "/var/lib/apt/lists/*_Packages*" >/dev/null; then
        apt-get update -qq
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2 \
        || log "apt-get install failed (see above)"
}

oxipng_bin() { echo "$TOOLS_DIR/bin/oxipng"; }

install_oxipng() {
    local bin; bin="$(oxipng_bin)"
    if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q " $OXIPNG_VERSION\$"; then
        return 0
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        log "cargo not found: cannot build oxipng"
        return 0
    fi
    log "cargo install oxipng $OXIPNG_VERSION into $TOOLS_DIR (a few minutes)"
    cargo install oxipng --version "=$OXIPNG_VERSION" --locked --root "$TOOLS_DIR" >&2 \
        || log "cargo install oxipng failed (see above)"
}

# First line of a tool's version output, trimmed.
tool_version() {
    local bin="$1" out
    case "$(basename "$bin")" in
        7zz) out="$("$bin" 2>&1 | grep -m1 '7-Zip')" ;;
        zpaq) out="$("$bin" 2>&1 | grep -m1 -i 'zpaq v')" ;;
        bzip2) out="$("$bin" --help 2>&1 | head -n1)" ;;
        cjxl|djxl|cwebp|dwebp) out="$("$bin" -V 2>&1 | grep -m1 -iv '^$')" ;;
        ffmpeg) out="$("$bin" -version 2>&1 | head -n1)" ;;
        wavpack|wvunpack) out="$("$bin" --version 2>&1 | head -n1)" ;;
        *) out="$("$bin" --version 2>&1 | head -n1)" ;;
    esac
    echo "${out:0:70}"
}

report_line() {
    local name="$1" path="$2" provider="$3"
    if [ -n "$path" ] && [ -x "$path" ]; then
        printf '  %-9s ok       %-38s %s\n' "$name" "$path" "$(tool_version "$path")"
    else
        printf '  %-9s MISSING  (provided by: %s)\n' "$name" "$provider"
        MISSING+=("$name")
    fi
}

report() {
    local entry pkg bins bin
    MISSING=()
    echo "Reference codecs:"
    for entry in "${DEB_TOOLS[@]}"; do
        pkg="${entry%%:*}"; bins="${entry#*:}"
        for bin in $bins; do
            report_line "$bin" "$(command -v "$bin" || true)" "Debian package $pkg"
        done
    done
    report_line oxipng "$(oxipng_bin)" "cargo install oxipng --version =$OXIPNG_VERSION --locked --root $TOOLS_DIR"
    if [ "${#MISSING[@]}" -eq 0 ]; then
        echo "All reference codecs are available."
    else
        echo "MISSING: ${MISSING[*]} (bench.py skips these and says so in its report)"
    fi
}

main() {
    if [ "$MODE" = "install" ]; then
        install_debs
        install_oxipng
    fi
    report
    if [ "$STRICT" = 1 ] && [ "${#MISSING[@]}" -gt 0 ]; then exit 1; fi
}

main
