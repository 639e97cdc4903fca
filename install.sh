#!/usr/bin/env bash
# Build zt and zt-broker from this checkout and install them, with their man
# pages and shell completions, under a prefix (default ~/.local). Safe to run
# again: every file is simply replaced.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: ./install.sh [--prefix DIR] [--demo]

Builds zt (cargo build --locked --profile client -p zt: small, for the
ssh_config check every connection starts) and zt-broker (cargo build --locked
--release -p zt-broker), then installs:
  DIR/bin/zt, DIR/bin/zt-broker
  DIR/share/man/man1/zt*.1
  DIR/share/bash-completion/completions/{zt,zt-broker}
  DIR/share/zsh/site-functions/{_zt,_zt-broker}
  DIR/share/fish/vendor_completions.d/{zt,zt-broker}.fish

Options:
  --prefix DIR   install under DIR (default: $HOME/.local)
  --demo         afterwards, run scripts/demo.sh with the installed binaries
  -h, --help     show this help
EOF
}

say() { echo "install.sh: $*" >&2; }
die() {
    say "error: $*"
    exit 1
}

prefix="${HOME:?HOME is not set; pass --prefix DIR}/.local"
demo=0
while (($# > 0)); do
    case "$1" in
        --prefix)
            (($# >= 2)) || die "--prefix needs a directory (see --help)"
            prefix=$2
            shift 2
            ;;
        --prefix=*)
            prefix=${1#--prefix=}
            shift
            ;;
        --demo)
            demo=1
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[[ -n "$prefix" ]] || die "--prefix must not be empty"

src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v cargo >/dev/null || die "cargo not found; install Rust from https://rustup.rs and try again"

say "building zt-broker (cargo build --locked --release -p zt-broker; a few minutes the first time)"
(cd "$src" && cargo build --locked --release -p zt-broker)
say "building zt (cargo build --locked --profile client -p zt)"
(cd "$src" && cargo build --locked --profile client -p zt)

# Honour CARGO_TARGET_DIR or a target-dir in .cargo/config.toml.
target_dir="$(cd "$src" && cargo metadata --format-version 1 --no-deps --locked |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
[[ -n "$target_dir" ]] || target_dir="$src/target"

# An absolute prefix, so the PATH check below and the demo see the real location.
mkdir -p "$prefix"
prefix="$(cd "$prefix" && pwd)"

bin_dir="$prefix/bin"
man_dir="$prefix/share/man/man1"
bash_dir="$prefix/share/bash-completion/completions"
zsh_dir="$prefix/share/zsh/site-functions"
fish_dir="$prefix/share/fish/vendor_completions.d"

# put MODE SOURCE DEST: install one file, replacing what is there.
put() {
    install -m "$1" "$2" "$3"
    say "installed $3"
}

install -d "$bin_dir" "$man_dir" "$bash_dir" "$zsh_dir" "$fish_dir"

for built in client/zt release/zt-broker; do
    [[ -x "$target_dir/$built" ]] || die "cargo did not produce $target_dir/$built"
    put 755 "$target_dir/$built" "$bin_dir/$(basename "$built")"
done

shopt -s nullglob
pages=("$src"/man/*.1)
shopt -u nullglob
((${#pages[@]} > 0)) || die "no man pages in $src/man (run: ZT_UPDATE_ASSETS=1 cargo test --test tests assets)"
for page in "${pages[@]}"; do
    put 644 "$page" "$man_dir/$(basename "$page")"
done

for bin in zt zt-broker; do
    # bash-completion looks a command's completions up by the command's own name.
    put 644 "$src/completions/$bin.bash" "$bash_dir/$bin"
    put 644 "$src/completions/_$bin" "$zsh_dir/_$bin"
    put 644 "$src/completions/$bin.fish" "$fish_dir/$bin.fish"
done

case ":$PATH:" in
    *":$bin_dir:"*) ;;
    *) say "warning: $bin_dir is not on your PATH; add it, e.g. export PATH=\"$bin_dir:\$PATH\"" ;;
esac
say "done: zt and zt-broker are in $bin_dir"

if ((demo)); then
    demo_script="$(dirname "$0")/scripts/demo.sh"
    [[ -f "$demo_script" ]] || die "--demo: $demo_script not found"
    say "running $demo_script"
    "$demo_script" "$prefix/bin"
fi
