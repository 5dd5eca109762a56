# Engines (issue 15): libdiarkis, the flat C ABI of bindings/c as a shared
# library exporting only the dk_ symbols (OpenSSL's libcrypto inside, hidden as in
# the addon), and the programs that prove it (test/engines): the C11 smoke test
# and the Cocos-style C++ example. Included by CMakeLists.txt outside cmake-js.
option(DIARKIS_ENGINES "Build libdiarkis (the C ABI) and its engine tests" ON)
if(NOT DIARKIS_ENGINES OR DIARKIS_FUZZ)
  return()
endif()

file(GLOB DIARKIS_C_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/../bindings/c/src/*.cc)
set(DIARKIS_C_MAP ${CMAKE_CURRENT_LIST_DIR}/../bindings/c/diarkis.map)
add_library(diarkis SHARED ${DIARKIS_C_SOURCES})
target_include_directories(diarkis PUBLIC ${CMAKE_CURRENT_LIST_DIR}/../bindings/c/include
                                   PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../native/src)
target_compile_definitions(diarkis PRIVATE DK_BUILDING_LIBRARY)
target_compile_options(diarkis PRIVATE ${DIARKIS_WARNINGS})
set_target_properties(diarkis PROPERTIES CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON
                      LINK_DEPENDS ${DIARKIS_C_MAP})
target_link_libraries(diarkis PRIVATE diarkis_core)
target_link_options(diarkis PRIVATE -Wl,--exclude-libs,ALL -Wl,--version-script=${DIARKIS_C_MAP})
if(NOT DIARKIS_SANITIZE)
  # Everything resolved at link time; under ASan the runtime comes with the executable.
  target_link_options(diarkis PRIVATE -Wl,--no-undefined)
endif()

# The C11 smoke test (and its room scenario): only diarkis.h, strict flags.
add_executable(engines_smoke_c ${CMAKE_CURRENT_LIST_DIR}/../test/engines/smoke.c
                               ${CMAKE_CURRENT_LIST_DIR}/../test/engines/rooms.c)
set_target_properties(engines_smoke_c PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
target_compile_options(engines_smoke_c PRIVATE -Wall -Wextra -Werror -pedantic)
target_link_libraries(engines_smoke_c PRIVATE diarkis)
if(DIARKIS_SANITIZE)
  # UBSan's C++ half (vptr checks in libdiarkis) comes with the C++ driver's runtime.
  set_target_properties(engines_smoke_c PROPERTIES LINKER_LANGUAGE CXX)
endif()

# The Cocos-style example: the C++ classes, callbacks polled on the game loop's thread.
add_executable(engines_cocos_example ${CMAKE_CURRENT_LIST_DIR}/../examples/cocos/cocos_example.cc)
target_compile_options(engines_cocos_example PRIVATE ${DIARKIS_WARNINGS})
target_link_libraries(engines_cocos_example PRIVATE diarkis_core)

# Every public C++ header compiles on its own with only native/include on the path
# (no reaching into native/src): one generated translation unit per header.
file(GLOB DIARKIS_PUBLIC_HEADERS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/../native/include/diarkis/*.h)
set(DIARKIS_HEADER_UNITS)
foreach(h ${DIARKIS_PUBLIC_HEADERS})
  get_filename_component(name ${h} NAME_WE)
  set(unit ${CMAKE_CURRENT_BINARY_DIR}/header_check/${name}.cc)
  file(WRITE ${unit}.in "#include \"diarkis/${name}.h\"\n")
  configure_file(${unit}.in ${unit} COPYONLY)
  list(APPEND DIARKIS_HEADER_UNITS ${unit})
endforeach()
add_library(engines_header_check OBJECT ${DIARKIS_HEADER_UNITS})
target_include_directories(engines_header_check PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../native/include)
target_compile_options(engines_header_check PRIVATE ${DIARKIS_WARNINGS})

# bench/engines: the C ABI's cost per event against the C++ classes (not built by default, not in CI).
add_executable(engines_poll_cost EXCLUDE_FROM_ALL ${CMAKE_CURRENT_LIST_DIR}/../bench/engines/poll_cost.cc)
target_compile_options(engines_poll_cost PRIVATE ${DIARKIS_WARNINGS})
target_link_libraries(engines_poll_cost PRIVATE diarkis diarkis_core)

# The C ABI's loopback tests (test/engines/*_test.cc) run in the native test binary.
if(TARGET diarkis_native_tests)
  file(GLOB DIARKIS_CAPI_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/../test/engines/*_test.cc)
  target_sources(diarkis_native_tests PRIVATE ${DIARKIS_CAPI_TESTS})
  target_link_libraries(diarkis_native_tests PRIVATE diarkis)
endif()
