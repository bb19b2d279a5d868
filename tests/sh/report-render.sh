#!/bin/sh
# Renders the bundled report fixtures (tests/data/report) to HTML with rhtmltool
# and checks each page in headless Chromium (tests/sh/chromium-lib.sh).
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/chromium-lib.sh"
chromium_available || skip "chromium is not installed"
fail "not written yet"
