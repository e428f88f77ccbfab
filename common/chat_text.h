/* chat_text — a conversation as plain readable text, for a judge's comparison prompt and for a
 * reward model without a chat template: a single user message is its content; several
 * messages are "User: ...", "Assistant: ...", "System: ..." paragraphs (the role capitalised),
 * separated by blank lines. */
#ifndef SPAR_CHAT_TEXT_H
#define SPAR_CHAT_TEXT_H

#include "common/chat.h"

/* The text of c (malloc'd). */
char *chat_readable_text(const chat_t *c);

#endif
