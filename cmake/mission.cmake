# The fleet mission's CI-sized run (tests/mission/fleet_smoke.sh, about 15 s): three nodes behind
# HAProxy on one redis-server, a small flood for 8 s, the ban, mode and replay probes. A missing
# haproxy, redis-server or python3 is a failing test that says what to install, never a silent skip.
if(GATEHOUSE_TESTS AND NOT GATEHOUSE_FUZZ)
  find_program(GH_HAPROXY haproxy PATHS /usr/sbin)
  find_program(GH_REDIS_SERVER redis-server)
  find_program(GH_PYTHON3 python3)
  if(NOT GH_HAPROXY OR NOT GH_REDIS_SERVER OR NOT GH_PYTHON3)
    add_test(NAME mission.fleet_smoke_needs_haproxy_and_redis
             COMMAND ${CMAKE_COMMAND} -E echo
                     "the fleet mission's smoke test needs haproxy, redis-server and python3: run scripts/install-deps test")
    set_tests_properties(mission.fleet_smoke_needs_haproxy_and_redis PROPERTIES WILL_FAIL TRUE
                         LABELS mission)
  else()
    add_test(NAME mission.fleet_smoke
             COMMAND bash ${PROJECT_SOURCE_DIR}/tests/mission/fleet_smoke.sh
                     $<TARGET_FILE_DIR:gatehouse> ${PROJECT_SOURCE_DIR})
    # Five processes and a flood on two cores: alone.
    set_tests_properties(mission.fleet_smoke PROPERTIES LABELS mission TIMEOUT 150 RUN_SERIAL TRUE)
  endif()
endif()
