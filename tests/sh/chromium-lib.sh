# chromium-lib.sh - checks an HTML report page in headless Chromium; source it
# after lib.sh (it uses $T, fail and skip).
#
# chromium_available: 0 when a Chromium binary is found (sets CHROMIUM), else 1.
#   A test calls it first and skips (exit 77) when it fails.
#
# page_check HTML_FILE SCREENSHOT_PNG [MIN_SVGS]: returns 0 when the page
#   - is self-contained: no script, no element that loads something (img,
#     link, iframe, object, embed, video, audio, source), no URL with a scheme
#     or "//" in an attribute, no url() or @import in CSS, no "http:" or
#     "https:" anywhere;
#   - loads in headless Chromium without any console message (a page without
#     scripts has none unless something failed);
#   - has at least MIN_SVGS (default 1) <svg> elements in the dumped DOM, each
#     with a non-zero width and height attribute, and each laid out with a
#     non-zero size both 1000 and 375 CSS pixels wide;
#   - does not overflow horizontally on a 375 px wide screen (wide tables
#     scroll inside their own box);
#   and writes a screenshot (1000 px wide) to SCREENSHOT_PNG, keeping the
#   dumped DOM as SCREENSHOT_PNG.dom.html and the measurements as
#   SCREENSHOT_PNG.sizes.txt next to it.  Otherwise it prints why on stderr
#   and returns 1 (so a test can also check that a bad page is refused).
#
# Nothing waits for a fixed time: --dump-dom returns after the load event, and
# the sizes are measured in the load handlers of iframes, which run before the
# measuring page's own load event.  Every run has its own profile directory.

chromium_available() {
	CHROMIUM=
	for c in chromium chromium-browser; do
		if command -v "$c" >/dev/null 2>&1; then
			CHROMIUM=$c
			return 0
		fi
	done
	return 1
}

ES_CHROMIUM_RUNS=0

# chromium_run LOG ARGS...: one headless Chromium, stdout to stdout, stderr to LOG.
chromium_run() {
	local log=$1 sandbox=
	shift
	[ "$(id -u)" = 0 ] && sandbox=--no-sandbox
	ES_CHROMIUM_RUNS=$((ES_CHROMIUM_RUNS + 1))
	# A deadline, not a delay: a browser that hangs fails the check.
	timeout 180 "$CHROMIUM" --headless $sandbox --disable-gpu --no-first-run \
		--no-default-browser-check --disable-extensions --disable-sync \
		--disable-background-networking --disable-component-update --mute-audio \
		--hide-scrollbars --user-data-dir="$T/chromium-profile.$ES_CHROMIUM_RUNS" \
		--enable-logging=stderr --v=0 "$@" 2>"$log"
}

# The static part of the check: nothing in the file loads anything from elsewhere.
page_self_contained() {
	local f=$1
	if grep -Eiq '<(script|link|img|iframe|object|embed|video|audio|source|base)[[:space:]>/]' "$f"; then
		echo "page_check: $f has an element that loads something:" >&2
		grep -Eio '<(script|link|img|iframe|object|embed|video|audio|source|base)[^>]{0,60}' "$f" | head -3 >&2
		return 1
	fi
	if grep -Eiq "[a-z-]+=[\"']?([a-z][a-z0-9+.-]*:|//)" "$f"; then
		echo "page_check: $f has an attribute with a URL:" >&2
		grep -Eio "[a-z-]+=[\"']?([a-z][a-z0-9+.-]*:|//)[^ >]{0,60}" "$f" | head -3 >&2
		return 1
	fi
	if grep -Eiq 'url\(|@import|https?:' "$f"; then
		echo "page_check: $f names a URL:" >&2
		grep -Eio '.{0,30}(url\(|@import|https?:).{0,30}' "$f" | head -3 >&2
		return 1
	fi
}

