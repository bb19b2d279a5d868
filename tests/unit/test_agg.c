#include "config.h"

#include "unit.h"

/* Tests of the agg module are added by its owner. */
typedef int unit_agg_placeholder;
