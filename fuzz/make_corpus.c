/* make_corpus — writes the fuzz targets' seed corpus: small valid inputs made by spar's own
 * writers (an envelope of every body type, a records file, tabular and GPT checkpoints with and
 * without their data digest, configs, JSONL data). Run once, commit the output:
 *   fuzz_make_corpus fuzz/corpus configs/NAME.yaml... configs/NAME.game...   (all of configs/)
 * The files named after the directory are copied as they are into the config seeds (.yaml) and
 * the game seeds (.game). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/digest.h"
#include "common/gpt.h"
#include "common/gpt_io.h"
#include "common/msg.h"
#include "common/policy.h"
#include "common/records.h"
#include "common/safetensors.h"
#include "fuzz/fuzz.h"

static const char *s_dir;

static void s_write(const char *target, const char *name, const void *data, size_t len) {
    char *sub = xasprintf("%s/%s", s_dir, target), *path = xasprintf("%s/%s", sub, name);
    if (util_mkdirs(sub) != 0 || util_write_atomic(path, data, len) != 0) {
        fprintf(stderr, "make_corpus: cannot write %s\n", path);
        exit(1);
    }
    free(path);
    free(sub);
}

/* ---- wire ------------------------------------------------------------------------------- */

static uint32_t s_tokens[] = {3, 1, 4};
static float s_token_lp[] = {-0.5f, -0.25f, -1.0f};
static Spar__Response s_resp[2];
static Spar__Response *s_resps[] = {&s_resp[0], &s_resp[1]};
static double s_pref[] = {0.5, 0.7, 0.3, 0.5};
static double s_rewards[] = {1.0, -0.5};
static uint32_t s_prompt_ids[] = {0, 1};
static char *s_prompts[] = {"12+7=", "3+4="};
static uint8_t s_digest[32] = {1, 2, 3};
static uint8_t s_chunk[16] = "weights-bytes..";
static char *s_lines[] = {"{\"iteration\":1}"};
static char *s_judges[] = {"tcp://judge-0:5557", "tcp://judge-1:5557"};

static void s_responses(void) {
    for (int i = 0; i < 2; i++) {
        spar__response__init(&s_resp[i]);
        s_resp[i].n_tokens = 3 - (size_t)i, s_resp[i].tokens = s_tokens;
        s_resp[i].n_token_logprobs = 3 - (size_t)i, s_resp[i].token_logprobs = s_token_lp;
        s_resp[i].logprob = -1.75 + 0.5 * i;
        s_resp[i].text = i ? "19" : "18";
    }
}

