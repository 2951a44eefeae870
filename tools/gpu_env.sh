#!/usr/bin/env bash
# Run ntkpaper on a GPU machine whose python3 has jax (CUDA) preinstalled but no package index:
#
#     tools/gpu_env.sh WHEELHOUSE [command...]     (from the repository root, on the GPU machine)
#
# WHEELHOUSE is made by `make wheelhouse` (tools/wheelhouse.py) and carried along. This script
#  1. installs it into .gpu-site with `python3 -m pip install --no-index --no-deps --target`
#     (skipped when .gpu-site already holds exactly that MANIFEST.txt; sha256s are checked first);
#  2. puts the checkout, then .gpu-site, on PYTHONPATH (the checkout first, so that
#     ntkpaper.paths.root() is this repository: ntkpaper imported from .gpu-site would look for
#     notebooks/ and data/ under .gpu-site), .gpu-site/bin on PATH, and a `python3` kernelspec
#     naming this python3 in .gpu-site/share/jupyter on JUPYTER_PATH (papermill's kernel then runs
#     in the same interpreter even where the image has another python3 kernelspec);
#  3. checks `import ntkpaper.nt` here and in a kernel started as papermill starts it;
#  4. runs the command (default: python3 -m ntkpaper run --profile full).
set -euo pipefail

usage() {
  echo "usage: tools/gpu_env.sh WHEELHOUSE [command...]   (from the repository root)" >&2
  echo "  default command: python3 -m ntkpaper run --profile full" >&2
  exit 2
}
die() { echo "gpu_env.sh: error: $*" >&2; exit 1; }
say() { echo "gpu_env.sh: $*"; }

[ $# -ge 1 ] || usage
case "$1" in -h|--help) usage ;; esac
wh=$(cd "$1" 2>/dev/null && pwd) || die "no wheelhouse directory $1"
shift
[ -f "$wh/MANIFEST.txt" ] || die "$wh has no MANIFEST.txt: build it with make wheelhouse"
[ -f pyproject.toml ] && [ -d ntkpaper ] && [ -d notebooks ] \
  || die "run from the repository root (where pyproject.toml, ntkpaper/ and notebooks/ are)"
command -v python3 >/dev/null || die "no python3 on PATH"
python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' \
  || die "python3 is $(python3 -V 2>&1); the wheelhouse holds wheels for Python 3.12"
py=$(python3 -c 'import sys; print(sys.executable)')  # not resolved: a venv's python is a link

site="$PWD/.gpu-site"
stamp="$site/.wheelhouse-MANIFEST.txt"
if [ -f "$stamp" ] && cmp -s "$stamp" "$wh/MANIFEST.txt"; then
  say ".gpu-site already holds this wheelhouse ($(grep -vc '^#' "$stamp") wheels)"
else
  say "checking the wheels against $wh/MANIFEST.txt"
  n=0
  while read -r name version size sum file; do
    case "$name" in '#'*|'') continue ;; esac
    [ -f "$wh/$file" ] || die "$wh/$file ($name $version) is missing"
    got=$(sha256sum "$wh/$file" | cut -d' ' -f1)
    [ "$got" = "$sum" ] || die "$wh/$file: sha256 $got, MANIFEST.txt says $sum (a broken copy?)"
    n=$((n + 1))
  done < "$wh/MANIFEST.txt"
  extra=$(cd "$wh" && shopt -s nullglob && for f in *.whl; do grep -qF " $f" MANIFEST.txt || echo "$f"; done)
  [ "$n" -gt 0 ] || die "$wh/MANIFEST.txt lists no wheels: rebuild it with make wheelhouse"
  [ -z "$extra" ] || die "wheels in $wh that MANIFEST.txt does not list: $extra"
  say "installing $n wheels into .gpu-site (no index)"
  rm -rf "$site.partial"
  python3 -m pip install --quiet --disable-pip-version-check --no-index --no-deps --no-compile \
    --target "$site.partial" "$wh"/*.whl
  rm -rf "$site"
  mv "$site.partial" "$site"
  cp "$wh/MANIFEST.txt" "$stamp"
fi

export PYTHONPATH="$PWD:$site${PYTHONPATH:+:$PYTHONPATH}"
export PATH="$site/bin:$PATH"
export JUPYTER_PATH="$site/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
# The kernel papermill starts (kernel_name python3). ipykernel's wheel ships one whose argv is
# "python" (jupyter_client would substitute its own sys.executable); this one names the
# interpreter outright, and being first on JUPYTER_PATH it wins over any python3 kernelspec of the
# image or of ~/.local/share/jupyter.
kdir="$site/share/jupyter/kernels/python3"
mkdir -p "$kdir"
cat > "$kdir/kernel.json" <<JSON
{
 "argv": ["$py", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
 "display_name": "Python 3 (ntkpaper, .gpu-site)",
 "language": "python",
 "metadata": {"debugger": true}
}
JSON

say "python3 = $py"
python3 -c "import ntkpaper.nt as nt; print('gpu_env.sh: ntkpaper ok:', nt.versions())" \
  || die "import ntkpaper.nt failed with PYTHONPATH=$PYTHONPATH"
# The same import inside a kernel started the way papermill starts one (from notebooks/).
root=$(cd "${NTKPAPER_ROOT:-.}" && pwd -P)
(cd notebooks && python3 - "$site" "$root" <<'PY') || die "the python3 kernel cannot import ntkpaper"
import sys
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import start_new_kernel

site, root = sys.argv[1], sys.argv[2]
spec = KernelSpecManager().get_kernel_spec("python3")
if not spec.resource_dir.startswith(site):
    sys.exit(f"kernelspec python3 resolves to {spec.resource_dir}, not under {site}")
km, kc = start_new_kernel(kernel_name="python3", startup_timeout=120)
try:
    code = ("import sys, ntkpaper.nt as nt, ntkpaper.paths as p\n"
            f"assert str(p.root()) == {root!r}, f'ntkpaper.paths.root() is {{p.root()}}'\n"
            "print('gpu_env.sh: kernel ok:', sys.executable, nt.versions()['backend'])")
    reply = kc.execute_interactive(code, timeout=600)
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
sys.exit(reply["content"]["status"] != "ok")
PY

[ $# -gt 0 ] || set -- python3 -m ntkpaper run --profile full
say "running: $*"
exec "$@"
