/* transfer — see transfer.h. The receiver's chunk states live in one byte per chunk; a round
 * walks a cursor over them, asking for the missing ones while the window has room. */
#include "common/transfer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

enum { CHUNK_MISSING = 0, CHUNK_ASKED = 1, CHUNK_HAVE = 2 };

/* ---- sender ---------------------------------------------------------------------------- */

void transfer_blob_free(transfer_blob_t *b) {
    free(b->data);
    free(b->chunk_digests);
    memset(b, 0, sizeof *b);
}

void transfer_blob_set(transfer_blob_t *b, uint8_t *data, size_t len, uint64_t version, size_t chunk_bytes) {
    transfer_blob_free(b);
    b->version = version;
    b->data = data;
    b->len = len;
    b->chunk_bytes = chunk_bytes;
    digest_compute(b->data, b->len, b->digest);
    b->n_chunks = (uint32_t)((b->len + chunk_bytes - 1) / chunk_bytes);
    b->chunk_digests = xmalloc(sizeof *b->chunk_digests * b->n_chunks);
    for (uint32_t i = 0; i < b->n_chunks; i++) {
        size_t off = (size_t)i * chunk_bytes, n = b->len - off < chunk_bytes ? b->len - off : chunk_bytes;
        digest_compute(b->data + off, n, b->chunk_digests[i]);
    }
}

int transfer_blob_reply(const transfer_blob_t *b, uint64_t version, uint32_t index, Spar__WeightsChunk *c) {
    c->version = version;
    if (!b || b->version != version || index >= b->n_chunks) {
        c->error = "version or chunk not held; ask for work to learn the current version";
        return -1;
    }
    size_t off = (size_t)index * b->chunk_bytes;
    c->chunk_index = index;
    c->offset = off;
    c->n_chunks = b->n_chunks;
    c->total_bytes = b->len;
    c->data.data = b->data + off;
    c->data.len = b->len - off < b->chunk_bytes ? b->len - off : b->chunk_bytes;
    c->chunk_digest.data = (uint8_t *)b->chunk_digests[index];
    c->chunk_digest.len = DIGEST_BYTES;
    c->digest.data = (uint8_t *)b->digest;
    c->digest.len = DIGEST_BYTES;
    return 0;
}

/* ---- receiver -------------------------------------------------------------------------- */

void transfer_fetch_init(transfer_fetch_t *f, transfer_ask_fn ask, void *ask_arg) {
    memset(f, 0, sizeof *f);
    f->ask = ask;
    f->ask_arg = ask_arg;
}

/* Drops the transfer, keeping the callback. */
void transfer_fetch_free(transfer_fetch_t *f) {
    free(f->buf);
    free(f->have);
    transfer_fetch_init(f, f->ask, f->ask_arg);
}

static void s_ask(transfer_fetch_t *f, uint32_t i) {
    f->ask(f->ask_arg, f->version, i);
    f->have[i] = CHUNK_ASKED;
    f->in_flight++;
}

/* Asks for missing chunks from the cursor on until the window is full. */
static void s_ask_more(transfer_fetch_t *f) {
    while (f->in_flight < WIRE_FETCH_WINDOW && f->cursor < f->n_chunks) {
        uint32_t i = f->cursor++;
        if (f->have[i] == CHUNK_MISSING) s_ask(f, i);
    }
}

/* A new round: what was asked and has not come is missing again. */
static void s_new_round(transfer_fetch_t *f, int64_t now_ms) {
    for (uint32_t i = 0; i < f->n_chunks; i++)
        if (f->have[i] == CHUNK_ASKED) f->have[i] = CHUNK_MISSING;
    f->cursor = 0;
    f->in_flight = 0;
    s_ask_more(f);
    f->retry_ms = now_ms + TRANSFER_RETRY_MS;
}

int transfer_fetch_start(transfer_fetch_t *f, uint64_t version, uint32_t n_chunks, uint64_t total,
                         const uint8_t *digest, int ask, int64_t now_ms, char *why, size_t wl) {
    transfer_fetch_free(f);
    if (n_chunks == 0 || n_chunks > TRANSFER_MAX_CHUNKS || total > WIRE_MAX_WEIGHT_BYTES || (total && n_chunks > total)) {
        snprintf(why, wl, "weights of %llu bytes in %u chunks (1 to %u chunks, at most one a byte, %llu bytes)",
                 (unsigned long long)total, n_chunks, TRANSFER_MAX_CHUNKS, (unsigned long long)WIRE_MAX_WEIGHT_BYTES);
        return -1;
    }
    uint8_t *buf = malloc(total ? total : 1), *have = calloc(n_chunks, 1);
    if (!buf || !have) {
        free(buf), free(have);
        log_error("cannot hold weights v%llu of %llu bytes: out of memory", (unsigned long long)version,
                  (unsigned long long)total);
        return -2;
    }
    f->active = 1;
    f->version = version;
    f->n_chunks = n_chunks;
    f->total = total;
    if (digest) memcpy(f->digest, digest, DIGEST_BYTES);
    f->buf = buf;
    f->have = have;
    if (total) log_info("fetching weights v%llu (%llu bytes, %u chunks)", (unsigned long long)version,
                        (unsigned long long)total, n_chunks);
    f->retry_ms = now_ms + TRANSFER_RETRY_MS;
    if (ask) s_new_round(f, now_ms);
    return 0;
}

