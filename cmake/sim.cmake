# The attack simulator (`gatehouse sim`, issue 6): its own folder, sharing no code with the shield
# so that it measures the shield rather than agreeing with it. Included from CMakeLists.txt after
# the modules and the demo app are defined.
file(GLOB sim_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/sim/*.cc)
list(FILTER sim_sources EXCLUDE REGEX "/main\\.cc$")
add_library(gh_sim STATIC ${sim_sources})
# Its own root (sim/ only), like every module's: no shield library links it.
gh_link(${PROJECT_SOURCE_DIR}/sim ${CMAKE_BINARY_DIR}/include/gh_sim/sim)
target_include_directories(gh_sim PUBLIC ${CMAKE_BINARY_DIR}/include/gh_sim)
target_link_libraries(gh_sim PUBLIC yaml-cpp nlohmann_json::nlohmann_json OpenSSL::Crypto
                      CLI11::CLI11 Threads::Threads)

if(GATEHOUSE_TESTS AND NOT GATEHOUSE_FUZZ)
  file(GLOB sim_tests CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/unit/sim/*.cc)
  if(sim_tests)
    add_executable(unit_sim ${sim_tests})
    # gh_demo: the end-to-end test runs the demo app in-process and replays a scenario at it.
    target_link_libraries(unit_sim PRIVATE gh_sim gh_demo GTest::gtest GTest::gtest_main)
    target_include_directories(unit_sim PRIVATE ${PROJECT_SOURCE_DIR}/tests)
    target_compile_definitions(unit_sim PRIVATE GATEHOUSE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
    gtest_discover_tests(unit_sim DISCOVERY_TIMEOUT 60 PROPERTIES LABELS unit)
  endif()
endif()
