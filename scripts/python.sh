#!/usr/bin/env bash
# Print the path of a Python >= 3.12 (PyMC 6 needs it), or fail loudly.
# Order: $HLHBAYES_PYTHON, python3.13, python3.12, pyenv's 3.13 / 3.12 builds, python3.
set -u
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; }
for candidate in "${HLHBAYES_PYTHON:-}" python3.13 python3.12; do
  [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 && ok "$candidate" && { command -v "$candidate"; exit 0; }
done
if command -v pyenv >/dev/null 2>&1; then
  for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.(1[2-9])(\.[0-9]+)?$' | sort -V -r); do
    p="$(pyenv root)/versions/$v/bin/python3"
    [ -x "$p" ] && ok "$p" && { echo "$p"; exit 0; }
  done
fi
command -v python3 >/dev/null 2>&1 && ok python3 && { command -v python3; exit 0; }
echo "error: hlhbayes needs Python >= 3.12 (PyMC 6), and none was found." >&2
echo "       Install one (e.g. 'pyenv install 3.12') or set HLHBAYES_PYTHON=/path/to/python3.12." >&2
exit 1
