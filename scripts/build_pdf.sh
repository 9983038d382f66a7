#!/usr/bin/env bash
# Install everything (into .venv) and print the whole book to one PDF: _build/pdf/book.pdf
#   1. jupyter-book build . --builder singlehtml -W -n (the whole book as one HTML page; unchanged
#      notebooks come from the execution cache of the HTML build, changed ones are executed);
#   2. scripts/pdf_book.py print: headless Chromium (offline) waits for MathJax and every image,
#      opens every collapsed block (proof sketches, solutions, hidden cells) and prints A4 pages;
#   3. scripts/pdf_book.py check: page count in a sane range, every figure of the executed
#      notebooks embedded, every theorem box in the text.
# `bash scripts/build_pdf.sh --student` prints the student edition (no solutions) instead, to
# _build/pdf/book-student.pdf; build it first with scripts/build_student.sh.
# Needs Chromium: Debian's `chromium` on the PATH, or CHROMIUM=/path/to/chromium.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
rm -f _build/timings.txt

if [ "${1:-}" = "--student" ]; then
    if [ ! -f "$STUDENT_DIR/src/_config.yml" ]; then
        echo "error: $STUDENT_DIR/src missing: run bash scripts/build_student.sh first" >&2
        exit 1
    fi
    book="$STUDENT_DIR/src" output="$STUDENT_DIR" pdf=_build/pdf/book-student.pdf
else
    book=. output=. pdf=_build/pdf/book.pdf
fi

step "PDF: singlehtml build and print ($pdf)"
build_pdf "$book" "$output" "$pdf"
step_done

step "PDF: check"
python scripts/pdf_book.py check "$pdf"
step_done

echo
echo "PDF: $ROOT/$pdf"
