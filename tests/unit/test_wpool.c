#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "unit.h"
#include "wpool.h"

struct job {
	uint64_t in, out, acc;
	unsigned worker;
};

struct ring {
	struct job slot[5];
	unsigned nthreads;
};

/* Uneven work, so that later slots often finish before earlier ones. */
static void square(void *ctx, unsigned worker, size_t slot)
{
	struct ring *r = ctx;
	struct job *j = &r->slot[slot];
	uint64_t x = j->in, acc = 0;
	for (uint64_t k = 0; k < (x % 7) * 20000; k++)
		acc += k ^ x;
	j->acc = acc;
	j->out = x * x;
	j->worker = worker;
}

TEST(wpool_results_come_back_in_order)
{
	for (unsigned threads = 1; threads <= 3; threads++) {
		struct ring r;
		memset(&r, 0, sizeof r);
		wpool_t *p;
		ASSERT_OK(wpool_new(&p, threads, 5, square, &r));
		uint64_t next_in = 0, next_out = 0;
		while (next_out < 500) {
			if (next_in < 500 && !wpool_full(p)) {
				r.slot[wpool_filling(p)].in = next_in++;
				wpool_submit(p);
				continue;
			}
			ASSERT(wpool_pending(p) > 0);
			struct job *j = &r.slot[wpool_collect(p)];
			ASSERT_EQ(j->in, next_out);
			ASSERT_EQ(j->out, next_out * next_out);
			ASSERT(j->worker < threads);
			next_out++;
		}
		ASSERT_EQ(wpool_pending(p), 0);
		wpool_free(p);
	}
	wpool_free(NULL);
}

TEST(wpool_free_with_work_in_flight_and_bad_arguments)
{
	struct ring r;
	memset(&r, 0, sizeof r);
	wpool_t *p;
	ASSERT_OK(wpool_new(&p, 2, 5, square, &r));
	for (int i = 0; i < 5; i++) {
		r.slot[wpool_filling(p)].in = 6;
		wpool_submit(p);
	}
	ASSERT(wpool_full(p));
	wpool_free(p);
	ASSERT_ERR(wpool_new(&p, 0, 5, square, &r), -EINVAL);
	ASSERT(p == NULL);
	ASSERT_ERR(wpool_new(&p, WPOOL_MAX_THREADS + 1, 5, square, &r), -EINVAL);
	ASSERT_ERR(wpool_new(&p, 2, 0, square, &r), -EINVAL);
	ASSERT_ERR(wpool_new(&p, 2, 5, NULL, &r), -EINVAL);
}
