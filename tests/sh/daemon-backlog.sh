#!/bin/sh
# A backlog is taken oldest day first (by the date in the name, not by the
# name's sort order), and a file the network registry cannot serve waits
# instead of being counted with traces missing (issue 4; doc/eidastatsd.8).  No
# central service: payloads stay in the spool, whose headers name their
# source files.
. "$top_srcdir/tests/sh/lib.sh"
. "$top_srcdir/tests/daemon/common.sh"

MULTI=$DATA/synthetic-small/multi

# A log directory that does not exist yet is an error in the status, not a
# reason to stop; when it appears, its files are taken.
rmdir "$ESD_LOGS"
esd_config
esd_start
esd_get files.directory_error | grep -q "No such file or directory" || fail "missing directory not shown"
mkdir "$ESD_LOGS"
cp "$DATA/upstream-sample/test.log.bz2" "$ESD_LOGS/fdsnws-requests.log.2020-09-18.bz2"
esd_wait 60 files_counted 1
esd_stop
rm -rf "$ESD_LOGS" "$ESD_STATE"
mkdir "$ESD_LOGS" "$ESD_STATE"

# Names whose sort order is not their day order; mtimes an hour old, so that
# all are ready at the first scan.
cp "$MULTI/fdsnws-requests.log.2024-11-01.bz2" "$ESD_LOGS/a-requests.2024-11-01.bz2"
bzip2 -c "$MULTI/fdsnws-requests.log.2024-10-31" >"$T/whole.bz2" && mv "$T/whole.bz2" "$ESD_LOGS/b-requests.2024-10-31.bz2"   # whole, then in place
cp "$MULTI/fdsnws-requests.log.2024-10-30.bz2" "$ESD_LOGS/c-requests.2024-10-30.bz2"
touch -d '1 hour ago' "$ESD_LOGS"/*
# The registry is unreachable and no registry file is given.
ESD_NETWORKS=
esd_config 'file_pattern: "*-requests.*"'
sed -i '/^  file: $/d' "$ESD_CONF"
esd_start
# The daemon reads each file, fails to reach the registry and puts the file
# back, saying why: that decision, for all three, is the event to wait for.
all_wait_for_registry() {
	for k in 0 1 2; do
		esd_get "waiting_files[$k].reason" | grep -q "network registry could not be reached" || return 1
	done
}
esd_wait 20 files.waiting 3
wait_until 30 all_wait_for_registry || fail "not all three wait for the registry: $(esd_get waiting_files)"
check "nothing counted without the registry" test "$(esd_get files_counted)" = 0
check "nothing spooled" test "$(esd_get spool.pending)" = 0
check "still three waiting" test "$(esd_get files.waiting)" = 3
esd_get last_error.message | grep -q "network registry could not be reached" || fail "not reported"
esd_stop

# With the registry file the backlog goes through, oldest day first.
ESD_NETWORKS=$DATA/synthetic-small/networks.json
esd_config 'file_pattern: "*-requests.*"'
esd_start
esd_wait 120 files_counted 3
i=0
for want in c-requests.2024-10-30.bz2 b-requests.2024-10-31.bz2 a-requests.2024-11-01.bz2; do
	i=$((i + 1))
	f=$ESD_STATE/spool/$(printf '%016x' $i).payload
	# The spool header holds the source name at byte 96 (spool.h).
	got=$(dd if="$f" bs=1 skip=96 count=255 2>/dev/null | tr -d '\000')
	check "payload $i is from $want (got $got)" test "$got" = "$want"
done
esd_stop
exit 0
