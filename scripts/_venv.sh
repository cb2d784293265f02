# Shared by scripts/start and scripts/test: make .venv and install the project into it, only when the venv is
# missing or pyproject.toml (or the extras asked for) changed since the last install, so a restart takes a second.
ensure_venv() {
  local extras="$1"
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Encore needs Python 3.11 or newer" >&2; exit 1; }
  local stamp=".venv/.encore-installed"
  local want
  want="$(sha256sum pyproject.toml | cut -d' ' -f1) ${extras}"
  if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e "${extras}"
  echo "$want" > "$stamp"
}
