#!/usr/bin/env bash
# Install everything (into .venv) and build the HTML book, executing every notebook.
# Result: _build/html/index.html. Warnings are errors (-W): a broken reference, a failing cell or
# a bad directive fails the build.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
rm -f _build/timings.txt

step "jupyter-book build . -W -n --keep-going"
build_book
step_done

echo
echo "Book built: $ROOT/_build/html/index.html"
