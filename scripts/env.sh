# Source this file: creates (once) and activates the project's virtual environment.
#   source scripts/env.sh
# The environment lives outside the clone (default ~/.cache/microau-venv, override with
# MICROAU_VENV) so that fresh clones and CI reuse it; the install is re-checked on each source
# and only does work when something is missing.
_microau_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
MICROAU_VENV="${MICROAU_VENV:-$HOME/.cache/microau-venv}"
if [ ! -x "$MICROAU_VENV/bin/python" ]; then
  echo "microau: creating virtual environment in $MICROAU_VENV"
  python3 -m venv "$MICROAU_VENV" || return 1 2>/dev/null || exit 1
fi
# torch/torchvision pinned as a pair that imports with open_clip (see book/implementation_notes.md)
"$MICROAU_VENV/bin/python" -m pip install -q --disable-pip-version-check \
  "torch==2.15.0" "torchvision==0.29.2" 2>&1 | grep -v "^WARNING: Location" || true
"$MICROAU_VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$_microau_root[test]" \
  2>&1 | grep -v "^WARNING: Location" || true
export PATH="$MICROAU_VENV/bin:$PATH"
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}"
unset _microau_root
