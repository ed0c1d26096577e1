/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-timer-queue.c - many timers behind one GSource: order, repetition, cancellation. */
#include "config.h"

#include "hub-timer-queue.h"

typedef struct {
	HubTimerQueue *queue;
	GString *trace;
	guint64 victim;
	guint fired;
	guint repeat;
} Ctx;

typedef struct {
	Ctx *ctx;
	char tag;
} Tagged;

static gboolean record_once(gpointer user_data)
{
	Tagged *t = user_data;

	g_string_append_c(t->ctx->trace, t->tag);
	return FALSE;
}

static void run_for(guint ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;

	while (g_get_monotonic_time() < end)
		g_main_context_iteration(NULL, FALSE) || (g_usleep(500), TRUE);
}

static void test_fires_in_deadline_order(void)
{
	Ctx ctx = { .queue = hub_timer_queue_new(), .trace = g_string_new("") };
	Tagged a = { &ctx, 'a' }, b = { &ctx, 'b' }, c = { &ctx, 'c' };

	hub_timer_queue_add(ctx.queue, 60, record_once, &c);
	hub_timer_queue_add(ctx.queue, 10, record_once, &a);
	hub_timer_queue_add(ctx.queue, 30, record_once, &b);
	run_for(150);
	g_assert_cmpstr(ctx.trace->str, ==, "abc");
	g_assert_cmpuint(hub_timer_queue_size(ctx.queue), ==, 0);
	hub_timer_queue_free(ctx.queue);
	g_string_free(ctx.trace, TRUE);
}

static gboolean count_three_times(gpointer user_data)
{
	Ctx *ctx = user_data;

	return ++ctx->repeat < 3;
}

static void test_repeats_until_false(void)
{
	Ctx ctx = { .queue = hub_timer_queue_new() };

	hub_timer_queue_add(ctx.queue, 10, count_three_times, &ctx);
	run_for(200);
	g_assert_cmpuint(ctx.repeat, ==, 3);
	g_assert_cmpuint(hub_timer_queue_size(ctx.queue), ==, 0);
	hub_timer_queue_free(ctx.queue);
}

static gboolean cancel_other(gpointer user_data)
{
	Ctx *ctx = user_data;

	hub_timer_queue_remove(ctx->queue, ctx->victim);
	ctx->fired++;
	return TRUE;
}

static gboolean must_not_fire(gpointer user_data)
{
	g_assert_not_reached();
	return FALSE;
}

static gboolean cancel_self(gpointer user_data)
{
	Ctx *ctx = user_data;

	/* Removing itself from inside its callback, while asking to repeat. */
	hub_timer_queue_remove(ctx->queue, ctx->victim);
	ctx->fired++;
	return TRUE;
}

static void test_cancellation(void)
{
	Ctx ctx = { .queue = hub_timer_queue_new() };
	guint64 canceller;

	canceller = hub_timer_queue_add(ctx.queue, 10, cancel_other, &ctx);
	ctx.victim = hub_timer_queue_add(ctx.queue, 50, must_not_fire, NULL);
	run_for(100);
	g_assert_cmpuint(ctx.fired, >=, 2);
	hub_timer_queue_remove(ctx.queue, canceller);
	hub_timer_queue_remove(ctx.queue, 987654); /* unknown: ignored */
	g_assert_cmpuint(hub_timer_queue_size(ctx.queue), ==, 0);

	ctx.fired = 0;
	ctx.victim = hub_timer_queue_add(ctx.queue, 10, cancel_self, &ctx);
	run_for(100);
	g_assert_cmpuint(ctx.fired, ==, 1);
	g_assert_cmpuint(hub_timer_queue_size(ctx.queue), ==, 0);
	/* Freeing with timers pending calls none of them. */
	hub_timer_queue_add(ctx.queue, 1, must_not_fire, NULL);
	hub_timer_queue_free(ctx.queue);
	run_for(20);
}

static gboolean count_fire(gpointer user_data)
{
	(*(guint *)user_data)++;
	return FALSE;
}

static void test_many_timers_one_source(void)
{
	HubTimerQueue *queue = hub_timer_queue_new();
	guint fired = 0;

	for (guint i = 0; i < 1000; i++)
		hub_timer_queue_add(queue, 5 + i % 50, count_fire, &fired);
	g_assert_cmpuint(hub_timer_queue_size(queue), ==, 1000);
	run_for(300);
	g_assert_cmpuint(fired, ==, 1000);
	hub_timer_queue_free(queue);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/hub/timer-queue/fires-in-deadline-order", test_fires_in_deadline_order);
	g_test_add_func("/hub/timer-queue/repeats-until-false", test_repeats_until_false);
	g_test_add_func("/hub/timer-queue/cancellation", test_cancellation);
	g_test_add_func("/hub/timer-queue/many-timers-one-source", test_many_timers_one_source);
	return g_test_run();
}
