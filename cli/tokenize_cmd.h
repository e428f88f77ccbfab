/* tokenize_cmd — `spar tokenize MODEL_DIR [--json] [--no-special] [--decode] [--skip-special]`: a
 * model folder's own tokenizer on stdin, a line at a time, for users who check their data.
 *   encode (default): each line is a text (--json: a JSON string, so a text may hold newlines);
 *     prints its ids as a JSON array on one line, e.g. [128000,9906,1917]
 *   --no-special: without the post-processor's special tokens (add_special_tokens=False)
 *   --decode: each line is a JSON array of ids; prints the text (--json: as a JSON string)
 *   --skip-special: decoding leaves the special tokens out
 * Exit 0; 1 on a line it cannot read (said on stderr, with its number); 2 on bad usage or a folder
 * whose tokenizer does not load. */
#ifndef SPAR_TOKENIZE_CMD_H
#define SPAR_TOKENIZE_CMD_H

int tokenize_main(int argc, char **argv);

#endif
