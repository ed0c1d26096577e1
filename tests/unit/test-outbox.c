/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-outbox.c - the durable uplink queue: order, acknowledgement, the
 * drop policy, expiry, resending after a reconnect and after a restart. */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hub-outbox.h"

typedef struct {
	char *dir;
	char *path;
	HubOutbox *outbox;
	HubOutboxLimits limits;
} Fixture;

static void fixture_set_up(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	f->dir = g_dir_make_tmp("hubd-outbox-XXXXXX", &error);
	g_assert_no_error(error);
	f->path = g_build_filename(f->dir, "outbox.db", NULL);
	f->limits = (HubOutboxLimits){ .max_records = 5, .max_bytes = 1000, .commit_interval_ms = 50 };
	f->outbox = hub_outbox_open(f->path, &f->limits, &error);
	g_assert_no_error(error);
}

static void fixture_tear_down(Fixture *f, gconstpointer data)
{
	g_autoptr(GDir) d = NULL;
	const char *name;

	hub_outbox_free(f->outbox);
	d = g_dir_open(f->dir, 0, NULL);
	while (d && (name = g_dir_read_name(d))) {
		g_autofree char *path = g_build_filename(f->dir, name, NULL);

		g_unlink(path);
	}
	g_rmdir(f->dir);
	g_free(f->path);
	g_free(f->dir);
}

static void reopen(Fixture *f)
{
	g_autoptr(GError) error = NULL;

	hub_outbox_free(f->outbox);
	f->outbox = hub_outbox_open(f->path, &f->limits, &error);
	g_assert_no_error(error);
}

static void push(Fixture *f, guint priority, guint ttl_s, const char *text)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(hub_outbox_push(f->outbox, 7, priority, ttl_s, text, strlen(text), &error));
	g_assert_no_error(error);
}

/* The payload of the next record, which must exist; *resent says whether it was handed out before. */
static char *next_text(Fixture *f, gboolean *resent, guint64 *id)
{
	g_autoptr(HubOutboxRecord) record = hub_outbox_next(f->outbox);
	gsize len;
	const char *data;

	g_assert_nonnull(record);
	g_assert_cmpuint(record->kind, ==, 7);
	data = g_bytes_get_data(record->payload, &len);
	if (resent)
		*resent = record->resent;
	if (id)
		*id = record->id;
	return g_strndup(data, len);
}

/* Every payload still queued, oldest first, as "a b c"; hands them out. */
static char *remaining(Fixture *f)
{
	GString *all = g_string_new(NULL);
	HubOutboxRecord *record;

	hub_outbox_rewind(f->outbox);
	while ((record = hub_outbox_next(f->outbox))) {
		gsize len;
		const char *data = g_bytes_get_data(record->payload, &len);

		g_string_append_printf(all, "%s%.*s", all->len ? " " : "", (int)len, data);
		hub_outbox_record_free(record);
	}
	hub_outbox_rewind(f->outbox);
	return g_string_free(all, FALSE);
}

static HubOutboxStats stats(Fixture *f)
{
	HubOutboxStats s;

	hub_outbox_get_stats(f->outbox, &s);
	return s;
}

static void test_order_ack_and_restart(Fixture *f, gconstpointer data)
{
	g_autofree char *first = NULL;
	g_autofree char *left = NULL;
	guint64 id;
	gboolean resent;

	push(f, 1, 60, "a");
	push(f, 3, 60, "b");
	push(f, 0, 60, "c");
	g_assert_cmpuint(stats(f).records, ==, 3);
	g_assert_cmpuint(stats(f).bytes, ==, 3);
	g_assert_cmpint(stats(f).oldest_ms, >, 0);
	/* The top priority overtakes; the rest keeps queue order whatever its priority. */
	first = next_text(f, &resent, &id);
	g_assert_cmpstr(first, ==, "b");
	g_assert_false(resent);
	g_assert_cmpuint(stats(f).in_flight, ==, 1);
	hub_outbox_ack(f->outbox, id);
	hub_outbox_ack(f->outbox, id); /* a second PUBACK changes nothing */
	g_assert_cmpuint(stats(f).records, ==, 2);
	g_assert_cmpuint(stats(f).acknowledged, ==, 1);

	/* Acknowledged messages are gone after a restart; the others survive. */
	reopen(f);
	left = remaining(f);
	g_assert_cmpstr(left, ==, "a c");
	g_assert_cmpuint(stats(f).pushed, ==, 3);
	g_assert_cmpuint(stats(f).acknowledged, ==, 1);
}