/* What wire_decode already refuses, checked again so that the module is safe on its own. */
static const char *s_malformed(const transfer_fetch_t *f, const Spar__WeightsChunk *c) {
    if (c->digest.len != DIGEST_BYTES || c->chunk_digest.len != DIGEST_BYTES) return "weights chunk without 32-byte digests";
    if (c->n_chunks != f->n_chunks || c->chunk_index >= c->n_chunks) return "weights chunk index beyond the blob";
    return NULL;
}

/* The whole blob is here: checked against its digest. */
static transfer_result_t s_done(transfer_fetch_t *f) {
    uint8_t d[DIGEST_BYTES];
    digest_compute(f->buf, f->total, d);
    f->active = 0;
    if (memcmp(d, f->digest, DIGEST_BYTES) != 0) {
        log_warn("weights v%llu failed the digest check; fetching again", (unsigned long long)f->version);
        return TRANSFER_FAILED; /* the next grant or announcement restarts the transfer */
    }
    return TRANSFER_COMPLETE;
}

/* A chunk that failed its checks: asked again at once if it was asked (the window stays full). */
static transfer_result_t s_bad_chunk(transfer_fetch_t *f, uint32_t i, int adopted, const char *bad, char *why,
                                     size_t wl) {
    snprintf(why, wl, "%s", bad);
    if (f->have[i] == CHUNK_ASKED) {
        f->have[i] = CHUNK_MISSING;
        f->in_flight--;
        s_ask(f, i);
    }
    if (adopted) s_ask_more(f);
    return TRANSFER_BAD;
}

transfer_result_t transfer_fetch_accept(transfer_fetch_t *f, const Spar__WeightsChunk *c, int64_t now_ms, char *why,
                                        size_t wl) {
    if (!f->active || c->version != f->version) return TRANSFER_IGNORED; /* a late chunk of an old transfer */
    if (c->error && c->error[0]) {
        f->active = 0;
        log_warn("learner no longer holds v%llu: %s", (unsigned long long)c->version, c->error);
        return TRANSFER_REFUSED;
    }
    int adopted = 0;
    if (c->digest.len == DIGEST_BYTES && (c->n_chunks != f->n_chunks || c->total_bytes != f->total ||
                                          memcmp(c->digest.data, f->digest, DIGEST_BYTES) != 0)) {
        /* A transfer started from a grant does not know the size or digest yet: adopt the
         * sender's, which the whole blob is then checked against. */
        int rc = transfer_fetch_start(f, c->version, c->n_chunks, c->total_bytes, c->digest.data, 0, now_ms, why, wl);
        if (rc != 0) return rc == -1 ? TRANSFER_BAD : TRANSFER_FAILED;
        adopted = 1;
    }
    const char *bad = s_malformed(f, c);
    if (bad) {
        snprintf(why, wl, "%s", bad);
        return TRANSFER_BAD;
    }
    uint32_t i = c->chunk_index;
    uint8_t d[DIGEST_BYTES];
    digest_compute(c->data.data, c->data.len, d);
    uint64_t off = c->offset;
    bad = memcmp(d, c->chunk_digest.data, DIGEST_BYTES) != 0 ? "a weights chunk failed its digest"
          : off > f->total || c->data.len > f->total - off ? "a weights chunk lies outside the blob"
                                                             : NULL;
    if (bad) return s_bad_chunk(f, i, adopted, bad, why, wl);
    if (f->have[i] == CHUNK_HAVE) return TRANSFER_IGNORED; /* a duplicate (asked again in a later round) */
    if (f->have[i] == CHUNK_ASKED) f->in_flight--;
    memcpy(f->buf + off, c->data.data, c->data.len);
    f->have[i] = CHUNK_HAVE;
    f->retry_ms = now_ms + TRANSFER_RETRY_MS; /* progress */
    if (++f->received == f->n_chunks) return s_done(f);
    s_ask_more(f);
    return TRANSFER_ACCEPTED;
}

int64_t transfer_fetch_tick(transfer_fetch_t *f, int64_t now_ms) {
    if (!f->active) return -1;
    if (now_ms >= f->retry_ms) s_new_round(f, now_ms);
    return f->retry_ms;
}

uint8_t *transfer_fetch_take(transfer_fetch_t *f, size_t *len) {
    uint8_t *buf = f->buf;
    *len = (size_t)f->total;
    f->buf = NULL;
    return buf;
}
