#!/bin/sh
# Byte for byte: the JSON text of `eidastats aggregate` equals upstream's own
# output (tests/data/*/upstream-raw-output*.json) for every golden set, after
# blanking the two fields that differ by design: generated_at (the time of the
# run) and version (upstream writes "0.8.0", we write "eidastats-VERSION",
# which is checked here too).  Separators, number forms, string escapes, key
# order and the order of the statistics must all be upstream's.  The quirks
# set is left out: there we differ on purpose (tests/data/edge-cases/README.md).
. "$top_srcdir/tests/sh/lib.sh"
es_install
VERSION=$(sed -n 's/^PACKAGE_VERSION = //p' "$top_builddir/Makefile")
[ -n "$VERSION" ] || fail "no PACKAGE_VERSION in $top_builddir/Makefile"

# blank: the text with generated_at and version replaced by "X"; fails unless
# the text starts with exactly those two fields.
HEAD='^{"generated_at": "[0-9]\{4\}-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]", "version": "[^"]*", "days_coverage": \['
blank() {
	grep -q "$HEAD" "$1" || fail "$1 does not start with generated_at, version, days_coverage: $(head -c 120 "$1")"
	sed -e '1s/^{"generated_at": "[^"]*", "version": "[^"]*"/{"generated_at": "X", "version": "X"/' "$1"
}

# same NAME UPSTREAM-RAW ARGS...: aggregates ARGS into a fresh directory and
# compares the one payload written with UPSTREAM-RAW (gzip-compressed if its
# name ends in .gz).
n=0
same() {
	name=$1 raw=$2
	shift 2
	mkdir "$T/$name"
	eidastats aggregate -o "$T/$name" "$@" >"$T/$name.out" 2>"$T/$name.err" ||
		{ cat "$T/$name.err" >&2; fail "$name: eidastats aggregate exited with $?"; }
	set -- "$T/$name"/*.json.gz
	[ $# = 1 ] && [ -f "$1" ] || fail "$name: expected one payload, got: $(ls "$T/$name")"
	gzip -dc "$1" >"$T/$name.ours" || fail "$name: the payload is not gzip"
	case $raw in
	*.gz) gzip -dc "$raw" >"$T/$name.theirs" ;;
	*) cp "$raw" "$T/$name.theirs" ;;
	esac
	grep -q '^{"generated_at": "[^"]*", "version": "0.8.0", ' "$T/$name.theirs" ||
		fail "$raw is not upstream 0.8.0's output"
	grep -q "^{\"generated_at\": \"[^\"]*\", \"version\": \"eidastats-$VERSION\", " "$T/$name.ours" ||
		fail "$name: version is not eidastats-$VERSION: $(head -c 80 "$T/$name.ours")"
	blank "$T/$name.ours" >"$T/$name.ours.x"
	blank "$T/$name.theirs" >"$T/$name.theirs.x"
	if ! cmp "$T/$name.ours.x" "$T/$name.theirs.x" >"$T/$name.cmp" 2>&1; then
		cat "$T/$name.cmp" >&2
		off=$(sed -n 's/.* differ: byte \([0-9]*\),.*/\1/p' "$T/$name.cmp")
		if [ -n "$off" ]; then
			start=$((off > 80 ? off - 80 : 1))
			echo "ours:     $(tail -c +"$start" "$T/$name.ours.x" | head -c 200)" >&2
			echo "upstream: $(tail -c +"$start" "$T/$name.theirs.x" | head -c 200)" >&2
		fi
		fail "$name: our JSON text differs from $(basename "$raw")"
	fi
	n=$((n + 1))
	echo "# $name: byte for byte equal to $(basename "$raw") ($(wc -c <"$T/$name.ours.x") bytes)"
}

S=$DATA/upstream-sample
same sample-plain "$S/upstream-raw-output.json" --networks "$S/networks.json" "$S/test.log"
same sample-bz2 "$S/upstream-raw-output.json" --networks "$S/networks.json" "$S/test.log.bz2"
N=$DATA/null-country
same null-country "$N/upstream-raw-output.json" --networks "$N/networks.json" "$N/null-country.log"
Y=$DATA/synthetic-small
same synthetic-small "$Y/upstream-raw-output.json.gz" --networks "$Y/networks.json" "$Y/small.log.bz2"
M=$Y/multi
same multi "$Y/upstream-raw-output-multi.json.gz" --networks "$Y/networks.json" \
	"$M/fdsnws-requests.log.2024-10-30.bz2" "$M/fdsnws-requests.log.2024-10-31" \
	"$M/fdsnws-requests.log.2024-11-01.bz2"
E=$DATA/edge-cases
same edge-cases "$E/upstream-raw-output.json" --networks "$E/networks.json" "$E/edge.log"
H=$DATA/hll-edges
same hll-edges "$H/upstream-raw-output.json" --networks "$H/networks.json" "$H/hll-edges.log.bz2"

# The comparison can fail: one separator or one number form changed is caught.
sed 's/"aggregation_score": \([0-9]*\)/"aggregation_score": \1.0/' "$T/edge-cases.ours.x" >"$T/altered"
cmp -s "$T/altered" "$T/edge-cases.ours.x" && fail "could not alter the number form"
sed 's/, "stats": /,"stats": /' "$T/edge-cases.ours.x" >"$T/altered2"
cmp -s "$T/altered2" "$T/edge-cases.ours.x" && fail "could not alter a separator"
check "7 sets compared" test "$n" = 7
echo "all $n payloads equal upstream's bytes"
