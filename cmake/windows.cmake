# Windows build (issue 14), included by CMakeLists.txt when WIN32; kept in its own
# file so the POSIX build and the addon section stay untouched.
# What it builds: the core (codec, crypto over CNG, rudp, sessions, the event
# queue, the socket runtime on WSAPoll and the socket shim) and the native unit
# tests, run under wine. DiarkisRoomBase (native/src/room) is built too: the C ABI's
# room functions wrap it; its JSON comes from Debian's header-only nlohmann-json, seen
# through a folder of its own so /usr/include never shadows mingw's headers.
#
# Everything is linked -static: with -static-libgcc -static-libstdc++ -lwinpthread
# alone the result still imports libwinpthread-1.dll, which a user's machine lacks.
add_compile_options(-static)
add_link_options(-static)

set(DIARKIS_SRC ${CMAKE_CURRENT_SOURCE_DIR}/native/src)
file(GLOB DIARKIS_WIN_CORE_SOURCES CONFIGURE_DEPENDS
     ${DIARKIS_SRC}/codec/*.cc ${DIARKIS_SRC}/crypto/*.cc ${DIARKIS_SRC}/rudp/*.cc
     ${DIARKIS_SRC}/session/*.cc ${DIARKIS_SRC}/events/*.cc ${DIARKIS_SRC}/io/*.cc
     ${DIARKIS_SRC}/room/*.cc)
list(REMOVE_ITEM DIARKIS_WIN_CORE_SOURCES ${DIARKIS_SRC}/io/epoll_poller.cc)
add_library(diarkis_core STATIC ${DIARKIS_WIN_CORE_SOURCES})
target_include_directories(diarkis_core PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/native/include
                                        PRIVATE ${DIARKIS_SRC})
target_compile_options(diarkis_core PRIVATE ${DIARKIS_WARNINGS})
if(NOT EXISTS /usr/include/nlohmann/json.hpp)
  message(FATAL_ERROR "nlohmann/json.hpp not found: apt-get install nlohmann-json3-dev")
endif()
file(COPY /usr/include/nlohmann DESTINATION ${CMAKE_BINARY_DIR}/nlohmann-only)
target_include_directories(diarkis_core SYSTEM PRIVATE ${CMAKE_BINARY_DIR}/nlohmann-only)
# _WIN32_WINNT 0x0A00: Windows 10, the oldest Windows Node 20 runs on.
target_compile_definitions(diarkis_core PUBLIC _WIN32_WINNT=0x0A00 WIN32_LEAN_AND_MEAN NOMINMAX)
target_link_libraries(diarkis_core PUBLIC bcrypt ws2_32)

if(DIARKIS_BUILD_TESTS)
  enable_testing()
  # GoogleTest from Debian's libgtest-dev sources, built with the cross compiler.
  set(GTEST_SRC /usr/src/googletest/googletest)
  if(NOT EXISTS ${GTEST_SRC}/src/gtest-all.cc)
    message(FATAL_ERROR "GoogleTest sources not found: apt-get install libgtest-dev")
  endif()
  add_library(diarkis_gtest STATIC ${GTEST_SRC}/src/gtest-all.cc ${GTEST_SRC}/src/gtest_main.cc)
  target_include_directories(diarkis_gtest SYSTEM PUBLIC ${GTEST_SRC}/include PRIVATE ${GTEST_SRC})

  file(GLOB DIARKIS_WIN_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/test/native/*.cc)
  add_executable(diarkis_native_tests ${DIARKIS_WIN_TESTS})
  target_include_directories(diarkis_native_tests PRIVATE ${DIARKIS_SRC}
                                                          ${CMAKE_CURRENT_SOURCE_DIR}/test/native)
  # GCC 12 at -O3 reports std::vector::insert inlined into two tests as out of bounds
  # (a known false positive, GCC PR 107852); the core itself builds warning-free.
  target_compile_options(diarkis_native_tests PRIVATE ${DIARKIS_WARNINGS} -Wno-array-bounds
                         -Wno-stringop-overread)
  target_compile_definitions(diarkis_native_tests PRIVATE
                             DIARKIS_VECTORS_DIR="${CMAKE_CURRENT_SOURCE_DIR}/test/vectors")
  target_link_libraries(diarkis_native_tests PRIVATE diarkis_core diarkis_gtest)
  # One ctest entry: gtest_discover_tests would start wine at build time.
  add_test(NAME diarkis_native_tests COMMAND diarkis_native_tests --gtest_brief=1)
endif()

# The Node-API addon smoke (needs Windows node.exe: scripts/windows/setup.sh).
if(DIARKIS_WIN_NODE_EXE)
  include(${CMAKE_CURRENT_LIST_DIR}/windows-addon.cmake)
endif()

# diarkis.dll: the C ABI (bindings/c) as a DLL, exporting only what diarkis.h marks
# DK_API (dllexport); --exclude-libs keeps the static runtimes' symbols out of the
# export table. Plus the C11 smoke test of test/engines, run under wine against
# the reference cluster by scripts/windows/engines-test.sh.
file(GLOB DIARKIS_C_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/bindings/c/src/*.cc)
add_library(diarkis SHARED ${DIARKIS_C_SOURCES})
set_target_properties(diarkis PROPERTIES PREFIX "")  # diarkis.dll, not libdiarkis.dll
target_include_directories(diarkis PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/bindings/c/include PRIVATE ${DIARKIS_SRC})
target_compile_definitions(diarkis PRIVATE DK_BUILDING_LIBRARY)
target_compile_options(diarkis PRIVATE ${DIARKIS_WARNINGS})
target_link_libraries(diarkis PRIVATE diarkis_core)
# diarkis.def beside the DLL: MSVC users make their import library from it (lib /def:).
target_link_options(diarkis PRIVATE -Wl,--exclude-libs,ALL -Wl,--no-undefined
                    -Wl,--output-def,${CMAKE_CURRENT_BINARY_DIR}/diarkis.def)

add_executable(engines_smoke_c ${CMAKE_CURRENT_SOURCE_DIR}/test/engines/smoke.c
                               ${CMAKE_CURRENT_SOURCE_DIR}/test/engines/rooms.c)
set_target_properties(engines_smoke_c PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
target_compile_options(engines_smoke_c PRIVATE -Wall -Wextra -Werror -pedantic)
target_link_libraries(engines_smoke_c PRIVATE diarkis)
