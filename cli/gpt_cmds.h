/* gpt_cmds — the commands that use a GPT checkpoint directly:
 *   spar sample CKPT --prompt TEXT [-n N] [--max-new M] [--temperature T] [--top-k K] [--top-p P] [--seed S]
 *   spar score CKPT FILE.jsonl      (the sequence log-prob of each {"prompt", "response"} line) */
#ifndef SPAR_GPT_CMDS_H
#define SPAR_GPT_CMDS_H

int gpt_sample_main(int argc, char **argv);
int gpt_score_main(int argc, char **argv);

#endif
