# spar's Hugging Face models against the independent PyTorch reference in tests/ref/ (hf_ref.py):
# logits, sequence log-probs, sampling, convert and refusals on tiny random folders.
# Exit 77 (skipped) only when Debian's python3-torch is not importable.
add_test(NAME hf_golden COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/test_hf_golden.py $<TARGET_FILE:spar>)
set_tests_properties(hf_golden PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)
# LoRA adapters against PEFT's published folder layout and merge equations (tests/ref/peft_ref.py).
add_test(NAME peft_ref COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/ref/peft_ref.py $<TARGET_FILE:spar>)
set_tests_properties(peft_ref PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
# spar's Hugging Face sequence classifiers (judge.kind reward) against the reference's score head:
# tests/ref/seqcls_golden.py writes the folders, test_seqcls --golden scores them.
add_test(NAME seqcls_golden COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/ref/seqcls_golden.py $<TARGET_FILE:test_seqcls>)
set_tests_properties(seqcls_golden PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
