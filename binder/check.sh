#!/usr/bin/env bash
# Check binder/ the way repo2docker would apply it, without Docker (there is no engine here): apt.txt's packages
# present, a FRESH environment built from binder/requirements.txt, binder/postBuild run in it, then every notebook in
# notebooks/ executed top to bottom, offline, in that environment's kernel, each within NOTEBOOK_LIMIT seconds.
# Usage: bash binder/check.sh (or make binder-check); NOTEBOOK_LIMIT=seconds overrides the bound.
# Outputs: build/binder-{venv,home,notebooks,logs}/, all recreated on every run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$ROOT/build/binder-venv
HOME_STATE=$ROOT/build/binder-home
OUT=$ROOT/build/binder-notebooks
LOGS=$ROOT/build/binder-logs
NOTEBOOK_LIMIT=${NOTEBOOK_LIMIT:-120} # the issue's bound: every notebook, offline, on 2 cores, under two minutes
t_start=$SECONDS

step() { printf '\n== binder-check: %s\n' "$*"; }
fail() {
	printf '\nbinder-check: FAILED: %s\n' "$*" >&2
	exit 1
}
elapsed() { printf '%d s' $((SECONDS - $1)); }
timings=()
# Records how long a phase took, for the summary at the end.
phase_done() { timings+=("$(printf '%-28s %4d s' "$1" $((SECONDS - $2)))"); }
# Runs a step with its output in a log; shows the log's tail when it fails (pip's output is long).
logged() {
	local log=$LOGS/$1.log
	shift
	if ! "$@" >"$log" 2>&1; then
		tail -n 40 "$log" >&2
		fail "$* (full log: ${log#"$ROOT"/})"
	fi
}

# ---------------------------------------------------------------------------------------------------------- 1. apt
step "apt.txt"
t=$SECONDS
mapfile -t apt_pkgs < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' binder/apt.txt)
missing=()
for p in "${apt_pkgs[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
	# repo2docker installs apt.txt as root before anything else; here only root may do the same.
	if [ "$(id -u)" -eq 0 ]; then
		echo "installing missing apt packages: ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
	else
		fail "apt packages from binder/apt.txt not installed: ${missing[*]}. Install them (sudo apt-get install ${missing[*]}) or run this as root."
	fi
fi
echo "installed: ${apt_pkgs[*]}"
phase_done "apt.txt" "$t"

# ---------------------------------------------------------------------------------------------- 2. fresh environment
step "fresh environment from binder/requirements.txt"
want=$(sed -n 's/^python-\([0-9]*\.[0-9]*\).*/\1/p' binder/runtime.txt)
[ -n "$want" ] || fail "binder/runtime.txt must read python-X.Y, it reads: $(cat binder/runtime.txt)"
# Binder builds on the Python runtime.txt names: use that interpreter, whatever python3 is here.
PY=$(command -v "python$want") || fail "binder/runtime.txt pins Python $want: install python$want (or put it on PATH)"
t=$SECONDS
rm -rf "$VENV" "$HOME_STATE" "$OUT" "$LOGS"
mkdir -p "$LOGS" "$HOME_STATE"
"$PY" -m venv "$VENV"
# download.pytorch.org (where requirements.txt finds torch's CPU build) is unreachable on a machine that reaches only
# package mirrors: pip would retry it 5 times with backoff. Without retries pip skips it at once and takes the +cpu
# wheel from the mirror; where it is reachable, keep pip's retries (a transient error should not fail the check).
if python3 -c 'import socket, sys; socket.create_connection(("download.pytorch.org", 443), timeout=5)' 2>/dev/null; then
	export PIP_RETRIES=${PIP_RETRIES:-5}
else
	export PIP_RETRIES=0
