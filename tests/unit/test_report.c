#include "config.h"

#include "unit.h"
