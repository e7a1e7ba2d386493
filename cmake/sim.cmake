# The attack simulator (`gatehouse sim`, issue 6): its own folder, sharing no code with the shield
# so that it measures the shield rather than agreeing with it. Included from CMakeLists.txt after
# the modules and the demo app are defined.
file(GLOB sim_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/sim/*.cc)
list(FILTER sim_sources EXCLUDE REGEX "/main\\.cc$")
add_library(gh_sim STATIC ${sim_sources})
# Its own root (sim/ only), like every module's: no shield library links it.
gh_link(${PROJECT_SOURCE_DIR}/sim ${CMAKE_BINARY_DIR}/include/gh_sim/sim)
target_include_directories(gh_sim PUBLIC ${CMAKE_BINARY_DIR}/include/gh_sim)
# zlib and brotli: a browser profile accepts compressed answers, and the simulator reads some of
# their bodies (an API login's token).
find_package(ZLIB REQUIRED)
pkg_check_modules(BROTLIDEC REQUIRED IMPORTED_TARGET libbrotlidec)
target_link_libraries(gh_sim PUBLIC yaml-cpp nlohmann_json::nlohmann_json OpenSSL::Crypto
                      CLI11::CLI11 Threads::Threads ZLIB::ZLIB PkgConfig::BROTLIDEC)

if(GATEHOUSE_TESTS AND NOT GATEHOUSE_FUZZ)
  file(GLOB sim_tests CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/unit/sim/*.cc)
  if(sim_tests)
    add_executable(unit_sim ${sim_tests})
    # gh_demo: the end-to-end test runs the demo app in-process and replays a scenario at it.
    # libmaxminddb reads back what sim/mmdb.h writes; brotli's encoder makes the answers the
    # decoder is tested on.
    pkg_check_modules(BROTLIENC REQUIRED IMPORTED_TARGET libbrotlienc)
    target_link_libraries(unit_sim PRIVATE gh_sim gh_demo GTest::gtest GTest::gtest_main
                          PkgConfig::MAXMINDDB PkgConfig::BROTLIENC)
    target_include_directories(unit_sim PRIVATE ${PROJECT_SOURCE_DIR}/tests)
    target_compile_definitions(unit_sim PRIVATE GATEHOUSE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
    gtest_discover_tests(unit_sim DISCOVERY_TIMEOUT 60 PROPERTIES LABELS unit)
  endif()
endif()

# The shield's reputation tests write their ASN databases with the simulator's MaxMind DB writer
# (sim/mmdb.h): one writer in the project. A test program may link gh_sim; no shield library does.
if(TARGET unit_stages_reputation)
  target_link_libraries(unit_stages_reputation PRIVATE gh_sim)
endif()
