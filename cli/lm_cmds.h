/* lm_cmds — the commands that use a model folder directly, any family spar loads (common/lm.h):
 *   spar sample MODEL --prompt TEXT [-n N] [--max-new M] [--temperature T] [--top-k K] [--top-p P] [--seed S]
 *   spar score MODEL FILE.jsonl   the log-prob of each {"prompt", "response"} (or {"prompt_ids",
 *                                 "response_ids"}) line
 *   spar logits MODEL             the logits of every position of each {"ids": [...]} stdin line
 *   spar convert MODEL OUT [--dtype f32|bf16]   MODEL loaded and written again by spar's writer
 *   spar merge --base MODEL --adapter DIR --out OUT [--dtype f32|bf16]   LoRA adapters merged in
 * MODEL is a Hugging Face folder (its own tokenizer), a PEFT LoRA folder (onto its base) or
 * spar's byte-level checkpoint; sample, score, logits and convert (which then writes the
 * adapters) take --adapter DIR (a PEFT LoRA folder) to run MODEL with those adapters. */
#ifndef SPAR_LM_CMDS_H
#define SPAR_LM_CMDS_H

int lm_sample_main(int argc, char **argv);
int lm_score_main(int argc, char **argv);
int lm_logits_main(int argc, char **argv);
int lm_convert_main(int argc, char **argv);
int lm_merge_main(int argc, char **argv);

#endif
