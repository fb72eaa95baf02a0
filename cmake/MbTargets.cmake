# Shared compile settings and helpers for every target in the tree.

include(CheckCCompilerFlag)

set(MB_WARNING_FLAGS
  -Wall -Wextra -Wshadow -Wconversion -Wno-sign-conversion
  -Wformat=2 -Wundef -Wstrict-prototypes -Wmissing-prototypes
  -Wpointer-arith -Wcast-align -Wwrite-strings -Wvla
  -Wno-missing-field-initializers)
if(MB_WERROR)
  list(APPEND MB_WARNING_FLAGS -Werror)
endif()

set(MB_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)

# mb_target_defaults(target [NO_SANITIZE])
# Applies the project's warnings, include paths and, in a sanitizer build,
# ASan+UBSan. NO_SANITIZE is for code that replaces malloc itself.
function(mb_target_defaults target)
  cmake_parse_arguments(ARG "NO_SANITIZE" "" "" ${ARGN})
  target_compile_options(${target} PRIVATE ${MB_WARNING_FLAGS})
  target_include_directories(${target} PRIVATE
    ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src)
  target_compile_definitions(${target} PRIVATE _GNU_SOURCE MB_VERSION="${PROJECT_VERSION}")
  if(MB_FUZZ AND NOT ARG_NO_SANITIZE)
    # Everything in a fuzz build is instrumented for coverage and memory errors.
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=fuzzer-no-link,address,undefined)
  elseif(MB_SANITIZE AND NOT ARG_NO_SANITIZE)
    target_compile_options(${target} PRIVATE ${MB_SANITIZE_FLAGS})
    target_link_options(${target} PRIVATE ${MB_SANITIZE_FLAGS})
  endif()
endfunction()

# mb_add_unit_test(NAME name SOURCES ... [LIBS ...] [LABELS ...] [NO_SANITIZE]
#                  [TIMEOUT seconds])
# Builds one test program and registers it with CTest under the "unit" label.
# In a sanitizer build, tests marked NO_SANITIZE are built plain and labelled
# "nosan" so the sanitizer stage can leave them out.
function(mb_add_unit_test)
  cmake_parse_arguments(ARG "NO_SANITIZE" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT (BUILD_TESTING AND MB_BUILD_TESTS))
    return()
  endif()
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  if(ARG_NO_SANITIZE)
    mb_target_defaults(${ARG_NAME} NO_SANITIZE)
  else()
    mb_target_defaults(${ARG_NAME})
  endif()
  target_include_directories(${ARG_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_LIBS})
  add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME}
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set(labels unit ${ARG_LABELS})
  if(ARG_NO_SANITIZE)
    list(APPEND labels nosan)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  set_tests_properties(${ARG_NAME} PROPERTIES LABELS "${labels}" TIMEOUT ${ARG_TIMEOUT})
endfunction()

# mb_add_fuzz_target(NAME name SOURCES ... [LIBS ...])
# A libFuzzer target (clang -fsanitize=fuzzer). Seeds live in
# tests/fuzz/corpus/<name>/; scripts/fuzz runs it.
function(mb_add_fuzz_target)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;LIBS" ${ARGN})
  if(NOT MB_FUZZ)
    return()
  endif()
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_compile_options(${ARG_NAME} PRIVATE ${MB_WARNING_FLAGS}
    -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer)
  target_link_options(${ARG_NAME} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_include_directories(${ARG_NAME} PRIVATE
    ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  target_compile_definitions(${ARG_NAME} PRIVATE _GNU_SOURCE)
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_LIBS})
  set_property(GLOBAL APPEND PROPERTY MB_FUZZ_TARGETS ${ARG_NAME})
endfunction()

# mb_add_library(name SOURCES ... [LIBS ...] [NO_SANITIZE])
# An internal static library (object code reused by the shared/static
# public libraries and the programs).
function(mb_add_library name)
  cmake_parse_arguments(ARG "NO_SANITIZE" "" "SOURCES;LIBS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  if(ARG_NO_SANITIZE)
    mb_target_defaults(${name} NO_SANITIZE)
  else()
    mb_target_defaults(${name})
  endif()
  target_include_directories(${name} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src>)
  target_link_libraries(${name} PUBLIC ${ARG_LIBS})
endfunction()

# mb_install_pkgconfig(NAME pcname DESCRIPTION text LIBS "-lfoo" [REQUIRES_PRIVATE ...] [LIBS_PRIVATE ...])
# Writes and installs <pcname>.pc so users link with
# `pkg-config --cflags --libs <pcname>`.
function(mb_install_pkgconfig)
  cmake_parse_arguments(ARG "" "NAME;DESCRIPTION;LIBS;LIBS_PRIVATE" "" ${ARGN})
  set(PC_NAME ${ARG_NAME})
  set(PC_DESCRIPTION ${ARG_DESCRIPTION})
  set(PC_LIBS ${ARG_LIBS})
  set(PC_LIBS_PRIVATE ${ARG_LIBS_PRIVATE})
  configure_file(${PROJECT_SOURCE_DIR}/cmake/pkgconfig.pc.in
                 ${PROJECT_BINARY_DIR}/${ARG_NAME}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/${ARG_NAME}.pc
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endfunction()
