/* chat_cmd — `spar chat --model DIR [--template FILE.jinja] [--no-generation-prompt] [--ids]
 * [--vars JSON] [--jsonl] [CONV.json]`: a conversation rendered with a model folder's chat template,
 * as apply_chat_template(conversation, tokenize=False, add_generation_prompt=True) gives it, for
 * users who check what their model will be shown.
 *   the conversation: CONV.json, or stdin: [{"role": "user", "content": "Hi"}, ...]
 *   (default) prints the rendered text exactly, with no newline added
 *   --ids: prints the token ids of the text instead (the folder's tokenizer, no special tokens added)
 *   --template FILE: this Jinja file instead of tokenizer_config.json's chat_template (BOS and EOS
 *     still come from the folder's tokenizer_config.json when there is one)
 *   --vars JSON: more template variables, a JSON object (e.g. '{"date_string": "26 Jul 2024"}')
 *   --jsonl: stdin holds one case per line, a conversation array or {"messages": [...],
 *     "add_generation_prompt": bool, "vars": {...}}; prints one line each, {"text": ..., "ids": [...]}
 *     or {"error": ...}
 * Exit 0; 1 when the template refuses the conversation (its message on stderr); 2 on bad usage, a
 * conversation that is not one, or a template or tokenizer that does not load. */
#ifndef SPAR_CHAT_CMD_H
#define SPAR_CHAT_CMD_H

int chat_main(int argc, char **argv);

#endif
