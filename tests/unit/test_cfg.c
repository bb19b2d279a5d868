#include "config.h"

#include "unit.h"

/* Tests of the cfg module are added by its owner. */
typedef int unit_cfg_placeholder;
