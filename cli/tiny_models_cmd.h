/* tiny_models_cmd — `spar tiny-models DIR [--shape S] [--seed N]`: writes the small random models of
 * common/tiny_models.h (DIR/policy, DIR/judge, DIR/reward, DIR/tokenizer), which the chat configs
 * (configs/chat-*.yaml) read from models/tiny. Exit 0, 1 when a folder cannot be written, 2 on bad
 * usage. */
#ifndef SPAR_TINY_MODELS_CMD_H
#define SPAR_TINY_MODELS_CMD_H

int tiny_models_main(int argc, char **argv);

#endif