static void test_rewind_resends_in_order(Fixture *f, gconstpointer data)
{
	g_autofree char *a = NULL, *b = NULL, *c = NULL, *b2 = NULL, *c2 = NULL, *d = NULL;
	gboolean resent;
	guint64 id_a;

	push(f, 1, 60, "a");
	push(f, 1, 60, "b");
	push(f, 1, 60, "c");
	a = next_text(f, NULL, &id_a);
	b = next_text(f, NULL, NULL);
	c = next_text(f, NULL, NULL);
	g_assert_null(hub_outbox_next(f->outbox));
	hub_outbox_ack(f->outbox, id_a);
	push(f, 1, 60, "d");
	/* The connection dropped with b and c unacknowledged. */
	hub_outbox_rewind(f->outbox);
	g_assert_cmpuint(stats(f).in_flight, ==, 0);
	b2 = next_text(f, &resent, NULL);
	g_assert_cmpstr(b2, ==, "b");
	g_assert_true(resent);
	c2 = next_text(f, &resent, NULL);
	g_assert_cmpstr(c2, ==, "c");
	g_assert_true(resent);
	d = next_text(f, &resent, NULL);
	g_assert_cmpstr(d, ==, "d");
	g_assert_false(resent);
	g_assert_cmpuint(stats(f).resent, ==, 2);
}

/* Answers to the cloud overtake a backlog, also when sent again. */
static void test_urgent_overtakes(Fixture *f, gconstpointer data)
{
	g_autofree char *u = NULL, *a = NULL, *u2 = NULL, *a2 = NULL, *b = NULL;
	gboolean resent;

	push(f, 1, 60, "a");
	push(f, 1, 60, "b");
	push(f, 3, 60, "u");
	u = next_text(f, NULL, NULL);
	g_assert_cmpstr(u, ==, "u");
	a = next_text(f, NULL, NULL);
	g_assert_cmpstr(a, ==, "a");
	hub_outbox_rewind(f->outbox);
	u2 = next_text(f, &resent, NULL);
	g_assert_cmpstr(u2, ==, "u");
	g_assert_true(resent);
	a2 = next_text(f, &resent, NULL);
	g_assert_cmpstr(a2, ==, "a");
	g_assert_true(resent);
	b = next_text(f, &resent, NULL);
	g_assert_cmpstr(b, ==, "b");
	g_assert_false(resent);
	g_assert_null(hub_outbox_next(f->outbox));
}

/* What a killed hubd had handed out is sent again, and counted. */
static void test_restart_resends_what_was_in_flight(Fixture *f, gconstpointer data)
{
	g_autofree char *a = NULL, *b = NULL, *a2 = NULL, *b2 = NULL, *c = NULL;
	gboolean resent;

	push(f, 1, 60, "a");
	push(f, 1, 60, "b");
	push(f, 1, 60, "c");
	a = next_text(f, NULL, NULL);
	b = next_text(f, NULL, NULL);
	g_assert_true(hub_outbox_flush(f->outbox));
	reopen(f);
	a2 = next_text(f, &resent, NULL);
	g_assert_cmpstr(a2, ==, "a");
	g_assert_true(resent);
	b2 = next_text(f, &resent, NULL);
	g_assert_true(resent);
	c = next_text(f, &resent, NULL);
	g_assert_cmpstr(c, ==, "c");
	g_assert_false(resent);
	g_assert_cmpuint(stats(f).resent, ==, 2);
}

