#!/bin/sh
# Renders the bundled report fixtures (tests/data/report: federation month and
# year, node, network, index, and a node report whose names are hostile HTML)
# with rhtmltool (rhtml.h) and checks each page in headless Chromium with
# tests/sh/chromium-lib.sh: self-contained, no console message, charts present
# and sized, no horizontal overflow on a phone.  Screenshots are kept in
# $top_builddir/tests/screenshots/.  Pages that break each rule are checked to
# be refused, so the checker itself is shown to work.  Skips only when
# Chromium is absent.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/chromium-lib.sh"

TOOL=$top_builddir/tests/report/rhtmltool
FIX=$top_srcdir/tests/data/report
SHOTS=$top_builddir/tests/screenshots
[ -x "$TOOL" ] || fail "$TOOL is not built"

# Rendering needs no browser: every page is made, and bad input is refused with a message.
for f in federation-month federation-year node-month network-month node-hostile; do
	check "render $f" "$TOOL" report "$FIX/$f.json" "$T/$f.html"
done
check "render index" "$TOOL" index "$FIX/index.json" "$T/index.html"
printf '{"schema": 1, "scope": "federation"' >"$T/bad.json"
if "$TOOL" report "$T/bad.json" "$T/bad.html" 2>"$T/bad.err"; then
	fail "truncated JSON was rendered"
fi
grep -q 'not JSON' "$T/bad.err" || fail "no clear message for truncated JSON: $(cat "$T/bad.err")"
[ ! -e "$T/bad.html" ] || fail "a page was written for bad input"
sed 's/"nb_reqs": [0-9]*/"nb_reqs": "many"/' "$FIX/federation-month.json" >"$T/bad2.json"
"$TOOL" report "$T/bad2.json" "$T/bad2.html" 2>"$T/bad2.err" && fail "a string count was rendered"
grep -q 'nb_reqs: not a non-negative integer' "$T/bad2.err" ||
	fail "no clear message for a string count: $(cat "$T/bad2.err")"

# What the pages say: the fixtures' facts are on them.
grep -q 'missing 4 days' "$T/federation-month.html" || fail "KOERI's missing days are not flagged"
grep -q 'no data' "$T/federation-month.html" || fail "NIEP's silence is not flagged"
grep -q '2025-01-07 to 2025-01-09, 2025-01-21' "$T/node-month.html" ||
	fail "the node report does not name the missing days"
grep -q 'public by default' "$T/node-month.html" || fail "a public-by-default network is not flagged"
grep -q 'href="2025-10/index.html"' "$T/index.html" || fail "the index does not link the newest month"
grep -q '&lt;script&gt;alert' "$T/node-hostile.html" || fail "a hostile name is not escaped"

chromium_available || skip "chromium is not installed (the pages were rendered but not loaded)"

# The checker refuses what it must: a page that fetches, one with a console
# message (an unknown CSP directive, no script needed), one with a zero-size chart.
printf '<!DOCTYPE html><html><body><svg width="10" height="10"></svg><img alt="" src="x.png"></body></html>\n' \
	>"$T/neg-fetch.html"
printf '<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="no-such-directive none"></head><body><svg width="10" height="10"></svg></body></html>\n' \
	>"$T/neg-console.html"
printf '<!DOCTYPE html><html><body><svg width="0" height="10"></svg></body></html>\n' \
	>"$T/neg-size.html"
for n in neg-fetch neg-console neg-size; do
	if page_check "$T/$n.html" "$T/$n.png" 2>"$T/$n.err"; then
		fail "page_check accepted $n.html"
	fi
	echo "# $n refused: $(head -1 "$T/$n.err")"
done

mkdir -p "$SHOTS" || fail "cannot make $SHOTS"
for f in federation-month federation-year node-month network-month node-hostile index; do
	min=3
	[ $f = index ] && min=2
	page_check "$T/$f.html" "$SHOTS/report-$f.png" $min || fail "page_check $f.html"
	n=$(grep -c '^wide svg ' "$SHOTS/report-$f.png.sizes.txt")
	echo "# $f: $n charts, screenshot $SHOTS/report-$f.png"
done
exit 0
