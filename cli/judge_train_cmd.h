/* judge_train_cmd — `spar judge-train --kind reward|preference DATA.jsonl --out DIR`: trains a
 * learned judge (common/judge_model.h) on JSONL lines {"prompt", "chosen", "rejected"[, "tie"]},
 * holding out judge_train.heldout of the lines; prints progress and ends with
 * `heldout_accuracy: X`, the share of held-out (non-tie) pairs whose chosen response it prefers.
 * A bad line is an error naming file and line (exit 2). */
#ifndef SPAR_JUDGE_TRAIN_CMD_H
#define SPAR_JUDGE_TRAIN_CMD_H

int judge_train_main(int argc, char **argv);

#endif