/* One valid envelope of each body type, and that body on its own for fuzz_wire_body. */
static void s_wire(void) {
    s_responses();
    Spar__Hello hello = SPAR__HELLO__INIT;
    hello.role = SPAR__ROLE__ROLE_ACTOR, hello.host = "box", hello.pid = 42;
    Spar__Welcome welcome = SPAR__WELCOME__INIT;
    welcome.run_id = "run-1", welcome.current_version = 3, welcome.heartbeat_ms = 500,
    welcome.policy_kind = "tabular", welcome.seed = 1, welcome.prompts = 16;
    Spar__Heartbeat hb = SPAR__HEARTBEAT__INIT;
    hb.role = SPAR__ROLE__ROLE_JUDGE, hb.policy_version = 2, hb.bad_messages = 1, hb.pairs_judged = 9, hb.ties = 1;
    Spar__WorkRequest wreq = SPAR__WORK_REQUEST__INIT;
    wreq.have_version = 2, wreq.max_prompts = 4;
    Spar__WorkGrant grant = SPAR__WORK_GRANT__INIT;
    grant.lease_id = 7, grant.iteration = 1, grant.policy_version = 2, grant.n_prompt_ids = 2,
    grant.prompt_ids = s_prompt_ids, grant.samples_per_prompt = 2, grant.deadline_unix_ms = 1700000000000,
    grant.n_prompts = 2, grant.prompts = s_prompts, grant.max_new = 8, grant.temperature = 1.0, grant.top_k = 5,
    grant.top_p = 0.9, grant.opponent_mix = 0.25;
    Spar__RolloutGroup group = SPAR__ROLLOUT_GROUP__INIT;
    group.lease_id = 7, group.iteration = 1, group.prompt_id = 1, group.policy_version = 2, group.prompt = "3+4=",
    group.n_responses = 2, group.responses = s_resps, group.n_preference = 4, group.preference = s_pref,
    group.n_rewards = 2, group.rewards = s_rewards, group.judge_version = "rule-1", group.actor_id = "actor-0",
    group.judge_attempts = 1;
    Spar__RolloutAck ack = SPAR__ROLLOUT_ACK__INIT;
    ack.iteration = 1, ack.prompt_id = 1, ack.status = SPAR__ACK_STATUS__ACK_DUPLICATE;
    Spar__JudgeRequest jreq = SPAR__JUDGE_REQUEST__INIT;
    jreq.request_id = 5, jreq.prompt_id = 1, jreq.prompt = "3+4=", jreq.n_responses = 2, jreq.responses = s_resps;
    Spar__JudgeReply jrep = SPAR__JUDGE_REPLY__INIT;
    jrep.request_id = 5, jrep.judge_version = "rule-1", jrep.k = 2, jrep.n_preference = 4, jrep.preference = s_pref,
    jrep.n_rewards = 2, jrep.rewards = s_rewards;
    Spar__WeightsAvailable avail = SPAR__WEIGHTS_AVAILABLE__INIT;
    avail.version = 3, avail.total_bytes = 64, avail.n_chunks = 4, avail.digest.len = 32, avail.digest.data = s_digest;
    Spar__WeightsFetch fetch = SPAR__WEIGHTS_FETCH__INIT;
    fetch.version = 3, fetch.chunk_index = 1;
    Spar__WeightsChunk chunk = SPAR__WEIGHTS_CHUNK__INIT;
    chunk.version = 3, chunk.chunk_index = 1, chunk.n_chunks = 4, chunk.total_bytes = 64, chunk.offset = 16,
    chunk.data.len = sizeof s_chunk, chunk.data.data = s_chunk, chunk.chunk_digest.len = 32,
    chunk.chunk_digest.data = s_digest, chunk.digest.len = 32, chunk.digest.data = s_digest;
    Spar__IterationSummary summary = SPAR__ITERATION_SUMMARY__INIT;
    summary.iteration = 1, summary.json = "{\"iteration\":1,\"loss\":0.5}";
    Spar__Shutdown shutdown = SPAR__SHUTDOWN__INIT;
    shutdown.reason = "done";
    Spar__StatusRequest sreq = SPAR__STATUS_REQUEST__INIT;
    sreq.iterations = 3;
    Spar__Status status = SPAR__STATUS__INIT;
    status.json = "{\"state\":\"running\"}", status.n_iterations = 1, status.iterations = s_lines;
    Spar__JudgePool pool = SPAR__JUDGE_POOL__INIT;
    pool.n_endpoints = 2, pool.endpoints = s_judges;
    ProtobufCMessage *bodies[] = {&hello.base, &welcome.base, &hb.base, &wreq.base, &grant.base, &group.base,
                                  &ack.base, &jreq.base, &jrep.base, &avail.base, &fetch.base, &chunk.base,
                                  &summary.base, &shutdown.base, &sreq.base, &status.base, &pool.base};
    size_t n_bodies = sizeof bodies / sizeof bodies[0];
    for (unsigned i = 0;; i++) {
        const ProtobufCFieldDescriptor *f = fuzz_body_field(i);
        if (i > 0 && f == fuzz_body_field(0)) break; /* wrapped round: every body done */
        ProtobufCMessage *body = NULL;
        for (size_t b = 0; b < n_bodies; b++)
            if (bodies[b]->descriptor == f->descriptor) body = bodies[b];
        if (!body) {
            fprintf(stderr, "make_corpus: no sample %s body (add one)\n", f->name);
            exit(1);
        }
        Spar__Envelope env = SPAR__ENVELOPE__INIT;
        env.protocol_version = WIRE_PROTOCOL_VERSION, env.run_id = "run-1", env.sender_id = "actor-0", env.seq = 9;
        msg_envelope(&env, (Spar__Envelope__BodyCase)f->id, body);
        size_t len = spar__envelope__get_packed_size(&env);
        uint8_t *buf = xmalloc(len);
        spar__envelope__pack(&env, buf);
        char why[256], *name = xasprintf("%s.bin", f->name);
        Spar__Envelope *check = wire_decode(buf, len, 1L << 20, why, sizeof why);
        if (!check) {
            fprintf(stderr, "make_corpus: sample %s refused: %s\n", f->name, why);
            exit(1);
        }
        wire_free(check);
        s_write("wire", name, buf, len);
        free(buf);
        len = protobuf_c_message_get_packed_size(body);
        buf = xmalloc(len + 1);
        buf[0] = (uint8_t)i;
        protobuf_c_message_pack(body, buf + 1);
        s_write("wire_body", name, buf, len + 1);
        free(buf);
        free(name);
    }
    /* records: three groups (the second without preferences) as the learner appends them */
    char *rec = NULL;
    size_t rec_len = 0;
    FILE *f = open_memstream(&rec, &rec_len);
    records_append(f, &group);
    group.n_preference = 0, group.learner_version = 3;
    records_append(f, &group);
    group.n_responses = 1, group.n_rewards = 1;
    records_append(f, &group);
    fclose(f);
    s_write("records", "groups.pb", rec, rec_len);
    free(rec);
}

