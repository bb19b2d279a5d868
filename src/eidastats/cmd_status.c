#include "config.h"

#include <stdio.h>

#include "cmd.h"

int cmd_status(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "eidastats status: not built yet\n");
	return EXIT_USAGE;
}
