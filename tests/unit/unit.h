/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A tiny host-side unit test framework.
 *
 *   TEST(name) { CHECK(x); CHECK_EQ(a, b); }
 *
 * registers unit/<name> through a constructor.  CHECK and CHECK_EQ record the
 * first failure of the running test (file:line, expression, values) and carry
 * on; REQUIRE and REQUIRE_EQ do the same and then return from the current
 * (void) function, for checks the rest of a test depends on.  UNIT_FAILED()
 * tells a long loop to stop early.  test_main.c prints one line per test:
 *
 *   PASS <prefix>/<name>
 *   FAIL <prefix>/<name>: <first failure>
 *
 * then "N passed, N failed".
 */
#ifndef UNIT_H
#define UNIT_H

#include <stdbool.h>
#include <stddef.h>

typedef void (*unit_fn)(void);

void unit_register(const char *name, unit_fn fn);
/* Returns cond; records the first failure of the current test. */
bool unit_check(bool cond, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
bool unit_failed(void);

#define TEST(name)							\
	static void unit_test_##name(void);				\
	__attribute__((constructor)) static void unit_reg_##name(void)	\
	{								\
		unit_register(#name, unit_test_##name);			\
	}								\
	static void unit_test_##name(void)

#define UNIT_FAILED() unit_failed()

#define CHECK(cond)							\
	((void)unit_check(!!(cond), __FILE__, __LINE__, "CHECK(%s)", #cond))

/* Integers of any width and signedness; compared as long long. */
#define UNIT_EQ_(a, b)							\
	({								\
		long long unit_a_ = (long long)(a);			\
		long long unit_b_ = (long long)(b);			\
		unit_check(unit_a_ == unit_b_, __FILE__, __LINE__,	\
			   "CHECK_EQ(%s, %s): %lld (%#llx) != %lld (%#llx)", \
			   #a, #b, unit_a_, (unsigned long long)unit_a_, \
			   unit_b_, (unsigned long long)unit_b_);	\
	})

#define UNIT_PTR_EQ_(a, b)						\
	({								\
		const void *unit_a_ = (a);				\
		const void *unit_b_ = (b);				\
		unit_check(unit_a_ == unit_b_, __FILE__, __LINE__,	\
			   "CHECK_PTR_EQ(%s, %s): %p != %p",		\
			   #a, #b, unit_a_, unit_b_);			\
	})

#define CHECK_EQ(a, b)		((void)UNIT_EQ_(a, b))
#define CHECK_PTR_EQ(a, b)	((void)UNIT_PTR_EQ_(a, b))

#define REQUIRE(cond)							\
	do {								\
		if (!unit_check(!!(cond), __FILE__, __LINE__,		\
				"REQUIRE(%s)", #cond))			\
			return;						\
	} while (0)
#define REQUIRE_EQ(a, b)						\
	do {								\
		if (!UNIT_EQ_(a, b))					\
			return;						\
	} while (0)
#define REQUIRE_PTR_EQ(a, b)						\
	do {								\
		if (!UNIT_PTR_EQ_(a, b))				\
			return;						\
	} while (0)

/* A small seeded PRNG (xorshift64*), the same on every host. */
static inline unsigned long long unit_rand(unsigned long long *s)
{
	unsigned long long x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* Uniform enough in [0, n) for test purposes; n > 0. */
static inline unsigned long long unit_below(unsigned long long *s,
					    unsigned long long n)
{
	return (unit_rand(s) >> 11) % n;
}

#endif /* UNIT_H */
