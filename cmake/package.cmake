# The Debian package (`make package`, or `cpack -G DEB` in the build tree): the binary, the
# hardened systemd unit, the default configuration (a conffile), the docs and examples. The
# maintainer scripts (packaging/deb/) create the `gatehouse` user and the admin token, and enable
# and start the unit as dh_installsystemd would. Depends are computed by dpkg-shlibdeps.
include(GNUInstallDirs)

install(TARGETS gatehouse RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Absolute: these places are the same whatever the prefix. Bookworm's packages still ship units
# in /lib (the /usr merge moratorium).
install(FILES ${PROJECT_SOURCE_DIR}/packaging/gatehouse.service DESTINATION /lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/gatehouse.yaml DESTINATION /etc/gatehouse)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
file(GLOB gh_docs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${gh_docs} DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples
        FILES_MATCHING PATTERN "*.yaml" PATTERN "*.yml" PATTERN "*.conf"
        PATTERN "var" EXCLUDE)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME gatehouse)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "Gatehouse maintainers <maintainers@gatehouse.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "L7 shield for sign-up and login surfaces")
# The extended description (CPack puts the summary above it and indents it).
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "Gatehouse is a reverse proxy and decision service that keeps registration floods,\ncredential stuffing and bot waves away from an application's sign-up and login pages:\nrate limits, challenges, a waiting room and adaptive admission, with an admin API.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# adduser: the service's user; init-system-helpers: deb-systemd-helper / deb-systemd-invoke.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, init-system-helpers (>= 1.52)")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${PROJECT_SOURCE_DIR}/packaging/deb/conffiles;${PROJECT_SOURCE_DIR}/packaging/deb/postinst;${PROJECT_SOURCE_DIR}/packaging/deb/prerm;${PROJECT_SOURCE_DIR}/packaging/deb/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_STRIP_FILES TRUE)
# cpack installs what is built; it does not build `all` first (the test below runs it in a
# build tree other tests use).
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY TRUE)
include(CPack)

if(GATEHOUSE_TESTS AND NOT GATEHOUSE_FUZZ)
  add_test(NAME package.deb
           COMMAND bash ${PROJECT_SOURCE_DIR}/tests/package/package_test.sh ${CMAKE_BINARY_DIR}
                   ${PROJECT_SOURCE_DIR})
  set_tests_properties(package.deb PROPERTIES LABELS package TIMEOUT 180)
endif()
