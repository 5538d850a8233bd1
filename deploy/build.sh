#!/usr/bin/env bash
# Builds, from this checkout on Linux, what an admin copies to a server that cannot reach a package index:
#   build/wheelhouse/                   this project's wheel and its dependencies for this machine (Linux), which
#                                       the Ansible role's Linux path installs offline
#   build/wheelhouse-win_amd64/         this project's wheel and win_amd64 wheels of every dependency for Python
#                                       $WINDOWS_PYTHON (default 3.12), which the role's Windows path installs
#   build/connector-preflight-linux-py$LINUX_PYTHON.pyz
#                                       one file for Linux, for the Python minor version that builds it (its
#                                       compiled modules load on that one only): `python3 connector-...pyz run ...`
#   build/connector-preflight-win_amd64-py$WINDOWS_PYTHON.pyz
#                                       the same for Windows Server with that Python: `py connector-preflight-...pyz run`
# The Windows .exe (no Python needed) is built on Windows: see deploy/windows/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
WINDOWS_PYTHON="${WINDOWS_PYTHON:-3.12}"
LINUX_PYTHON="$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
pip=(python3 -m pip --disable-pip-version-check)
windows=(--platform win_amd64 --python-version "$WINDOWS_PYTHON" --implementation cp --only-binary=:all:)
win_dir="build/wheelhouse-win_amd64"
rm -rf "$win_dir" build/wheelhouse build/*.pyz
mkdir -p build

"${pip[@]}" wheel --quiet . -w build/wheelhouse
"${pip[@]}" wheel --quiet --no-deps . -w "$win_dir"
# Environment markers are judged for the machine that runs pip: click's Windows-only dependency (colorama) would
# be left out of a Windows wheelhouse built here, so it is named.
"${pip[@]}" download --quiet "${windows[@]}" -d "$win_dir" "$win_dir"/connector_preflight-*.whl colorama

python3 -m shiv --quiet -o "build/connector-preflight-linux-py${LINUX_PYTHON}.pyz" -e preflight.entry:main -p "/usr/bin/env python3" \
    --no-index --find-links build/wheelhouse connector-preflight
python3 -m shiv --quiet -o "build/connector-preflight-win_amd64-py${WINDOWS_PYTHON}.pyz" -e preflight.entry:main \
    -p "/usr/bin/env python" --no-index --find-links "$win_dir" "${windows[@]}" connector-preflight colorama

ls -l build/*.pyz
echo "wheelhouses: build/wheelhouse ($(ls build/wheelhouse | wc -l) wheels), $win_dir ($(ls "$win_dir" | wc -l) wheels)"