page_check() {
	local html=$1 png=$2 min=${3:-1} abs dir n bad wrap
	[ -s "$html" ] || { echo "page_check: $html is missing or empty" >&2; return 1; }
	abs=$(cd "$(dirname "$html")" && pwd)/$(basename "$html")
	dir=$(dirname "$png")
	mkdir -p "$dir" || return 1
	page_self_contained "$html" || return 1

	# 1. Load the page itself: console messages and the DOM after load.
	chromium_run "$png.console.log" --dump-dom "file://$abs" >"$png.dom.html" || {
		echo "page_check: chromium --dump-dom failed on $html:" >&2
		tail -5 "$png.console.log" >&2
		return 1
	}
	if grep -q ':CONSOLE' "$png.console.log"; then
		echo "page_check: console messages while loading $html:" >&2
		grep ':CONSOLE' "$png.console.log" | head -5 >&2
		return 1
	fi
	n=$(grep -o '<svg[ >]' "$png.dom.html" | wc -l)
	if [ "$n" -lt "$min" ]; then
		echo "page_check: $html has $n svg elements, fewer than $min" >&2
		return 1
	fi
	# Every svg start tag carries width="W" height="H", both non-zero.
	bad=$(grep -o '<svg[^>]*>' "$png.dom.html" |
		grep -Ev 'width="[0-9.]*[1-9][0-9.]*"' | head -1)
	[ -z "$bad" ] || { echo "page_check: svg without a width: $bad" >&2; return 1; }
	bad=$(grep -o '<svg[^>]*>' "$png.dom.html" |
		grep -Ev 'height="[0-9.]*[1-9][0-9.]*"' | head -1)
	[ -z "$bad" ] || { echo "page_check: svg without a height: $bad" >&2; return 1; }

	# 2. Lay it out at two widths inside iframes and measure what the browser drew.
	wrap=$T/page-check-$ES_CHROMIUM_RUNS.html
	cat >"$wrap" <<EOF
<!DOCTYPE html><html><head><meta charset="utf-8"><script>
function measure(id) {
	var f = document.getElementById(id), d = f.contentDocument, o = [];
	if (!d || !d.body) {
		o.push(id + " noaccess");
	} else {
		var s = d.querySelectorAll("svg");
		o.push(id + " svgs " + s.length);
		for (var i = 0; i < s.length; i++) {
			var r = s[i].getBoundingClientRect();
			o.push(id + " svg " + Math.round(r.width) + " " + Math.round(r.height));
		}
		o.push(id + " overflow " + (d.documentElement.scrollWidth - d.documentElement.clientWidth));
	}
	var p = document.createElement("pre");
	p.textContent = o.join("\n");
	document.body.appendChild(p);
}
</script></head><body>
<iframe id="wide" style="width:1000px;height:700px" onload="measure('wide')" src="file://$abs"></iframe>
<iframe id="phone" style="width:375px;height:700px" onload="measure('phone')" src="file://$abs"></iframe>
</body></html>
EOF
	chromium_run "$png.measure.log" --allow-file-access-from-files --dump-dom "file://$wrap" |
		sed 's/<[^>]*>/\n/g' | grep -E '^(wide|phone) ' >"$png.sizes.txt"
	for w in wide phone; do
		n=$(awk -v w=$w '$1 == w && $2 == "svgs" { print $3 }' "$png.sizes.txt")
		if [ -z "$n" ] || [ "$n" -lt "$min" ]; then
			echo "page_check: $html measured at width '$w': ${n:-no} svg elements" >&2
			cat "$png.sizes.txt" >&2
			return 1
		fi
		bad=$(awk -v w=$w '$1 == w && $2 == "svg" && ($3 < 1 || $4 < 1)' "$png.sizes.txt" | head -1)
		[ -z "$bad" ] || { echo "page_check: $html has an svg drawn with no size: $bad" >&2; return 1; }
	done
	n=$(awk '$1 == "phone" && $2 == "overflow" { print $3 }' "$png.sizes.txt")
	if [ "${n:-1}" -gt 0 ]; then
		echo "page_check: $html is ${n:-?} px wider than a 375 px screen" >&2
		return 1
	fi

	# 3. The screenshot, kept for people to look at.
	rm -f "$png"
	chromium_run "$png.shot.log" --window-size=1000,4000 --screenshot="$png" "file://$abs" \
		>/dev/null || { echo "page_check: the screenshot of $html failed" >&2; return 1; }
	if ! [ -s "$png" ] || [ "$(head -c 4 "$png" | od -An -c | tr -d ' ')" != '211PNG' ]; then
		echo "page_check: $png is not a PNG" >&2
		return 1
	fi
	return 0
}
