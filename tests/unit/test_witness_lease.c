/* SPDX-License-Identifier: MIT */
/*
 * The witness's lease rules (claim 47; docs/ops-ha.md "The witness"): one holder at a time, a
 * standby granted the lease only once the holder's has expired and with a higher epoch, an old
 * incarnation of the holder refused, a restarted witness keeping its last holder's lease for
 * one lease length; and, over many random runs of two askers with their own clock rates and
 * network delays, no two holders ever acting at the same moment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "witness.h"

static struct uv_wit_ask ask(const char *name, uint64_t epoch, uint32_t ms)
{
	struct uv_wit_ask a = {.epoch = epoch, .lease_ms = ms};

	strcpy(a.name, name);
	return a;
}

/* Asks l at now; on a grant, l becomes the new state. */
static enum uv_wit_verdict put(struct uv_wit_lease *l, const char *name, uint64_t epoch,
                               long long now)
{
	struct uv_wit_ask a = ask(name, epoch, 1000);
	struct uv_wit_lease next = {.expires_ms = 0};
	enum uv_wit_verdict v = uv_wit_lease_ask(l, &a, now, &next);

	if (v == UV_WIT_GRANTED)
		*l = next;
	return v;
}

static void test_one_holder_at_a_time(void **state)
{
	struct uv_wit_lease l = {.expires_ms = 0};

	(void)state;
	assert_int_equal(put(&l, "a", 0, 0), UV_WIT_STALE); /* epochs start at 1 */
	assert_int_equal(put(&l, "a", 1, 0), UV_WIT_GRANTED);
	assert_string_equal(l.rec.holder, "a");
	assert_int_equal(uv_wit_lease_left(&l, 400), 600);
	/* b, however high its epoch, waits for a's lease to run out. */
	assert_int_equal(put(&l, "b", 9, 999), UV_WIT_HELD);
	/* a renews: its lease runs from the renewal. */
	assert_int_equal(put(&l, "a", 1, 900), UV_WIT_GRANTED);
	assert_int_equal(put(&l, "b", 2, 1500), UV_WIT_HELD);
	assert_int_equal(uv_wit_lease_left(&l, 1900), 0);
	/* Expired: b only with an epoch above a's. */
	assert_int_equal(put(&l, "b", 1, 1900), UV_WIT_STALE);
	assert_int_equal(put(&l, "b", 2, 1900), UV_WIT_GRANTED);
	assert_string_equal(l.rec.holder, "b");
	assert_int_equal(l.rec.epoch, 2);
	/* a, back from a partition at its old epoch, is refused; so is an old b. */
	assert_int_equal(put(&l, "a", 1, 2000), UV_WIT_HELD);
	assert_int_equal(put(&l, "a", 1, 3000), UV_WIT_STALE);
	assert_int_equal(put(&l, "b", 1, 3000), UV_WIT_STALE);
	/* The holder takes a higher epoch of its own (it took over again). */
	assert_int_equal(put(&l, "b", 5, 3000), UV_WIT_GRANTED);
	assert_int_equal(l.rec.epoch, 5);
}

static void test_refusal_leaves_the_state(void **state)
{
	struct uv_wit_lease l = {.expires_ms = 0}, before, next = {.expires_ms = 0};
	struct uv_wit_ask b = ask("b", 7, 500);

	(void)state;
	assert_int_equal(put(&l, "a", 3, 100), UV_WIT_GRANTED);
	before = l;
	next.expires_ms = -42;
	assert_int_equal(uv_wit_lease_ask(&l, &b, 200, &next), UV_WIT_HELD);
	assert_int_equal(next.expires_ms, -42);
	assert_memory_equal(&l, &before, sizeof(l));
}

static void test_renewal_never_shortens(void **state)
{
	struct uv_wit_lease l = {.expires_ms = 0}, next;
	struct uv_wit_ask longer = ask("a", 1, 5000), shorter = ask("a", 1, 200);

	(void)state;
	assert_int_equal(uv_wit_lease_ask(&l, &longer, 0, &next), UV_WIT_GRANTED);
	l = next;
	assert_int_equal(uv_wit_lease_ask(&l, &shorter, 100, &next), UV_WIT_GRANTED);
	assert_int_equal(next.expires_ms, 5000);
	assert_int_equal(next.rec.lease_ms, 200);
}

