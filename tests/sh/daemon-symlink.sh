#!/bin/sh
# The node on a bad day (issue 11): the log directory is replaced by a
# symbolic link to another directory with files.
#
# Decided behaviour: the configured path is followed wherever it leads (a
# log directory that is a symbolic link is common and legitimate).  The
# daemon notices the replacement at its next scan, says so (naming the
# link's target), watches the new directory and treats its files like any
# other: content already counted (a copy, or the very same files) is not
# counted again, new content is counted once.
# Part 1: two days are counted in the real directory.
# Part 2: the directory is moved away and replaced by a link to another
# directory holding a copy of a counted day and a new day.
# Part 3: the link is pointed back at the old directory (the same files).
# At the end the database equals the golden exactly.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/daemon/common.sh"
MULTI=$DATA/synthetic-small/multi

central_start
esd_config
esd_start

# Part 1.
cp "$MULTI"/fdsnws-requests.log.2024-10-30.bz2 "$MULTI"/fdsnws-requests.log.2024-11-01.bz2 "$ESD_LOGS/"
esd_wait 60 files.done 2
esd_wait 30 spool.pending 0

# Part 2.
mkdir "$T/other"
cp "$MULTI/fdsnws-requests.log.2024-10-30.bz2" "$T/other/"
bzip2 -c "$MULTI/fdsnws-requests.log.2024-10-31" >"$T/other/fdsnws-requests.log.2024-10-31.bz2"
mv "$ESD_LOGS" "$T/logs.old"
ln -s "$T/other" "$ESD_LOGS"
esd_cmd rescan | grep -q '"ok":true' || fail "rescan"
wait_until 30 grep -q "notice: the log directory $ESD_LOGS is now another directory: a symbolic link to $T/other; reading the files there" "$ESD_LOG" ||
	{ tail -n 20 "$ESD_LOG" >&2; fail "the replaced directory is not reported"; }
esd_wait 60 files.done 2
esd_wait 30 files_counted 3
grep -q "same content as 'fdsnws-requests.log.2024-10-30.bz2', already counted (file fdsnws-requests.log.2024-10-30.bz2," "$ESD_LOG" ||
	fail "the copy of a counted day was not recognised"
# The new directory is watched: a file written there is taken.
gzip -c "$DATA/null-country/null-country.log" >"$T/other/fdsnws-requests.log.2024-10-05.gz"
esd_wait 60 files_counted 4
esd_wait 30 spool.pending 0

# Part 3.
ln -sfn "$T/logs.old" "$T/logs.new" && mv -T "$T/logs.new" "$ESD_LOGS"
esd_cmd rescan | grep -q '"ok":true' || fail "rescan"
wait_until 30 grep -q "a symbolic link to $T/logs.old;" "$ESD_LOG" || fail "the second replacement is not reported"
esd_wait 30 files.done 2
check "the same files are not counted again" test "$(esd_get files_counted)" = 4
check "no file failed" test "$(esd_get files.failed)" = 0
check "four payloads stored" test "$(db_payloads)" = 4
db_check "$DATA/synthetic-small/expected-multi.json" "$DATA/null-country/expected.json" ||
	fail "the database differs from the golden"
esd_stop
exit 0
