#!/bin/sh
# Copies the front-end assets installed by npm into static_build/ (ignored by
# git), where Django's staticfiles finds them, and subsets the icon font to the
# icons in use (scripts/subset_icons.py; fontTools from requirements-dev.txt,
# PYTHON picks the interpreter, the venv's by default).
set -eu
cd "$(dirname "$0")/.."
out=static_build/vendor
rm -rf "$out"
mkdir -p "$out/tabler/css" "$out/tabler/js" "$out/tabler-icons/fonts" "$out/htmx"
# With their source maps: the files name them, and the manifest storage of
# collectstatic refuses a reference to a missing file.
cp node_modules/@tabler/core/dist/css/tabler.min.css node_modules/@tabler/core/dist/css/tabler.min.css.map "$out/tabler/css/"
# Bootstrap's dropdowns and dismissable alerts (data-bs-toggle, data-bs-dismiss).
cp node_modules/@tabler/core/dist/js/tabler.min.js node_modules/@tabler/core/dist/js/tabler.min.js.map "$out/tabler/js/"
cp node_modules/htmx.org/dist/htmx.min.js "$out/htmx/"
"${PYTHON:-.venv/bin/python}" scripts/subset_icons.py
touch static_build/.built
echo "front-end assets copied into static_build/"
