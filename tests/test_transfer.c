/* Transfer: a blob of odd size goes through sender and receiver in chunks and comes out whole,
 * with never more than WIRE_FETCH_WINDOW chunks asked at a time; a grant-started transfer
 * adopts the size of the first chunk; a corrupted chunk, an index beyond the blob, data
 * outside it, a duplicate, another version's chunk, sizes over the bounds and a whole-digest
 * mismatch are refused as the actor refused them; a lost chunk is asked again after
 * TRANSFER_RETRY_MS. */
#include "tests/testutil.h"

#include <stdlib.h>
#include <string.h>

#include "common/transfer.h"
#include "common/util.h"

#define CHUNK 100
#define BLOB_LEN (41 * CHUNK + 37) /* 42 chunks, the last short */

/* The receiver's WeightsFetch messages, as the sender would see them. */
typedef struct {
    uint64_t version[4096];
    uint32_t index[4096];
    int head, tail;
} asks_t;

static void s_ask(void *arg, uint64_t version, uint32_t index) {
    asks_t *q = arg;
    assert_true(q->tail < 4096);
    q->version[q->tail] = version;
    q->index[q->tail++] = index;
}

static int s_pending(const asks_t *q) { return q->tail - q->head; }

static void s_blob(transfer_blob_t *b, uint64_t version) {
    uint8_t *data = xmalloc(BLOB_LEN);
    for (int i = 0; i < BLOB_LEN; i++) data[i] = (uint8_t)(i * 31 + 7);
    memset(b, 0, sizeof *b);
    transfer_blob_set(b, data, BLOB_LEN, version, CHUNK);
}

/* The sender's reply to the oldest ask, accepted by the receiver. */
static transfer_result_t s_answer(const transfer_blob_t *b, asks_t *q, transfer_fetch_t *f, int64_t now) {
    assert_true(s_pending(q) > 0);
    Spar__WeightsChunk c = SPAR__WEIGHTS_CHUNK__INIT;
    assert_int_equal(transfer_blob_reply(b, q->version[q->head], q->index[q->head], &c), 0);
    q->head++;
    char why[256] = "";
    transfer_result_t r = transfer_fetch_accept(f, &c, now, why, sizeof why);
    assert_int_not_equal(r, TRANSFER_BAD);
    return r;
}

static void s_expect_whole(transfer_fetch_t *f, const transfer_blob_t *b) {
    assert_int_equal(f->active, 0);
    size_t len;
    uint8_t *got = transfer_fetch_take(f, &len);
    assert_int_equal(len, BLOB_LEN);
    assert_memory_equal(got, b->data, BLOB_LEN);
    free(got);
}

static void test_transfer_blob_chunks_and_reassembles(void **state) {
    (void)state;
    transfer_blob_t b;
    s_blob(&b, 7);
    assert_int_equal(b.n_chunks, 42);
    asks_t q = {0};
    transfer_fetch_t f;
    transfer_fetch_init(&f, s_ask, &q);
    char why[256];
    assert_int_equal(transfer_fetch_start(&f, 7, b.n_chunks, b.len, b.digest, 1, 1000, why, sizeof why), 0);
    assert_int_equal(s_pending(&q), WIRE_FETCH_WINDOW);
    transfer_result_t r;
    int answered = 0;
    while ((r = s_answer(&b, &q, &f, 1000)) == TRANSFER_ACCEPTED) {
        answered++;
        assert_true(s_pending(&q) <= WIRE_FETCH_WINDOW);
        assert_true(f.in_flight <= WIRE_FETCH_WINDOW);
    }
    assert_int_equal(r, TRANSFER_COMPLETE);
    assert_int_equal(answered + 1, 42);
    assert_int_equal(s_pending(&q), 0);
    s_expect_whole(&f, &b);
    transfer_fetch_free(&f);
    transfer_blob_free(&b);
}

