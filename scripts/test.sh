#!/usr/bin/env bash
# Install everything (into .venv, plus Debian's chromium) and run the full test suite:
#   1. ruff check .
#   2. no notebook in chapters/ is committed with outputs or execution counts
#   3. pytest tests/                        (unit tests of ntklib and of the repository)
#   4. pytest --nbval-lax chapters/         (executes every chapter; its asserts are the tests)
#   5. jupyter-book build . -W -n --keep-going   (warnings are errors)
#   6. python tests/browser_check.py        (every built page in headless Chromium, offline)
#   7. the student edition (scripts/build_student.sh): the tree without solutions, its HTML
#      build (executes the student notebooks: they must run without the solution cells), and
#      the check that no solution text reached either (probes confirmed in the instructor HTML)
#   8. the PDF (scripts/build_pdf.sh): singlehtml build, printed by Chromium, then checked
#      (page count, every figure, every theorem box)
# Steps 4, 5 and 7 share a fresh NTKLIB_CACHE_DIR, so the builds reuse the sweeps nbval computed.
# Exits non-zero at the first failing step. Timings: _build/timings.txt.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
rm -f _build/timings.txt
start_all=$(date +%s)

if ! command -v chromium > /dev/null && [ -z "${CHROMIUM:-}" ]; then
    step "apt-get install chromium"
    if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update
    $SUDO apt-get install -y chromium
    step_done
fi

step "ruff check ."
ruff check .
step_done

step "notebooks are stripped"
python scripts/check_notebooks.py
step_done

step "pytest tests/"
python -m pytest tests/ -q
step_done

step "pytest --nbval-lax chapters/"
rm -rf "$NTKLIB_CACHE_DIR"
mkdir -p "$NTKLIB_CACHE_DIR"
set +e
python -m pytest --nbval-lax --nbval-cell-timeout=600 -q -p no:cacheprovider chapters/
rc=$?
set -e
if [ "$rc" = "5" ]; then
    echo "(no notebooks in chapters/ yet)"
elif [ "$rc" != "0" ]; then
    exit "$rc"
fi
step_done

step "jupyter-book build . -W -n --keep-going"
build_book
step_done

step "browser check of _build/html"
python tests/browser_check.py _build/html
step_done

INSTRUCTOR_HTML=_build/html student_edition_steps

step "PDF: singlehtml build and print"
build_pdf . . _build/pdf/book.pdf
step_done

step "PDF: check"
python scripts/pdf_book.py check _build/pdf/book.pdf
step_done

echo
echo "All checks passed in $(( $(date +%s) - start_all )) s. Timings:"
cat _build/timings.txt