/* ---- checkpoints ------------------------------------------------------------------------ */

/* A blob, and the same with its digest key renamed (the fuzzer can then change data bytes and
 * still get past the digest check into the loaders). */
static void s_blob(const char *name, const uint8_t *blob, size_t len) {
    s_write("safetensors", name, blob, len);
    s_write("policy_load", name, blob, len);
    uint8_t *copy = xmalloc(len);
    memcpy(copy, blob, len);
    uint8_t *key = memmem(copy, len, ST_DIGEST_KEY, strlen(ST_DIGEST_KEY));
    if (key) {
        key[0] = 'x';
        char *nd = xasprintf("nodigest-%s", name);
        s_write("safetensors", nd, copy, len);
        s_write("policy_load", nd, copy, len);
        free(nd);
    }
    free(copy);
}

static void s_checkpoints(void) {
    size_t len;
    policy_t *tab = policy_tabular_new(3, 3);
    policy_init(tab, "random", 0.5, 1);
    void *blob = policy_serialize(tab, 4, &len);
    s_blob("tabular.safetensors", blob, len);
    free(blob);
    policy_destroy(&tab);

    gpt_config_t c = {.n_layer = 1, .n_head = 2, .d_model = 8, .ctx = 8, .vocab = GPT_VOCAB};
    gpt_t *m = gpt_new(&c, 1);
    blob = gpt_serialize(m, 2, &len);
    s_blob("gpt.safetensors", blob, len);
    free(blob);
    gpt_destroy(&m);

    /* not a policy: mixed dtypes and shapes, no metadata */
    int64_t i64[2] = {1, -1};
    uint8_t u8[3] = {1, 2, 3};
    st_tensor_t ts[3] = {{.name = "a", .dtype = "I64", .ndim = 1, .shape = {2}, .data = i64, .nbytes = 16},
                         {.name = "b", .dtype = "U8", .ndim = 2, .shape = {1, 3}, .data = u8, .nbytes = 3},
                         {.name = "empty", .dtype = "F16", .ndim = 2, .shape = {0, 4}, .data = u8, .nbytes = 0}};
    blob = st_serialize(ts, 3, NULL, NULL, 0, &len);
    s_write("safetensors", "mixed.safetensors", blob, len);
    free(blob);
}

/* ---- configs and JSONL ------------------------------------------------------------------ */

static void s_text(int argc, char **argv) {
    s_write("config", "quickstart.yaml", spar_quickstart_yaml, strlen(spar_quickstart_yaml));
    spar_config_t cfg;
    config_defaults(&cfg);
    char *yaml = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&yaml, &len);
    config_write_yaml(&cfg, f);
    fclose(f);
    s_write("config", "defaults.yaml", yaml, len);
    free(yaml);
    for (int i = 0; i < argc; i++) {
        char *text = util_read_file(argv[i], &len);
        const char *base = strrchr(argv[i], '/');
        if (!text) {
            fprintf(stderr, "make_corpus: cannot read %s\n", argv[i]);
            exit(1);
        }
        size_t n = strlen(argv[i]);
        int game = n > 5 && !strcmp(argv[i] + n - 5, ".game");
        s_write(game ? "game" : "config", base ? base + 1 : argv[i], text, len);
        free(text);
    }
    const char *sft = "{\"prompt\": \"12+7=\", \"response\": \"19\"}\n"
                      "{\"prompt\": \"caf\\u00e9 \\\"q\\\"\", \"response\": \"ok\\n\"}\n";
    const char *prefs = "{\"prompt\": \"3+4=\", \"chosen\": \"7\", \"rejected\": \"8\"}\n"
                        "{\"prompt\": \"2+2=\", \"chosen\": \"4\", \"rejected\": \"4 \", \"tie\": true}\n";
    s_write("pairs", "sft.jsonl", sft, strlen(sft));
    s_write("pairs", "prefs.jsonl", prefs, strlen(prefs));
    const char *games = "# two 2x2 games\n0.5 0.9\n0.1 0.5\n\n0.5, 0.25\n0.75, 0.5\n";
    s_write("game", "two.game", games, strlen(games));
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR [CONFIG.yaml...]\n", argv[0]);
        return 2;
    }
    s_dir = argv[1];
    s_wire();
    s_checkpoints();
    s_text(argc - 2, argv + 2);
    return 0;
}