/* A crash (no clean close): what was handed out is sent again and counted,
 * and new messages get new ids. */
static void test_crash_resends(Fixture *f, gconstpointer data)
{
	g_autofree char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
	gboolean resent;
	guint64 id_c, id_d;
	pid_t pid;
	int status;

	hub_outbox_free(f->outbox);
	f->outbox = NULL;
	pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		HubOutbox *outbox = hub_outbox_open(f->path, &f->limits, NULL);
		HubOutboxRecord *record;

		hub_outbox_push(outbox, 7, 1, 60, "a", 1, NULL);
		hub_outbox_push(outbox, 7, 1, 60, "b", 1, NULL);
		record = hub_outbox_next(outbox);
		hub_outbox_record_free(record);
		hub_outbox_flush(outbox);
		_exit(record ? 0 : 1); /* as kill -9: nothing closed */
	}
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	reopen(f);
	a = next_text(f, &resent, NULL);
	g_assert_cmpstr(a, ==, "a");
	g_assert_true(resent);
	/* Never handed out, but below the promise: counted too (an upper bound). */
	b = next_text(f, &resent, NULL);
	g_assert_cmpstr(b, ==, "b");
	g_assert_true(resent);
	push(f, 1, 60, "c");
	c = next_text(f, &resent, &id_c);
	g_assert_false(resent);
	hub_outbox_rewind(f->outbox);
	g_free(a);
	a = next_text(f, NULL, NULL);
	g_free(b);
	b = next_text(f, NULL, NULL);
	d = next_text(f, &resent, &id_d);
	g_assert_cmpstr(d, ==, "c");
	g_assert_true(resent);
	g_assert_cmpuint(id_d, ==, id_c);
	g_assert_cmpuint(id_c, >, 8192);
}

/* Five records at most: the lowest priority goes first, oldest first, and a
 * message below everything queued is itself dropped. */
static void test_drop_policy_by_priority(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *after_one = NULL;
	g_autofree char *after_three = NULL;
	g_autofree char *after_refused = NULL;

	push(f, 1, 60, "s1");
	push(f, 0, 60, "low1");
	push(f, 2, 60, "e1");
	push(f, 0, 60, "low2");
	push(f, 1, 60, "s2");
	/* One log line for a run of drops. */
	g_test_expect_message("hubd", G_LOG_LEVEL_WARNING, "Outbox: dropped 1 message(s) (the queue is full*");
	push(f, 1, 60, "s3");
	g_test_assert_expected_messages();
	after_one = remaining(f);
	g_assert_cmpstr(after_one, ==, "s1 e1 low2 s2 s3");
	g_assert_cmpuint(stats(f).dropped_overflow, ==, 1);
	push(f, 3, 60, "ack1");
	push(f, 2, 60, "e2");
	after_three = remaining(f);
	/* low2, then the oldest of priority 1. */
	g_assert_cmpstr(after_three, ==, "ack1 e1 s2 s3 e2");
	g_assert_cmpuint(stats(f).dropped_overflow, ==, 3);
	/* Nothing of priority 0 is left to make room for priority 0. */
	g_assert_false(hub_outbox_push(f->outbox, 7, 0, 60, "low3", 4, &error));
	g_assert_nonnull(error);
	g_assert_cmpuint(stats(f).dropped_overflow, ==, 4);
	after_refused = remaining(f);
	g_assert_cmpstr(after_refused, ==, "ack1 e1 s2 s3 e2");
	g_assert_cmpuint(stats(f).records, ==, 5);
	/* Counted across a restart. */
	reopen(f);
	g_assert_cmpuint(stats(f).dropped_overflow, ==, 4);
	g_assert_cmpuint(stats(f).records, ==, 5);
}

/* A message that would not fit even after everything of its priority and
 * below went is dropped alone: nothing else is sacrificed for nothing. */
