#!/usr/bin/env bash
# Print the path of a Python 3.12 interpreter, or say how to get one (exit 1).
# Tried in order: $PYTHON, python3.12, python3, then a 3.12 that pyenv has installed but not
# selected (pyenv's python3.12 shim refuses to run until PYENV_VERSION names it).
want="3.12"
ok() { "$1" -c "import sys; sys.exit(sys.version_info[:2] != (3, 12))" >/dev/null 2>&1; }
for c in "${PYTHON:-}" python3.12 python3; do
  [ -n "$c" ] || continue
  p=$(command -v "$c" 2>/dev/null) || continue
  if ok "$p"; then echo "$p"; exit 0; fi
done
if command -v pyenv >/dev/null 2>&1; then
  v=$(pyenv versions --bare 2>/dev/null | grep -E "^${want//./\\.}(\.[0-9]+)?$" | sort -V | tail -n 1)
  if [ -n "$v" ]; then
    p="$(pyenv root)/versions/$v/bin/python$want"
    if ok "$p"; then echo "$p"; exit 0; fi
  fi
fi
cat >&2 <<MSG
error: ntkpaper needs Python $want (jax 0.11 and later need 3.12; the lock is made for it), and
none was found as \$PYTHON, python$want, python3 or a pyenv version. Install one, e.g.
  Debian/Ubuntu:  apt-get install python$want python$want-venv
  pyenv:          pyenv install $want
  conda:          conda env create -f environment.yml   (then: make env PYTHON=\$(which python))
or point make at one: make test PYTHON=/path/to/python$want
MSG
exit 1
