#!/bin/sh
# cli-hll.sh - runs `eidastats hll add|union|inspect` for real against the
# golden vectors (tests/data/hll-vectors.json) and checks its error paths.
# Exit 0 pass, 77 skip, anything else fail.

. "${top_srcdir:?run through make check}/tests/sh/lib.sh"
command -v python3 >/dev/null 2>&1 || skip "python3 not found"
command -v eidastats >/dev/null 2>&1 || fail "eidastats is not on PATH"
VECTORS="$DATA/hll-vectors.json"
[ -r "$VECTORS" ] || fail "cannot read $VECTORS"

# Failures are counted rather than fatal, so one run reports every mismatch.
TMP=$T
FAILS=0
note() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

# --- add: every vector whose input is literal raw values --------------------
python3 - "$VECTORS" >"$TMP/add.tsv" <<'PY' || fail "extracting the vectors"
import json, sys
for c in json.load(open(sys.argv[1]))["cases"]:
    if c["kind"] != "add" or any("values" not in p for p in c["input"]):
        continue
    raws = [v for p in c["input"] for v in p["values"]]
    print(c["name"], c["expected"]["hex"], " ".join(map(str, raws)), sep="\t")
PY
n_add=0
while IFS="$(printf '\t')" read -r name want raws; do
	n_add=$((n_add + 1))
	# shellcheck disable=SC2086 # the raw values are meant to be split into arguments
	got=$(eidastats hll add $raws) || note "add $name: exit status $?"
	[ "$got" = "$want" ] || note "add $name (arguments): $got != $want"
	got=$(printf '%s\n' "$raws" | tr ' ' '\n' | eidastats hll add -) || note "add $name: stdin exit $?"
	[ "$got" = "$want" ] || note "add $name (stdin): $got != $want"
done <"$TMP/add.tsv"
[ "$n_add" -ge 10 ] || note "only $n_add literal add vectors found"

# --- union: the operands' own bytes, in both orders ------------------------
python3 - "$VECTORS" >"$TMP/union.tsv" <<'PY' || fail "extracting the vectors"
import json, sys
for c in json.load(open(sys.argv[1]))["cases"]:
    if c["kind"] == "union":
        print(c["name"], c["a_result"]["hex"], c["b_result"]["hex"], c["expected"]["hex"], sep="\t")
PY
n_union=0
while IFS="$(printf '\t')" read -r name a b want; do
	n_union=$((n_union + 1))
	got=$(eidastats hll union "$a" "$b") || note "union $name: exit status $?"
	[ "$got" = "$want" ] || note "union $name (a, b): differs"
	# Lower case without the prefix, reversed order: same bytes.
	la=$(printf '%s' "${a#??}" | tr 'A-F' 'a-f')
	got=$(eidastats hll union "$b" "$la") || note "union $name: exit status $?"
	[ "$got" = "$want" ] || note "union $name (b, a): differs"
	# Union with the result itself and with EMPTY changes nothing.
	got=$(eidastats hll union "$want" "$a" '\x118B7F') || note "union $name: exit status $?"
	[ "$got" = "$want" ] || note "union $name (result, a, empty): differs"
done <"$TMP/union.tsv"
[ "$n_union" -eq 24 ] || note "$n_union union vectors instead of 24"
[ "$(eidastats hll union)" = '\x118B7F' ] || note "union of nothing is not EMPTY"

# --- inspect: every expected payload of the file in one call ----------------
python3 -c 'import json,sys
for c in json.load(open(sys.argv[1]))["cases"]: print(c["expected"]["hex"])' "$VECTORS" >"$TMP/hexes" || fail "extracting the vectors"
# shellcheck disable=SC2046 # one argument per payload
eidastats hll inspect $(cat "$TMP/hexes") >"$TMP/inspect.out" || note "inspect: exit status $?"
python3 - "$VECTORS" "$TMP/inspect.out" <<'PY' || note "inspect output differs from the vectors"
import json, sys
cases = json.load(open(sys.argv[1]))["cases"]
lines = open(sys.argv[2]).read().splitlines()
if len(lines) != len(cases):
    sys.exit("%d lines for %d payloads" % (len(lines), len(cases)))
