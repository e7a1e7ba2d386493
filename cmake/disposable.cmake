# The disposable-mail domain list (npm package disposable-email-domains, pinned in
# web/package.json and web/package-lock.json, installed by the same `npm ci` as the dashboard's
# uPlot) is embedded into gh_stages_reputation: the binary needs no list file to spot a
# throwaway address. Included after cmake/dashboard.cmake, whose npm step it shares.
find_program(GH_NODE node REQUIRED)
set(gh_disposable_cc ${CMAKE_BINARY_DIR}/generated/stages/reputation/disposable_domains.cc)
add_custom_command(
  OUTPUT ${gh_disposable_cc}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/generated/stages/reputation
  COMMAND ${GH_NODE} ${CMAKE_CURRENT_LIST_DIR}/disposable-domains.mjs
          ${gh_web_dir}/node_modules/disposable-email-domains ${gh_disposable_cc}
  DEPENDS ${gh_npm_stamp} ${CMAKE_CURRENT_LIST_DIR}/disposable-domains.mjs
  COMMENT "Embedding the disposable-mail domain list into gh_stages_reputation"
  VERBATIM)
target_sources(gh_stages_reputation PRIVATE ${gh_disposable_cc})
