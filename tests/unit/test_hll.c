#include "config.h"

#include "unit.h"

/* Tests of the hll module are added by its owner. */
typedef int unit_hll_placeholder;