static void test_restart_keeps_the_holder_one_lease(void **state)
{
	struct uv_wit_record rec = {.holder = "a", .epoch = 4, .lease_ms = 1000};
	struct uv_wit_record none = {.epoch = 0};
	struct uv_wit_lease l;

	(void)state;
	uv_wit_lease_restart(&l, &rec, 50000);
	assert_int_equal(put(&l, "b", 5, 50999), UV_WIT_HELD);
	assert_int_equal(put(&l, "b", 5, 51000), UV_WIT_GRANTED);
	/* The holder itself renews at once after the restart. */
	uv_wit_lease_restart(&l, &rec, 0);
	assert_int_equal(put(&l, "a", 4, 1), UV_WIT_GRANTED);
	/* A witness that never granted grants at once. */
	uv_wit_lease_restart(&l, &none, 0);
	assert_int_equal(uv_wit_lease_left(&l, 0), 0);
	assert_int_equal(put(&l, "b", 1, 0), UV_WIT_GRANTED);
}

static void test_holder_stops_before_the_witness_moves_on(void **state)
{
	(void)state;
	assert_int_equal(uv_wit_holder_until(1000, 4000), 4000);
	assert_int_equal(uv_wit_holder_until(0, 100), 75);
	for (uint32_t ms = UV_WIT_LEASE_MIN_MS; ms <= UV_WIT_LEASE_MAX_MS; ms += 997)
		assert_true(uv_wit_holder_until(0, ms) < ms);
}

/* Two askers, each with a clock rate (its ms per real ms) within what the rule allows, random
 * delays both ways, each taking the lease when it is refused and silent long enough, as a
 * standby does. Whenever one is granted, the other's last grant must have run out, as that one
 * measures it, before the grant's answer reaches the new holder. */
struct asker {
	const char *name;
	double rate;
	uint64_t epoch;
	double acts_until; /* real ms */
};

static double rnd(unsigned *seed, double lo, double hi)
{
	return lo + (hi - lo) * (rand_r(seed) / (double)RAND_MAX);
}

/* One run; the number of times the lease changed hands. */
static int run_once(unsigned seed)
{
	unsigned first = seed;
	struct asker c[2] = {{"a", rnd(&seed, 0.76, 1.3), 1, -1},
	                     {"b", rnd(&seed, 0.76, 1.3), 1, -1}};
	struct uv_wit_lease l = {.expires_ms = 0};
	double t = 0, arrived = 0;
	int handovers = 0;

	for (int step = 0; step < 400; step++) {
		struct asker *me = &c[rand_r(&seed) % 2], *other = me == c ? &c[1] : &c[0];
		struct uv_wit_ask a = ask(me->name, me->epoch, 1000);
		struct uv_wit_lease next;
		double sent = t, d = sent + rnd(&seed, 0, 400);

		t += rnd(&seed, 0, 700);
		/* The witness's clock is the real one; requests reach it in order. */
		arrived = arrived > d ? arrived : d;
		if (uv_wit_lease_ask(&l, &a, (long long)arrived, &next) != UV_WIT_GRANTED) {
			if (l.rec.epoch >= me->epoch)
				me->epoch = l.rec.epoch + 1; /* a standby asks above what it saw */
			continue;
		}
		handovers += strcmp(l.rec.holder, me->name) != 0;
		l = next;
		if (other->acts_until > arrived)
			fail_msg("seed %u: %s granted at %.0f while %s acts until %.0f", first,
			         me->name, arrived, other->name, other->acts_until);
		/* The holder acts until its own clock says it may no more: real time is its
		 * clock's divided by its rate. */
		me->acts_until = sent + uv_wit_holder_until(0, 1000) / me->rate;
	}
	return handovers;
}

static void test_no_two_holders_act_at_once(void **state)
{
	int handovers = 0;

	(void)state;
	for (unsigned seed = 1; seed <= 3000; seed++)
		handovers += run_once(seed);
	assert_true(handovers > 3000); /* the runs did move the lease about */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_holder_at_a_time),
	    cmocka_unit_test(test_refusal_leaves_the_state),
	    cmocka_unit_test(test_renewal_never_shortens),
	    cmocka_unit_test(test_restart_keeps_the_holder_one_lease),
	    cmocka_unit_test(test_holder_stops_before_the_witness_moves_on),
	    cmocka_unit_test(test_no_two_holders_act_at_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
