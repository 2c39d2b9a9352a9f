#!/usr/bin/env bash
# One command, the two release artifacts in dist/:
#   rnds-drop-<version>-windows-x86_64.zip  rnds-drop.exe, rnds-drop.toml
#       (examples/rnds-drop.toml), exames.csv, LEIA-ME.txt (the README's
#       pt-BR Windows steps, CRLF for Notepad), at the zip's root: the
#       steps extract it into C:\Program Files\rnds-drop\ as it is
#   rnds-drop_<version>-1_amd64.deb         cargo deb (see packaging/deb/)
# plus SHA256SUMS. Needs ../shared/windows/cross.sh beside the repository
# (Windows build from Debian packages) and cargo-deb (installed if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
dist=dist
mkdir -p "$dist"

../shared/windows/cross.sh build --locked
command -v cargo-deb >/dev/null || cargo install cargo-deb --locked
cargo deb --locked

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
dir=$stage/rnds-drop
mkdir -p "$dir"
cp "${CROSS_TARGET_DIR:-target/windows}/x86_64-pc-windows-gnu/release/rnds-drop.exe" "$dir/"
# Windows reads relative paths against the config's folder
# (%ProgramData%\rnds-drop), so the example works there as it is.
sed 's/$/\r/' examples/rnds-drop.toml >"$dir/rnds-drop.toml"
cp examples/exames.csv "$dir/"
{
    printf 'rnds-drop %s para Windows\n\n' "$version"
    sed -n '/<!-- windows-inicio -->/,/<!-- windows-fim -->/p' README.md | sed '1d;$d'
} | sed 's/$/\r/' >"$dir/LEIA-ME.txt"
zip=$PWD/$dist/rnds-drop-$version-windows-x86_64.zip
rm -f "$zip"
(cd "$dir" && python3 -m zipfile -c "$zip" rnds-drop.exe rnds-drop.toml exames.csv LEIA-ME.txt)
python3 -m zipfile -l "$zip"
cp target/debian/rnds-drop_"$version"-1_amd64.deb "$dist/"
(cd "$dist" && sha256sum "$(basename "$zip")" "rnds-drop_$version-1_amd64.deb" >SHA256SUMS)
dpkg-deb --contents "$dist/rnds-drop_$version-1_amd64.deb" | awk '{ print "  deb:", $NF }'
echo "release: $dist/"
(cd "$dist" && ls -l rnds-drop-"$version"-windows-x86_64.zip rnds-drop_"$version"-1_amd64.deb SHA256SUMS)
