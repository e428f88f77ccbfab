# The hostile-peer suite (tests/hostile/README.md): one ctest entry per case.
# Exit 77: protoc or python3-zmq missing (skipped).
set(HOSTILE_CASES
  framing:learner_frames framing:judge_frames framing:actor_frames framing:oversized
  framing:giant_frames framing:actor_giant_replies
  counts:status_iterations counts:judge_k counts:fetch_bounds counts:group_bounds counts:actor_counts
  lies:listen_only lies:other_lease lies:versions lies:routing_id_spoof
  judges:made_up_endpoint judges:dead_judges judges:two_frames judges:invalid_verdicts
  judges:valid_made_up_verdicts judges:reused_id
  spoof:shutdown_as_actor spoof:shutdown_as_judge spoof:shutdown_own spoof:status_names_right_peer
  floods:phantom_work_requests floods:phantom_hellos floods:fetch_unread floods:status_unread
  floods:descriptors floods:hello_flood
  text:ids)
foreach(entry ${HOSTILE_CASES})
  string(REPLACE ":" ";" parts ${entry})
  list(GET parts 0 file)
  list(GET parts 1 case)
  add_test(NAME hostile_${file}_${case}
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/hostile/${file}.py $<TARGET_FILE:spar> --case ${case})
  set_tests_properties(hostile_${file}_${case} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 180)
endforeach()
