/* transfer — the chunked weight transfer, both ends, without sockets. The sender holds a
 * version's serialised weights as a blob cut into chunks with a digest each, and fills the
 * WeightsChunk reply to a WeightsFetch. The receiver asks for at most WIRE_FETCH_WINDOW chunks
 * at a time (through a callback that sends a WeightsFetch), checks each chunk's bounds and
 * digest, starts a new round over what is missing after TRANSFER_RETRY_MS without progress,
 * and checks the whole blob against the announced digest. Time is always passed in. */
#ifndef SPAR_TRANSFER_H
#define SPAR_TRANSFER_H

#include <stddef.h>
#include <stdint.h>

#include "common/digest.h"
#include "common/wire.h"

#define TRANSFER_RETRY_MS 2000        /* without a chunk this long, what was asked is asked again */
#define TRANSFER_MAX_CHUNKS (1u << 24) /* chunks of a weight blob a receiver takes on */

/* ---- sender ---------------------------------------------------------------------------- */

typedef struct {
    uint64_t version;
    uint8_t *data;
    size_t len;
    uint8_t digest[DIGEST_BYTES];
    size_t chunk_bytes;
    uint32_t n_chunks;
    uint8_t (*chunk_digests)[DIGEST_BYTES];
} transfer_blob_t;

/* Takes data (malloc'd, len bytes; freed with the blob) as version's blob in chunks of
 * chunk_bytes (> 0), replacing what b held. */
void transfer_blob_set(transfer_blob_t *b, uint8_t *data, size_t len, uint64_t version, size_t chunk_bytes);
void transfer_blob_free(transfer_blob_t *b);
/* Fills c (a SPAR__WEIGHTS_CHUNK__INIT) as the reply to a fetch of chunk index of version from
 * b (NULL: that version is not held). Its bytes point into b, valid while b is unchanged.
 * Returns 0, or -1 when the chunk is not held (c->error says so). */
int transfer_blob_reply(const transfer_blob_t *b, uint64_t version, uint32_t index, Spar__WeightsChunk *c);

/* ---- receiver -------------------------------------------------------------------------- */

/* Sends a WeightsFetch for chunk index of version. */
typedef void (*transfer_ask_fn)(void *arg, uint64_t version, uint32_t index);

/* The fields are the caller's to read (active, version), not to write. */
typedef struct {
    transfer_ask_fn ask;
    void *ask_arg;
    int active;
    uint64_t version;
    uint32_t n_chunks;
    uint64_t total;
    uint8_t digest[DIGEST_BYTES];
    uint8_t *buf;
    uint8_t *have; /* per chunk: missing, asked (in this round) or here */
    uint32_t received;
    /* at most WIRE_FETCH_WINDOW chunks are asked for at a time (the learner queues at most
     * WIRE_PEER_SNDHWM replies per peer and drops the rest): the next is asked as each arrives */
    uint32_t cursor, in_flight;
    int64_t retry_ms;
} transfer_fetch_t;

typedef enum {
    TRANSFER_ACCEPTED, /* a chunk stored; more to come */
    TRANSFER_IGNORED,  /* no transfer of its version (a late chunk), or a duplicate */
    TRANSFER_BAD,      /* why says what; the caller counts it as a bad message */
    TRANSFER_REFUSED,  /* the sender no longer holds the version: the transfer ended (logged) */
    TRANSFER_FAILED,   /* the transfer ended without weights: digest mismatch or out of memory (logged) */
    TRANSFER_COMPLETE, /* the whole blob is here and matches its digest: transfer_fetch_take it */
} transfer_result_t;

/* Before anything else: f asks for chunks through ask(ask_arg, ...). */
void transfer_fetch_init(transfer_fetch_t *f, transfer_ask_fn ask, void *ask_arg);
void transfer_fetch_free(transfer_fetch_t *f);
/* Starts a transfer of version (what f held is dropped): n_chunks chunks, total bytes and the
 * whole digest as announced (digest NULL: unknown, as after a grant; the first chunk's are
 * adopted). ask: its first chunks are asked for now. Returns 0; -1 for a size no weights have
 * (why says it; the caller counts it: a sender is a peer like any other); -2 when memory ran
 * out (logged). f is inactive after a failure. */
int transfer_fetch_start(transfer_fetch_t *f, uint64_t version, uint32_t n_chunks, uint64_t total,
                         const uint8_t *digest, int ask, int64_t now_ms, char *why, size_t wl);
/* Takes one WeightsChunk (decoded by wire). A bad chunk that was asked for is asked again at
 * once, so the window stays full. */
transfer_result_t transfer_fetch_accept(transfer_fetch_t *f, const Spar__WeightsChunk *c, int64_t now_ms, char *why,
                                        size_t wl);
/* Starts a new round over what is missing when TRANSFER_RETRY_MS passed without progress.
 * Returns when to call it next, or -1 when no transfer is active. */
int64_t transfer_fetch_tick(transfer_fetch_t *f, int64_t now_ms);
/* After TRANSFER_COMPLETE: the blob (the caller frees it) and its length. */
uint8_t *transfer_fetch_take(transfer_fetch_t *f, size_t *len);

#endif