static void test_transfer_grant_adopts_the_first_chunks_size(void **state) {
    (void)state;
    transfer_blob_t b;
    s_blob(&b, 3);
    asks_t q = {0};
    transfer_fetch_t f;
    transfer_fetch_init(&f, s_ask, &q);
    char why[256];
    assert_int_equal(transfer_fetch_start(&f, 3, 1, 0, NULL, 1, 0, why, sizeof why), 0);
    assert_int_equal(s_pending(&q), 1);
    assert_int_equal(s_answer(&b, &q, &f, 0), TRANSFER_ACCEPTED);
    assert_int_equal(f.total, BLOB_LEN);
    assert_int_equal(s_pending(&q), WIRE_FETCH_WINDOW); /* chunks 1..16 */
    assert_int_equal(q.index[q.head], 1);
    transfer_result_t r;
    while ((r = s_answer(&b, &q, &f, 0)) == TRANSFER_ACCEPTED) {
    }
    assert_int_equal(r, TRANSFER_COMPLETE);
    s_expect_whole(&f, &b);
    transfer_fetch_free(&f);
    transfer_blob_free(&b);
}

static void test_transfer_sender_refuses_what_it_does_not_hold(void **state) {
    (void)state;
    transfer_blob_t b;
    s_blob(&b, 5);
    Spar__WeightsChunk c = SPAR__WEIGHTS_CHUNK__INIT;
    assert_int_equal(transfer_blob_reply(&b, 5, 42, &c), -1);
    assert_non_null(c.error);
    Spar__WeightsChunk d = SPAR__WEIGHTS_CHUNK__INIT;
    assert_int_equal(transfer_blob_reply(&b, 4, 0, &d), -1);
    assert_int_equal(d.version, 4);
    Spar__WeightsChunk e = SPAR__WEIGHTS_CHUNK__INIT;
    assert_int_equal(transfer_blob_reply(NULL, 5, 0, &e), -1);
    Spar__WeightsChunk last = SPAR__WEIGHTS_CHUNK__INIT;
    assert_int_equal(transfer_blob_reply(&b, 5, 41, &last), 0);
    assert_int_equal(last.offset, 41 * CHUNK);
    assert_int_equal(last.data.len, 37);
    assert_true(!last.error || !last.error[0]);
    transfer_blob_free(&b);
}

/* A started receiver for version 9 and the sender's chunk i, for a test to spoil. */
typedef struct {
    transfer_blob_t b;
    asks_t q;
    transfer_fetch_t f;
    Spar__WeightsChunk c;
    uint8_t data[CHUNK + 8], chunk_digest[DIGEST_BYTES];
    char why[256];
} rig_t;

static void s_rig(rig_t *r, uint32_t i) {
    memset(r, 0, sizeof *r);
    s_blob(&r->b, 9);
    transfer_fetch_init(&r->f, s_ask, &r->q);
    assert_int_equal(transfer_fetch_start(&r->f, 9, r->b.n_chunks, r->b.len, r->b.digest, 1, 0, r->why, sizeof r->why), 0);
    r->c = (Spar__WeightsChunk)SPAR__WEIGHTS_CHUNK__INIT;
    assert_int_equal(transfer_blob_reply(&r->b, 9, i, &r->c), 0);
    memcpy(r->data, r->c.data.data, r->c.data.len);
    memcpy(r->chunk_digest, r->c.chunk_digest.data, DIGEST_BYTES);
    r->c.data.data = r->data;
    r->c.chunk_digest.data = r->chunk_digest;
}

static void s_rig_free(rig_t *r) {
    transfer_fetch_free(&r->f);
    transfer_blob_free(&r->b);
}

static transfer_result_t s_rig_accept(rig_t *r) {
    r->why[0] = 0;
    return transfer_fetch_accept(&r->f, &r->c, 0, r->why, sizeof r->why);
}