bad = 0
for c, line in zip(cases, lines):
    e, got = c["expected"], json.loads(line)
    want = {"type": e["type"], "cardinality": e["cardinality"], "estimate": e["estimate"]}
    if e["nonzero_registers"] is not None:
        want["nonzero_registers"] = e["nonzero_registers"]
    elif e["type"] == "EMPTY":
        want["nonzero_registers"] = 0
    for k, v in want.items():
        if got.get(k) != v or type(got.get(k)) is not type(v):
            print("%s: %s = %r, expected %r" % (c["name"], k, got.get(k), v)); bad += 1
    # The estimate is printed as Python's repr, so the text matches too.
    if '"estimate": %r,' % e["estimate"] not in line:
        print("%s: estimate text in %s" % (c["name"], line)); bad += 1
sys.exit(1 if bad else 0)
PY

# --- error paths -------------------------------------------------------------
expect_error() { # expect_error WANT_STATUS STDERR_PATTERN CMD...
	want_status=$1 pattern=$2
	shift 2
	"$@" >"$TMP/out" 2>"$TMP/err" </dev/null
	status=$?
	[ "$status" -eq "$want_status" ] || note "$*: exit status $status, expected $want_status"
	grep -q -- "$pattern" "$TMP/err" || note "$*: stderr lacks '$pattern': $(cat "$TMP/err")"
	[ ! -s "$TMP/out" ] || note "$*: printed to stdout: $(head -c 200 "$TMP/out")"
}
expect_error 1 '"12x" is not a signed 64-bit integer' eidastats hll add 1 12x
expect_error 1 'out of range' eidastats hll add 9223372036854775808
expect_error 1 '"" is not a signed' eidastats hll add ""
expect_error 1 '" 5" is not a signed' eidastats hll add " 5"
printf '1 2\n3 abc 4\n' | eidastats hll add - >"$TMP/out" 2>"$TMP/err"
status=$?
{ [ "$status" -eq 1 ] && grep -q 'stdin: "abc"' "$TMP/err"; } || note "bad stdin value: $(cat "$TMP/err")"
head -c 200 /dev/zero | tr '\0' '7' | eidastats hll add - >"$TMP/out" 2>"$TMP/err"
status=$?
{ [ "$status" -eq 1 ] && grep -q 'longer than' "$TMP/err"; } || note "overlong stdin value: $(cat "$TMP/err")"
expect_error 1 'not a hex digit' eidastats hll inspect '\x118B7F' 'zz'
expect_error 1 'odd number of hex digits' eidastats hll inspect '\x118B7'
expect_error 1 'log2m and regwidth' eidastats hll inspect '\x118C7F'
expect_error 1 'schema version' eidastats hll union '\x218B7F'
expect_error 1 'not strictly ascending' eidastats hll inspect \
	'\x128B7F00000000000000010000000000000001'
expect_error 1 'FULL data is not 1280 bytes' eidastats hll inspect '\x148B7F00'
expect_error 1 'EXPLICIT data is not a multiple' eidastats hll inspect '\x128B7F00'
expect_error 1 'argument 2' eidastats hll union '\x118B7F' '\x108B7F'
expect_error 1 'unknown subcommand' eidastats hll frobnicate
expect_error 1 'subcommand is required' eidastats hll

# Boundaries of the integer syntax are accepted.
got=$(eidastats hll add -- 2>/dev/null); [ $? -eq 1 ] || note "'--' was accepted as a value: $got"
got=$(eidastats hll add -9223372036854775808 9223372036854775807) || note "int64 extremes refused"
[ "$got" = '\x128B7F80000000000000007FFFFFFFFFFFFFFF' ] || note "int64 extremes: $got"

# --help, also after a subcommand: the usage of all three subcommands and what
# each does, on stdout, exit 0.
for args in "--help" "add --help" "union --help" "inspect --help"; do
	# shellcheck disable=SC2086 # args are meant to be split
	eidastats hll $args >"$TMP/out" 2>"$TMP/err" || note "hll $args: exit status $?"
	for want in 'usage: eidastats hll add \[RAW\.\.\.|-\]' '^       eidastats hll union HEX\.\.\.' \
		'^       eidastats hll inspect HEX\.\.\.' '^  add      adds signed 64-bit raw values' \
		'^  union    prints the union' '^  inspect  prints one JSON object per set' 'Exit status: 0 done'; do
		grep -q "$want" "$TMP/out" || note "hll $args: the help lacks /$want/"
	done
	[ ! -s "$TMP/err" ] || note "hll $args wrote to stderr: $(cat "$TMP/err")"
done

[ "$FAILS" -eq 0 ] || { echo "$FAILS failure(s)"; exit 1; }
echo "cli-hll: $n_add add, $n_union union vectors and all payloads inspected"
exit 0
