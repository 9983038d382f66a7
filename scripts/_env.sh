# Shared set-up for scripts/build_book.sh and scripts/test.sh (sourced, not run).
# Creates .venv with Python 3.11 if missing, activates it and installs requirements.txt
# (CPU PyTorch pinned there). Set SKIP_INSTALL=1 to reuse an up-to-date .venv without pip.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3.11}"

if [ ! -x .venv/bin/python ]; then
    if ! command -v "$PYTHON" > /dev/null; then
        echo "error: $PYTHON not found: install Python 3.11 or set PYTHON=/path/to/python3.11" >&2
        exit 1
    fi
    echo "== creating .venv with $PYTHON"
    "$PYTHON" -m venv .venv
fi
# shellcheck disable=SC1091
source .venv/bin/activate

if [ "${SKIP_INSTALL:-0}" != "1" ]; then
    echo "== pip install -r requirements.txt"
    python -m pip install --quiet --upgrade pip
    python -m pip install --quiet -r requirements.txt
fi

# Cached parameter sweeps of the chapters (ntklib.sweep): shared by nbval and the book build.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"  # one torch thread: measured fastest for these small problems
export NTKLIB_CACHE_DIR="${NTKLIB_CACHE_DIR:-$ROOT/_build/ntklib_cache}"

# Prints "name: N s" and appends it to _build/timings.txt.
_step_start=0
step() {
    _step_name="$1"
    _step_start=$(date +%s)
    echo
    echo "== $_step_name"
}
step_done() {
    local elapsed=$(( $(date +%s) - _step_start ))
    mkdir -p _build
    echo "$_step_name: ${elapsed} s" | tee -a _build/timings.txt
}

# Jupyter Book: a clean HTML build. The execution cache (_build/.jupyter_cache) is kept, so
# unchanged notebooks are not re-executed; the HTML and doctrees are rebuilt because an
# incremental Sphinx build can drop the MathJax script from pages it does not rewrite.
build_book() {
    rm -rf _build/html _build/.doctrees
    jupyter-book build . -W -n --keep-going
}

# The student edition (scripts/build_student.sh): the source tree without solutions in
# _build/student/src (launch buttons -> branch $STUDENT_BRANCH, default `student`), its HTML in
# _build/student/_build/html (own execution cache next to it; the sweeps cache is shared), then the
# check that no solution text reached it. With INSTRUCTOR_HTML set (test.sh sets _build/html), the
# check first confirms that it sees every solution there.
STUDENT_DIR="${STUDENT_DIR:-_build/student}"
build_student_tree() {
    python scripts/student_edition.py build --dest "$STUDENT_DIR/src"
}
build_student_html() {
    rm -rf "$STUDENT_DIR/_build/html" "$STUDENT_DIR/_build/.doctrees"
    jupyter-book build "$STUDENT_DIR/src" --path-output "$STUDENT_DIR" -W -n --keep-going
}
check_student_edition() {
    local args=(--dest "$STUDENT_DIR/src" --html "$STUDENT_DIR/_build/html")
    if [ -n "${INSTRUCTOR_HTML:-}" ]; then args+=(--instructor-html "$INSTRUCTOR_HTML"); fi
    python scripts/student_edition.py check "${args[@]}"
}
# The three timed steps of the student edition (build_student.sh and test.sh).
student_edition_steps() {
    step "student edition: source tree without solutions"
    build_student_tree
    step_done
    step "student edition: jupyter-book build -W -n --keep-going"
    build_student_html
    step_done
    step "student edition: no solution text in the tree or the HTML"
    check_student_edition
    step_done
}

# The PDF (scripts/build_pdf.sh): the single-page HTML build of a book folder ($1; $2 its build
# output folder, as jupyter-book's --path-output), printed by headless Chromium to $3. The
# singlehtml build reuses the execution cache of the HTML build ($2/_build/.jupyter_cache).
build_pdf() {
    local book="$1" output="$2" pdf="$3"
    rm -rf "$output/_build/singlehtml"
    jupyter-book build "$book" --path-output "$output" --builder singlehtml -W -n --keep-going
    python scripts/pdf_book.py print "$output/_build/singlehtml" --book "$book" --out "$pdf"
}