static void test_transfer_refuses_a_corrupted_chunk_and_asks_again(void **state) {
    (void)state;
    rig_t r;
    s_rig(&r, 2);
    r.data[5] ^= 1;
    int before = s_pending(&r.q);
    assert_int_equal(s_rig_accept(&r), TRANSFER_BAD);
    assert_non_null(strstr(r.why, "failed its digest"));
    assert_int_equal(s_pending(&r.q), before + 1); /* asked again at once */
    assert_int_equal(r.q.index[r.q.tail - 1], 2);
    assert_int_equal(r.f.in_flight, WIRE_FETCH_WINDOW);
    assert_int_equal(r.f.received, 0);
    r.data[5] ^= 1;
    assert_int_equal(s_rig_accept(&r), TRANSFER_ACCEPTED);
    s_rig_free(&r);
}

static void test_transfer_refuses_an_index_beyond_the_blob(void **state) {
    (void)state;
    rig_t r;
    s_rig(&r, 3);
    r.c.chunk_index = r.b.n_chunks;
    assert_int_equal(s_rig_accept(&r), TRANSFER_BAD);
    assert_int_equal(r.f.received, 0);
    s_rig_free(&r);
}

static void test_transfer_refuses_data_outside_the_blob(void **state) {
    (void)state;
    rig_t r;
    s_rig(&r, 41); /* the short last chunk, made longer than what is left of the blob */
    r.c.data.len = 37 + 1;
    digest_compute(r.data, r.c.data.len, r.chunk_digest);
    assert_int_equal(s_rig_accept(&r), TRANSFER_BAD);
    assert_non_null(strstr(r.why, "outside the blob"));
    r.c.data.len = 37;
    r.c.offset = BLOB_LEN + 1;
    digest_compute(r.data, r.c.data.len, r.chunk_digest);
    assert_int_equal(s_rig_accept(&r), TRANSFER_BAD);
    assert_int_equal(r.f.received, 0);
    s_rig_free(&r);
}

static void test_transfer_ignores_duplicates_and_other_versions(void **state) {
    (void)state;
    rig_t r;
    s_rig(&r, 0);
    assert_int_equal(s_rig_accept(&r), TRANSFER_ACCEPTED);
    assert_int_equal(s_rig_accept(&r), TRANSFER_IGNORED);
    assert_int_equal(r.f.received, 1);
    r.c.version = 8;
    r.c.chunk_index = 1;
    assert_int_equal(s_rig_accept(&r), TRANSFER_IGNORED);
    assert_int_equal(r.f.received, 1);
    s_rig_free(&r);
}

static void test_transfer_refuses_sizes_over_the_bounds(void **state) {
    (void)state;
    asks_t q = {0};
    transfer_fetch_t f;
    transfer_fetch_init(&f, s_ask, &q);
    uint8_t d[DIGEST_BYTES] = {0};
    char why[256];
    assert_int_equal(transfer_fetch_start(&f, 1, 0, 10, d, 1, 0, why, sizeof why), -1);
    assert_int_equal(transfer_fetch_start(&f, 1, TRANSFER_MAX_CHUNKS + 1, WIRE_MAX_WEIGHT_BYTES, d, 1, 0, why, sizeof why), -1);
    assert_int_equal(transfer_fetch_start(&f, 1, 4, WIRE_MAX_WEIGHT_BYTES + 1, d, 1, 0, why, sizeof why), -1);
    assert_int_equal(transfer_fetch_start(&f, 1, 11, 10, d, 1, 0, why, sizeof why), -1); /* more chunks than bytes */
    assert_non_null(strstr(why, "at most one a byte"));
    assert_int_equal(f.active, 0);
    assert_int_equal(s_pending(&q), 0);
    assert_int_equal(transfer_fetch_start(&f, 1, 10, 10, d, 1, 0, why, sizeof why), 0);
    assert_int_equal(f.active, 1);
    transfer_fetch_free(&f);
    /* a chunk announcing a size over the bounds ends the transfer it would restart */
    rig_t r;
    s_rig(&r, 0);
    r.c.n_chunks = 20;
    r.c.total_bytes = 19;
    assert_int_equal(s_rig_accept(&r), TRANSFER_BAD);
    assert_int_equal(r.f.active, 0);
    s_rig_free(&r);
}