fi
export PIP_DEFAULT_TIMEOUT=30 PIP_DISABLE_PIP_VERSION_CHECK=1
# The pip configuration in force (this machine's mirrors, if any) goes in the log: "as declared" means the files in
# binder/, resolved against whatever indexes this machine's pip is configured with.
echo "pip configuration: $(pip config list 2>/dev/null | tr '\n' ' ')"
# repo2docker's environment has a current pip; a new venv's bundled one may be older.
logged pip-upgrade "$VENV/bin/python" -m pip install --upgrade pip
phase_done "new venv, pip upgraded" "$t"
t=$SECONDS
# Exactly as repo2docker: the kernel environment's pip, from the repository root (the file's relative paths are
# relative to it).
logged pip-install "$VENV/bin/pip" install --no-cache-dir -r binder/requirements.txt
phase_done "pip install -r requirements" "$t"
torch=$("$VENV/bin/python" -m pip show torch 2>/dev/null | sed -n 's/^Version: //p' || true)
echo "installed in $(elapsed "$t"): $("$VENV/bin/python" -m pip list --format=freeze 2>/dev/null | wc -l) distributions, torch ${torch:-missing}"
[[ $torch == *+cpu ]] || fail "binder/requirements.txt resolved torch ${torch:-(none)}, not the CPU build"

# ------------------------------------------------------------------------------------------------------ 3. postBuild
step "binder/postBuild"
# A new image has an empty home: caches (the converted Whisper weights), Jupyter and IPython state start empty here
# too, so postBuild's one-time work really happens and the notebooks use what it left. pip's config stays the
# machine's (it names the package mirrors), so HOME itself is kept.
export XDG_CACHE_HOME=$HOME_STATE/.cache KAIZEN_CACHE_DIR=$HOME_STATE/.cache
export JUPYTER_CONFIG_DIR=$HOME_STATE/.jupyter JUPYTER_DATA_DIR=$HOME_STATE/.local/share/jupyter
export IPYTHONDIR=$HOME_STATE/.ipython MPLCONFIGDIR=$HOME_STATE/.config/matplotlib
export KAIZEN_WORKSPACE=$HOME_STATE/.kaizen_lab/workspaces
t=$SECONDS
# As repo2docker: executable, from the repository root, the environment's bin first on PATH.
[ -x binder/postBuild ] || fail "binder/postBuild is not executable (git update-index --chmod=+x binder/postBuild)"
PATH=$VENV/bin:$PATH ./binder/postBuild 2>&1 | tee "$LOGS/postBuild.log" ||
	fail "binder/postBuild failed (log: build/binder-logs/postBuild.log)"
phase_done "postBuild" "$t"

# ------------------------------------------------------------------------------------------------------ 4. notebooks
step "every notebook, offline, in the new environment (limit ${NOTEBOOK_LIMIT} s each)"
# The offline environment of `make test`: no model request leaves the machine, the embedded model is the default,
# approvals come from a script, and no API key or hub download is in reach.
while IFS= read -r name; do unset "$name"; done < <(compgen -e | grep -E '_API_KEY$' || true)
unset AZURE_AI_INFERENCE_ENDPOINT
export KAIZEN_ALLOW_MODEL_REQUESTS=0 KAIZEN_DEFAULT_PROVIDER=local
export KAIZEN_APPROVAL_POLICY=script:$ROOT/notebooks/headless-approvals.json
export HF_HUB_OFFLINE=1
t=$SECONDS
shopt -s nullglob
notebooks=(notebooks/*.ipynb)
((${#notebooks[@]})) || fail "no notebooks in notebooks/"
PATH=$VENV/bin:$PATH "$VENV/bin/python" binder/run_notebooks.py "$OUT" "$NOTEBOOK_LIMIT" "${notebooks[@]}" ||
	fail "a notebook failed or was too slow (executed copies in build/binder-notebooks/)"
phase_done "notebooks" "$t"

step "passed in $(elapsed "$t_start") (executed notebooks in build/binder-notebooks/)"
printf '%s\n' "${timings[@]}" "$(printf '%-28s %4d s' total $((SECONDS - t_start)))"
