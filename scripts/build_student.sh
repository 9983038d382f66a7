#!/usr/bin/env bash
# Install everything (into .venv) and build the student edition of the book:
#   1. _build/student/src: a complete copy of the repository whose book pages have no solutions
#      (scripts/student_edition.py build); its _config.yml points the launch buttons (Binder,
#      Colab) at the branch `student` (STUDENT_BRANCH=... to change it);
#   2. _build/student/_build/html: its HTML book (notebooks executed, -W -n: warnings are errors);
#   3. the check that no solution text reached the tree or the HTML.
# Publish: `python scripts/student_edition.py publish` commits the tree to the local branch
# `student` (working tree untouched), then `git push origin student`; host the HTML anywhere.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
rm -f _build/timings.txt

student_edition_steps

echo
echo "Student edition built: $ROOT/$STUDENT_DIR/_build/html/index.html (sources: $STUDENT_DIR/src)"
