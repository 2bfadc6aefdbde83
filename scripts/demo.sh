#!/usr/bin/env bash
# npm run demo: the quickstart on real kernels, end to end, in under a minute.
#
#   sandbox up → plan → apply → live allowed/blocked table → decommission db-1 → plan/apply show
#   its clean removal → proof of zero residue on db-1 → sandbox down
#
# Everything happens in network namespaces the sandbox creates (mseg-web-1, mseg-api-1, mseg-db-1,
# mseg-sbx-ext, mseg-sbx-br), on a copy of examples/quickstart in a temp directory, so neither the
# root namespace's network nor the repository is touched. Whatever happens (failure, Ctrl-C), the
# trap tears the sandbox down and removes the temp directory. Needs root.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [ -t 1 ]; then B=$'\e[1m'; G=$'\e[32m'; R=$'\e[31m'; D=$'\e[2m'; N=$'\e[0m'; else B= G= R= D= N=; fi
step() { printf '\n%s==> %s%s\n' "$B" "$*" "$N"; }
run() { printf '%s$ microseg %s%s\n' "$D" "$*" "$N"; node "$ROOT/bin/microseg.js" "$@"; }
# run_show PATTERN ARGS...: like run, but prints only the lines matching PATTERN (all on failure),
# and a non-zero exit still fails the demo.
run_show() {
  local pat=$1 out code=0
  shift
  printf '%s$ microseg %s%s\n' "$D" "$*" "$N"
  out=$(node "$ROOT/bin/microseg.js" "$@" 2>&1) || code=$?
  if [ "$code" -ne 0 ]; then printf '%s\n' "$out"; return "$code"; fi
  printf '%s\n' "$out" | grep -E "$pat" || true
}

if [ "$(id -u)" -ne 0 ]; then
  echo "demo: the sandbox creates network namespaces, which needs root (sudo npm run demo)" >&2
  exit 1
fi
bash "$ROOT/scripts/setup-system.sh"

# Build when dist is missing or older than any source file.
if [ ! -f dist/src/cli/main.js ] || [ -n "$(find src providers -name '*.ts' -newer dist/src/cli/main.js -print -quit)" ]; then
  echo "demo: building (npm run build)…"
  npm run build --silent
fi

START=$(date +%s)
# A fixed scratch directory: if an earlier run was killed before its trap ran (kill -9), this run
# finds that sandbox as its own (same directory) and removes it first.
WORK="${TMPDIR:-/tmp}/microseg-demo"
DIR="$WORK/quickstart"
if [ -e "$WORK" ]; then
  node "$ROOT/bin/microseg.js" sandbox down "$DIR" >/dev/null 2>&1 || true
  rm -rf "$WORK"
fi
CLEANED=0
cleanup() {
  local code=$?
  [ "$CLEANED" = 1 ] && return
  CLEANED=1
  trap - EXIT INT TERM
  if [ -d "$DIR" ]; then
    node "$ROOT/bin/microseg.js" sandbox down "$DIR" >/dev/null 2>&1 || echo "demo: sandbox down failed; run: microseg sandbox down $DIR" >&2
  fi
  rm -rf "$WORK"
  [ "$code" -ne 0 ] && echo "${R}demo: failed (exit $code); the sandbox was removed${N}" >&2
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$DIR"
cp examples/quickstart/*.hcl "$DIR/"
cd "$WORK"   # paths in the output read quickstart/... instead of /tmp/...

step "1/7  Build the sandbox: one network namespace per enforcer, PUs on a bridge, listeners on every tested port"
run sandbox up quickstart

step "2/7  Plan: what microseg would program on each host (nothing is applied yet)"
run plan quickstart

step "3/7  Apply"
run_show 'applied|verified|Apply complete|failed|error' apply --auto-approve quickstart

step "4/7  Real packets: every expect block, sent through the kernels, checked against the offline trace"
run_show '^[^n]|^n[^o]' test --live quickstart

step "5/7  Decommission db-1: remove the enforcer, its PU and the expectations that name db (policies about app=db now match nothing: validation warns)"
# The blocks end with a `}` in column 0 (the quickstart's style).
awk '/^enforcer "db-1"/,/^}/ {next} /^processing_unit "db"/,/^}/ {next} {print}' "$DIR/hosts.hcl" >"$DIR/hosts.hcl.new"
mv "$DIR/hosts.hcl.new" "$DIR/hosts.hcl"
awk '
  /^expect / { inblk = 1; blk = $0 "\n"; drop = 0; next }
  inblk { blk = blk $0 "\n"; if ($0 ~ /^[ \t]*(from|to)[ \t]*=[ \t]*"db"/) drop = 1
          if ($0 ~ /^}/) { inblk = 0; if (!drop) printf "%s", blk; else removed++ } ; next }
  { print }
  END { print "# demo: removed " removed " expect blocks naming db" > "/dev/stderr" }
' "$DIR/expectations.hcl" >"$DIR/expectations.hcl.new" 2>"$WORK/removed.txt"
mv "$DIR/expectations.hcl.new" "$DIR/expectations.hcl"
echo "removed enforcer \"db-1\" and processing_unit \"db\" from hosts.hcl; $(sed 's/# demo: //' "$WORK/removed.txt") from expectations.hcl"
run plan quickstart

step "6/7  Apply: db-1 is decommissioned, the other hosts keep their rules"
run_show '^(db-1|api-1|web-1):|Apply complete|failed|error' apply --auto-approve quickstart
run_show '^[0-9]+ checked live' test --live quickstart

step "7/7  Zero residue on db-1 (network namespace mseg-db-1 still exists; microseg owns nothing in it)"
in_db() { ip netns exec mseg-db-1 "$@"; }
residue=0
check() { # label, text, pattern of owned objects
  local n
  n=$(printf '%s\n' "$2" | grep -cE "$3" || true)
  if [ "$n" -eq 0 ]; then printf '  %s%-22s%s 0 owned objects %s\n' "$G" "$1" "$N" "$D($(printf '%s' "$2" | grep -c . || true) lines in total)$N"
  else printf '  %s%-22s %s owned objects left:%s\n' "$R" "$1" "$n" "$N"; printf '%s\n' "$2" | grep -E "$3" | sed 's/^/    /'; residue=1; fi
}
check "nft list ruleset" "$(in_db nft list ruleset)" 'microseg'
check "iptables-save" "$(in_db iptables-save 2>/dev/null)" 'MSEG-|microseg'
check "ip6tables-save" "$(in_db ip6tables-save 2>/dev/null)" 'MSEG-|microseg'
check "ipset list -n" "$(in_db ipset list -n 2>/dev/null)" '^mseg-'
[ "$residue" -eq 0 ] || { echo "${R}demo: db-1 still holds microseg objects${N}" >&2; exit 1; }
web_rules=$(ip netns exec mseg-web-1 nft list table inet microseg | grep -c 'comment "microseg:' || true)
echo "  ${D}for contrast, web-1 still enforces: ${web_rules} microseg rules in table inet microseg${N}"

step "Tear down"
run sandbox down quickstart
CLEANED=1
rm -rf "$WORK"
trap - EXIT
printf '\n%sDemo complete in %ss.%s\n' "$G" "$(( $(date +%s) - START ))" "$N"
