#!/usr/bin/env bash
# Mutation testing of lfkit modules against chosen tests: a development tool, never run by CI.
#
#   scripts/mutate.sh "lfkit/model/fuse.py" -m "not slow" tests/test_fuse.py
#   scripts/mutate.sh "lfkit/engine/keywords.py lfkit/engine/apply.py" -m "not slow" tests/test_engine.py
# (its pytest options replace the project's, so pass -m "not slow" to leave slow tests out)
#
# mutmut (installed into .venv on first use) works in a copy of the committed tree
# (git archive HEAD) in $MUT_DIR, default /tmp/mut-<first module>, so its mutants/ folder and
# its settings never reach the repository. $MUT_CHILDREN processes (default 2). Afterwards:
#   cd $MUT_DIR && ../path/to/.venv/bin/mutmut results      # the survivors
#   .venv/bin/mutmut show NAME                               # one mutant's diff
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: scripts/mutate.sh \"MODULE [MODULE...]\" TEST [TEST...]" >&2
    exit 2
fi
modules=$1
shift
repo=$(git rev-parse --show-toplevel)
bin=$repo/.venv/bin
"$bin/python" -c "import mutmut" 2>/dev/null || "$bin/pip" install -q "mutmut==3.8.1" 2>/dev/null

quote() { printf '"%s", ' "$@"; }
first=$(basename "${modules%% *}" .py)
dir=${MUT_DIR:-/tmp/mut-$first}
rm -rf "$dir" && mkdir -p "$dir"
git -C "$repo" archive HEAD | tar -x -C "$dir"
# shellcheck disable=SC2086  # the module list is split on purpose
cat >>"$dir/pyproject.toml" <<TOML

[tool.mutmut]
source_paths = ["lfkit/"]
only_mutate = [$(quote $modules)]
pytest_add_cli_args_test_selection = [$(quote "$@")]
also_copy = ["rules/", "examples/", "docs/"]
pytest_add_cli_args = ["-p", "no:xdist", "-q", "-x", "-o", "addopts=-p no:cacheprovider"]
TOML
cd "$dir"
"$bin/mutmut" run --max-children "${MUT_CHILDREN:-2}"
"$bin/mutmut" results
