# Installation: headers, pkg-config files. Libraries and programs install
# themselves in their own directories with install(TARGETS ...).

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")

foreach(page IN ITEMS mbserver.8 mbctl.1 trackfs.8 mbfrag.8 mbwatch.8 mbconf.8 gmalloc.3 anr_malloc.3 libmbclient.3)
  if(EXISTS ${PROJECT_SOURCE_DIR}/docs/man/${page})
    string(REGEX REPLACE ".*\\.([0-9])$" "\\1" section ${page})
    install(FILES ${PROJECT_SOURCE_DIR}/docs/man/${page}
            DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
  endif()
endforeach()

# systemd units and the example config.
install(FILES ${PROJECT_SOURCE_DIR}/systemd/mbserver.service ${PROJECT_SOURCE_DIR}/systemd/mbserver.socket
        DESTINATION lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/conf/mbserver.conf
        DESTINATION ${CMAKE_INSTALL_SYSCONFDIR}/membroker)