static void test_transfer_whole_digest_mismatch_fails(void **state) {
    (void)state;
    transfer_blob_t b;
    s_blob(&b, 4);
    b.digest[0] ^= 1; /* every chunk is sound, the whole is not what was announced */
    asks_t q = {0};
    transfer_fetch_t f;
    transfer_fetch_init(&f, s_ask, &q);
    char why[256];
    assert_int_equal(transfer_fetch_start(&f, 4, b.n_chunks, b.len, b.digest, 1, 0, why, sizeof why), 0);
    transfer_result_t r;
    while ((r = s_answer(&b, &q, &f, 0)) == TRANSFER_ACCEPTED) {
    }
    assert_int_equal(r, TRANSFER_FAILED);
    assert_int_equal(f.active, 0);
    transfer_fetch_free(&f);
    transfer_blob_free(&b);
}

static void test_transfer_sender_error_ends_the_transfer(void **state) {
    (void)state;
    rig_t r;
    s_rig(&r, 0);
    Spar__WeightsChunk e = SPAR__WEIGHTS_CHUNK__INIT;
    assert_int_equal(transfer_blob_reply(&r.b, 9, 99, &e), -1);
    assert_int_equal(transfer_fetch_accept(&r.f, &e, 0, r.why, sizeof r.why), TRANSFER_REFUSED);
    assert_int_equal(r.f.active, 0);
    assert_int_equal(transfer_fetch_tick(&r.f, 99999), -1);
    s_rig_free(&r);
}

static void test_transfer_lost_chunk_is_asked_again(void **state) {
    (void)state;
    transfer_blob_t b;
    s_blob(&b, 2);
    asks_t q = {0};
    transfer_fetch_t f;
    transfer_fetch_init(&f, s_ask, &q);
    char why[256];
    assert_int_equal(transfer_fetch_start(&f, 2, b.n_chunks, b.len, b.digest, 1, 0, why, sizeof why), 0);
    assert_int_equal(transfer_fetch_tick(&f, 0), TRANSFER_RETRY_MS);
    while (s_pending(&q) > 0) {
        if (q.index[q.head] == 5) { /* lost on the way */
            q.head++;
            continue;
        }
        assert_int_equal(s_answer(&b, &q, &f, 1000), TRANSFER_ACCEPTED);
    }
    assert_int_equal(f.received, 41);
    assert_int_equal(transfer_fetch_tick(&f, 1000 + TRANSFER_RETRY_MS - 1), 1000 + TRANSFER_RETRY_MS);
    assert_int_equal(s_pending(&q), 0);
    assert_int_equal(transfer_fetch_tick(&f, 1000 + TRANSFER_RETRY_MS), 1000 + 2 * TRANSFER_RETRY_MS);
    assert_int_equal(s_pending(&q), 1); /* only the lost one */
    assert_int_equal(q.index[q.head], 5);
    assert_int_equal(s_answer(&b, &q, &f, 3000), TRANSFER_COMPLETE);
    s_expect_whole(&f, &b);
    transfer_fetch_free(&f);
    transfer_blob_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transfer_blob_chunks_and_reassembles),
        cmocka_unit_test(test_transfer_grant_adopts_the_first_chunks_size),
        cmocka_unit_test(test_transfer_sender_refuses_what_it_does_not_hold),
        cmocka_unit_test(test_transfer_refuses_a_corrupted_chunk_and_asks_again),
        cmocka_unit_test(test_transfer_refuses_an_index_beyond_the_blob),
        cmocka_unit_test(test_transfer_refuses_data_outside_the_blob),
        cmocka_unit_test(test_transfer_ignores_duplicates_and_other_versions),
        cmocka_unit_test(test_transfer_refuses_sizes_over_the_bounds),
        cmocka_unit_test(test_transfer_whole_digest_mismatch_fails),
        cmocka_unit_test(test_transfer_sender_error_ends_the_transfer),
        cmocka_unit_test(test_transfer_lost_chunk_is_asked_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