static void test_drop_nothing_in_vain(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *events = g_strnfill(900, 'e');
	g_autofree char *state = g_strnfill(200, 's');
	g_autofree char *left = NULL;

	push(f, 2, 60, events);
	push(f, 0, 60, "low");
	g_test_expect_message("hubd", G_LOG_LEVEL_WARNING, "Outbox: dropped 1 message(s) (the queue is full of*");
	g_assert_false(hub_outbox_push(f->outbox, 7, 1, 60, state, strlen(state), &error));
	g_test_assert_expected_messages();
	g_assert_nonnull(error);
	g_assert_cmpuint(stats(f).records, ==, 2);
	g_assert_cmpuint(stats(f).dropped_overflow, ==, 1);
	left = remaining(f);
	g_assert_true(g_str_has_suffix(left, " low"));
}

static void test_drop_policy_by_bytes(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *big = g_strnfill(400, 'x');
	g_autofree char *huge = g_strnfill(1001, 'y');
	g_autofree char *left = NULL;

	push(f, 1, 60, "first");
	push(f, 1, 60, big);
	push(f, 1, 60, big);
	g_assert_cmpuint(stats(f).bytes, ==, 805);
	/* 805 + 400 > 1000: the oldest goes, and that is not enough yet. */
	g_test_expect_message("hubd", G_LOG_LEVEL_WARNING, "Outbox: dropped 2 message(s)*");
	push(f, 1, 60, big);
	g_test_assert_expected_messages();
	g_assert_cmpuint(stats(f).records, ==, 2);
	g_assert_cmpuint(stats(f).bytes, ==, 800);
	g_assert_cmpuint(stats(f).dropped_overflow, ==, 2);
	/* Larger than the whole outbox: refused, nothing else dropped. */
	g_assert_false(hub_outbox_push(f->outbox, 7, 3, 60, huge, strlen(huge), &error));
	g_assert_nonnull(error);
	g_assert_cmpuint(stats(f).records, ==, 2);
	left = remaining(f);
	g_assert_cmpuint(strlen(left), ==, 801);
}

/* Expired messages go first, even of a higher priority, and are never sent. */
static void test_expired_first(Fixture *f, gconstpointer data)
{
	g_autofree char *left = NULL;
	g_autofree char *sent = NULL;

	push(f, 3, 0, "stale-ack");
	push(f, 0, 60, "low1");
	push(f, 0, 60, "low2");
	push(f, 1, 60, "s1");
	push(f, 1, 60, "s2");
	g_test_expect_message("hubd", G_LOG_LEVEL_WARNING, "Outbox: dropped 1 message(s) (expired)*");
	push(f, 0, 60, "low3");
	g_test_assert_expected_messages();
	g_assert_cmpuint(stats(f).dropped_expired, ==, 1);
	g_assert_cmpuint(stats(f).dropped_overflow, ==, 0);
	left = remaining(f);
	g_assert_cmpstr(left, ==, "low1 low2 s1 s2 low3");

	/* An expired message met while sending is dropped, not sent. */
	hub_outbox_clear(f->outbox);
	push(f, 2, 0, "stale");
	push(f, 2, 60, "fresh");
	sent = next_text(f, NULL, NULL);
	g_assert_cmpstr(sent, ==, "fresh");
	g_assert_cmpuint(stats(f).dropped_expired, ==, 2);
	g_assert_cmpuint(stats(f).records, ==, 1);
}

static gint64 wal_size(Fixture *f)
{
	g_autofree char *wal = g_strconcat(f->path, "-wal", NULL);
	GStatBuf st;

	return g_stat(wal, &st) == 0 ? (gint64)st.st_size : 0;
}

static void wait_for_commit(void)
{
	g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);

	g_timeout_add_once(200, (GSourceOnceFunc)g_main_loop_quit, loop);
	g_main_loop_run(loop);
}

