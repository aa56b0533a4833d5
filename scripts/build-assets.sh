#!/bin/sh
# Copies the front-end assets installed by npm into static_build/ (ignored by
# git), where Django's staticfiles finds them.
set -eu
cd "$(dirname "$0")/.."
out=static_build/vendor
rm -rf "$out"
mkdir -p "$out/tabler/css" "$out/tabler/js" "$out/tabler-icons/fonts" "$out/htmx"
cp node_modules/@tabler/core/dist/css/tabler.min.css "$out/tabler/css/"
cp node_modules/@tabler/core/dist/js/tabler.min.js "$out/tabler/js/"
cp node_modules/@tabler/icons-webfont/dist/tabler-icons.min.css "$out/tabler-icons/"
cp node_modules/@tabler/icons-webfont/dist/fonts/tabler-icons.woff2 "$out/tabler-icons/fonts/"
cp node_modules/@tabler/icons-webfont/dist/fonts/tabler-icons.woff node_modules/@tabler/icons-webfont/dist/fonts/tabler-icons.ttf "$out/tabler-icons/fonts/"
cp node_modules/htmx.org/dist/htmx.min.js "$out/htmx/"
touch static_build/.built
echo "front-end assets copied into static_build/"
