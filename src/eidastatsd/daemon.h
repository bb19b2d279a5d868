/*
 * daemon.h - the state of one eidastatsd process, shared by its modules.
 *
 * One struct esd is created by main() and lives until exit.  The libuv loop
 * thread owns every field except those marked "any thread": worker threads
 * (uv_queue_work) only touch the thread-safe library objects (spool, ledger,
 * netx), the log and the atomic stop flag, and hand their results back to the
 * loop in the after-work callbacks.
 *
 * Modules (each with its header):
 *   watch  - the log directory: candidates, settle rules, the ordered queue;
 *   work   - thread-pool jobs: aggregate → spool → ledger, directory scans;
 *   push   - delivery with libcurl multi on the loop: backoff, classification;
 *   ctl    - the control socket (status, rescan, retry, reload);
 *   sdlog  - logging and sd_notify.
 * esd_start()/esd_stop() (daemon.c) initialise and finalise them in
 * dependency order, as main() asks.
 */
#ifndef ESD_DAEMON_H
#define ESD_DAEMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "cfg.h"
#include "ledger.h"
#include "log.h"
#include "netx.h"
#include "sdlog.h"
#include "spool.h"

struct watch;
struct push;
struct ctl;

/* The last error worth showing in `status`, with when it happened. */
struct esd_event {
	int64_t at;          /* unix seconds; 0 = never */
	char text[1024];
};

typedef struct esd {
	uv_loop_t *loop;
	cfg_t cfg;                 /* The configuration in force. */
	char *cfg_path;            /* What -c named; reload reads it again. */
	char *token;               /* central token, NULL without central.url; never logged. */
	sdlog_t log;               /* any thread */
	struct es_log eslog;       /* any thread: the libraries' sink, routed to log */
	spool_t *spool;            /* any thread (own mutex) */
	ledger_t *ledger;          /* any thread (own mutex) */
	netx_t *netx;              /* any thread (own mutex) */
	char *networks_cache;      /* STATE/networks: netx's cache directory */

	struct watch *watch;
	struct push *push;
	struct ctl *ctl;

	uv_signal_t sig_term, sig_int, sig_hup;
	uv_timer_t watchdog;
	uint64_t watchdog_usec;

	/* Serialises "is this content known? → spool → ledger" across workers,
	 * so two copies of one day processed at once are still counted once. */
	pthread_mutex_t commit_lock;  /* any thread */
	atomic_int stopping;          /* any thread: 1 once SIGTERM/SIGINT arrived */

	/* Ids of payloads found damaged (spool/bad/), sorted: the files they
	 * came from are counted again (esd_payload_is_bad()). */
	pthread_mutex_t bad_lock;     /* any thread */
	uint64_t *bad_ids;
	size_t nbad, capbad;

	/* Ledger records of payloads spooled while the ledger could not be
	 * written: such a payload is not delivered until its record is on disk
	 * (esd_held_flush()), so that its file is never counted twice. */
	pthread_mutex_t held_lock;    /* any thread */
	ledger_rec_t *held;
	size_t nheld, capheld;

	int64_t started;           /* unix seconds */
	int lock_fd;               /* Holds the flock() on STATE/lock. */
	int pool_workers;          /* `workers` at start: the thread pool was sized for it. */
	uint64_t lines_read, lines_malformed, refused_traces;
	uint64_t files_counted;    /* Files turned into payloads since start. */
	struct esd_event last_error;
	int spool_full;            /* Set while the spool refuses new payloads. */
	int state_error;           /* -errno while the state directory cannot be written. */
	char notified[160];        /* The last STATUS= sent. */
	int exit_code;
} esd_t;

/* Initialises every module from d->cfg (already loaded) and starts watching,
 * delivering and listening.  On failure logs why and returns -errno/ES_E*. */
int esd_start(esd_t *d);
/* Begins a clean stop: closes handles, abandons work in flight safely; the
 * loop then ends by itself. */
void esd_stop(esd_t *d);
/* Frees what esd_start() made, after the loop has ended. */
void esd_fini(esd_t *d);

/* Start-up recovery (esd_start() calls it): every spooled payload whose
 * source digest is not in the ledger (a run crashed between the spool and
 * the ledger append) is recorded in the ledger as done, with its source name
 * and payload id, so its file is not counted again.  Uses only d->spool,
 * d->ledger and d->log.  0, or the first ledger error (logged; the records
 * added before it stay).  Loop thread, before any worker runs. */
int esd_recover(esd_t *d);

/* Reloads the configuration file.  A bad file (or an unreadable token) is
 * refused and the old configuration stays; err receives why.  Settings that
 * need a restart (state_directory, control_socket) are reported in err but
 * do not fail the reload. */
int esd_reload(esd_t *d, char *err, size_t errlen);

/* Learns the ids of the damaged payloads in spool/bad/ (names
 * "<16 hex digits>.payload[.N]"). */
void esd_bad_scan(esd_t *d);
/* Adds one damaged payload id (found by a load during delivery). */
void esd_bad_add(esd_t *d, uint64_t id);
/* 1 if the payload id is known damaged; any thread. */
int esd_payload_is_bad(esd_t *d, uint64_t id);

/* Holds rec (a spooled payload whose ledger append failed); any thread. */
void esd_held_add(esd_t *d, const ledger_rec_t *rec);
/* Forgets the held record of payload id (its ledger record was written). */
void esd_held_drop(esd_t *d, uint64_t id);
/* 1 if payload id waits for its ledger record; any thread. */
int esd_payload_is_held(esd_t *d, uint64_t id);
/* Appends the held records to the ledger (under commit_lock); those written
 * are forgotten.  0, or the first ledger error.  Any thread (blocks). */
int esd_held_flush(esd_t *d);

/* Records an error for `status` and logs it. */
void esd_error(esd_t *d, const char *file, uint64_t payload, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Publishes a one-line STATUS= for the service manager. */
void esd_notify_status(esd_t *d);

/* Unix seconds now (wall clock). */
int64_t esd_now(void);

#endif