/* Acknowledged before its batch committed: never written. */
static void test_acked_in_batch_not_written(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *payload = g_strnfill(1000, 'p');
	gint64 before, acked_growth, kept_growth;

	hub_outbox_free(f->outbox);
	f->limits = (HubOutboxLimits){ .max_records = 10000, .max_bytes = 10000000, .commit_interval_ms = 50 };
	f->outbox = hub_outbox_open(f->path, &f->limits, &error);
	g_assert_no_error(error);

	before = wal_size(f);
	for (guint i = 0; i < 200; i++) {
		g_autoptr(HubOutboxRecord) record = NULL;

		push(f, 1, 60, payload);
		record = hub_outbox_next(f->outbox);
		hub_outbox_ack(f->outbox, record->id);
	}
	wait_for_commit();
	acked_growth = wal_size(f) - before;
	g_assert_cmpuint(stats(f).acknowledged, ==, 200);

	before = wal_size(f);
	for (guint i = 0; i < 200; i++)
		push(f, 1, 60, payload);
	wait_for_commit();
	kept_growth = wal_size(f) - before;
	g_test_message("WAL growth: %" G_GINT64_FORMAT " B for 200 acknowledged in their batch, %" G_GINT64_FORMAT
		       " B for 200 kept", acked_growth, kept_growth);
	g_assert_cmpint(kept_growth, >=, 200 * 1000);
	/* A few pages (counters, the first message, written with the promise of
	 * what was handed out), not 200 messages. */
	g_assert_cmpint(acked_growth, <, kept_growth / 4);
	g_assert_cmpuint(stats(f).records, ==, 200);
}

static void test_clear(Fixture *f, gconstpointer data)
{
	g_autofree char *e = NULL;

	push(f, 1, 60, "a");
	push(f, 1, 60, "b");
	hub_outbox_clear(f->outbox);
	g_assert_null(hub_outbox_next(f->outbox));
	g_assert_cmpuint(stats(f).records, ==, 0);
	g_assert_cmpuint(stats(f).bytes, ==, 0);
	g_assert_cmpint(stats(f).oldest_ms, ==, 0);
	push(f, 1, 60, "e");
	reopen(f);
	e = next_text(f, NULL, NULL);
	g_assert_cmpstr(e, ==, "e");
}

/* Writes wait for the batch: a burst of pushes is one commit. */
static void test_batched_commit(Fixture *f, gconstpointer data)
{
	g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
	g_autofree char *wal = g_strconcat(f->path, "-wal", NULL);
	GStatBuf before, after;

	push(f, 1, 60, "a");
	g_assert_cmpint(g_stat(wal, &before), ==, 0);
	for (guint i = 0; i < 3; i++)
		push(f, 1, 60, "b");
	g_assert_cmpint(g_stat(wal, &after), ==, 0);
	/* Nothing reached the file yet: the batch is still open. */
	g_assert_cmpint(after.st_size, ==, before.st_size);
	g_timeout_add_once(200, (GSourceOnceFunc)g_main_loop_quit, loop);
	g_main_loop_run(loop);
	g_assert_cmpint(g_stat(wal, &after), ==, 0);
	g_assert_cmpint(after.st_size, >, before.st_size);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, func) g_test_add("/hub/outbox/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
	ADD("order-ack-restart", test_order_ack_and_restart);
	ADD("rewind-resends-in-order", test_rewind_resends_in_order);
	ADD("urgent-overtakes", test_urgent_overtakes);
	ADD("restart-resends-in-flight", test_restart_resends_what_was_in_flight);
	ADD("crash-resends", test_crash_resends);
	ADD("drop-policy/priority", test_drop_policy_by_priority);
	ADD("drop-policy/bytes", test_drop_policy_by_bytes);
	ADD("drop-policy/nothing-in-vain", test_drop_nothing_in_vain);
	ADD("expired-first", test_expired_first);
	ADD("clear", test_clear);
	ADD("acked-in-batch-not-written", test_acked_in_batch_not_written);
	ADD("batched-commit", test_batched_commit);
	return g_test_run();
}
