#include "config.h"

#include "error.h"

#include "budget.h"

void budget_init(struct budget *b)
{
	atomic_init(&b->used, 0);
}

int budget_take(struct budget *b, size_t n, size_t limit)
{
	size_t used = atomic_load(&b->used);

	do {
		if (used > limit || n > limit - used)
			return ES_ELIMIT;
	} while (!atomic_compare_exchange_weak(&b->used, &used, used + n));
	return 0;
}

void budget_give(struct budget *b, size_t n)
{
	atomic_fetch_sub(&b->used, n);
}

size_t budget_used(struct budget *b)
{
	return atomic_load(&b->used);
}

size_t budget_room(struct budget *b, size_t limit)
{
	size_t used = atomic_load(&b->used);

	return used >= limit ? 0 : limit - used;
}
