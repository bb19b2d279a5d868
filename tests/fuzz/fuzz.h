/*
 * fuzz.h - what every fuzz target of tests/fuzz/ shares.
 *
 * A target is one file fuzz_NAME.c defining LLVMFuzzerTestOneInput(): it
 * hands the input to one parser of eidastats and checks what the parser
 * promises about its result (FUZZ_CHECK aborts otherwise, which libFuzzer
 * and the replay driver both report as a crash).  A target keeps no state
 * between inputs and frees everything it was given, so leaks are findings.
 *
 * Built two ways (tests/fuzz/Makefile.inc): with libFuzzer
 * (--enable-fuzzing CC=clang: tests/fuzz/fuzz-NAME), and with the replay
 * driver of driver.c (every build: tests/fuzz/replay-NAME, run by
 * `make check` on tests/fuzz/corpus/NAME and tests/fuzz/regressions/NAME).
 */
#ifndef ES_FUZZ_H
#define ES_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A promise of the parser broken by this input: report and abort. */
#define FUZZ_CHECK(cond)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                           \
		}                                                                          \
	} while (0)

#endif
