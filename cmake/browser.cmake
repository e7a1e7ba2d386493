# Page tests in Debian's headless Chromium (playwright-core from npm): one CTest test per
# tests/browser/*.mjs (run.mjs, the runner, and *_bench.mjs excepted). A missing browser or Node
# is a failing test that says what to install, never a silent skip.
if(GATEHOUSE_TESTS AND NOT GATEHOUSE_FUZZ)
  find_program(GH_NODE node)
  find_program(GH_NPM npm)
  find_program(GH_CHROMIUM chromium PATHS /usr/bin)
  set(browser_dir ${PROJECT_SOURCE_DIR}/tests/browser)
  if(NOT GH_NODE OR NOT GH_NPM OR NOT GH_CHROMIUM)
    add_test(NAME browser_tests_need_chromium
             COMMAND ${CMAKE_COMMAND} -E echo
                     "page tests need node, npm and chromium: run scripts/install-deps test")
    set_tests_properties(browser_tests_need_chromium PROPERTIES WILL_FAIL TRUE LABELS browser)
  else()
    add_test(NAME browser_npm_ci
             COMMAND ${GH_NPM} ci --prefer-offline --ignore-scripts --no-audit --no-fund
             WORKING_DIRECTORY ${browser_dir})
    set_tests_properties(browser_npm_ci PROPERTIES FIXTURES_SETUP browser LABELS browser
                         TIMEOUT 300 RESOURCE_LOCK browser_node_modules)
    file(GLOB browser_tests CONFIGURE_DEPENDS ${browser_dir}/*.mjs)
    list(FILTER browser_tests EXCLUDE REGEX "/(run|[a-z_]*_bench)\\.mjs$")
    foreach(t ${browser_tests})
      get_filename_component(n ${t} NAME_WE)
      add_test(NAME browser_${n} COMMAND ${GH_NODE} ${browser_dir}/run.mjs ${t})
      set_tests_properties(browser_${n} PROPERTIES
        FIXTURES_REQUIRED browser LABELS browser TIMEOUT 240
        # One Chromium at a time: two cores, and each test starts the binary too.
        RESOURCE_LOCK chromium
        ENVIRONMENT "GATEHOUSE_BINARY=$<TARGET_FILE:gatehouse>;BUILD_DIR=${CMAKE_BINARY_DIR};SCREENSHOT_DIR=${CMAKE_BINARY_DIR}/screenshots;CHROMIUM=${GH_CHROMIUM}")
    endforeach()
  endif()
endif()
