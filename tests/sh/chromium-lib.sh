# chromium-lib.sh - checks an HTML page in headless Chromium; source after lib.sh.
chromium_available() { command -v chromium >/dev/null 2>&1; }
