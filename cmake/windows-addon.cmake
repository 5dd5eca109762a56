# Node-API import libraries for a mingw-built addon, and the addon smoke test
# (issue 14: proves the loading path the phase-2 addon takes). Included by
# cmake/windows.cmake when DIARKIS_WIN_NODE_EXE (Windows node.exe) is set.
#   - Node-API: node-api-headers' def/node_api.def -> delay import library
#   - libuv: node.exe's own export table (gendef), uv_* only -> delay import library
# Both are delay-loaded (dlltool -y) and resolved by native/win/node_delay_load_hook.cc
# against the running executable, so the addon loads in Electron and in a renamed
# node.exe, not only in a process called node.exe.
execute_process(COMMAND node -p "require('node-api-headers').def_paths.node_api_def"
                WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}
                OUTPUT_VARIABLE DIARKIS_NODE_API_DEF OUTPUT_STRIP_TRAILING_WHITESPACE)
execute_process(COMMAND node -p "require('node-api-headers').include_dir"
                WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}
                OUTPUT_VARIABLE DIARKIS_NODE_API_INCLUDE OUTPUT_STRIP_TRAILING_WHITESPACE)
# uv.h and uv/win.h from the local Node's headers (the same libuv major as node.exe's).
execute_process(COMMAND node -p "require('path').join(process.execPath, '../../include/node')"
                OUTPUT_VARIABLE DIARKIS_NODE_INCLUDE OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT EXISTS "${DIARKIS_NODE_API_DEF}" OR NOT EXISTS "${DIARKIS_NODE_INCLUDE}/uv/win.h")
  message(FATAL_ERROR "node-api-headers (npm ci) and the local Node's include/node/uv/win.h are needed")
endif()
find_program(DIARKIS_DLLTOOL x86_64-w64-mingw32-dlltool REQUIRED)
find_program(DIARKIS_GENDEF gendef REQUIRED)

set(DIARKIS_IMPLIB_DIR ${CMAKE_CURRENT_BINARY_DIR}/implib)
add_custom_command(
  OUTPUT ${DIARKIS_IMPLIB_DIR}/libnode_api_delay.a
  COMMAND ${CMAKE_COMMAND} -E make_directory ${DIARKIS_IMPLIB_DIR}
  COMMAND ${DIARKIS_DLLTOOL} -d ${DIARKIS_NODE_API_DEF} -y ${DIARKIS_IMPLIB_DIR}/libnode_api_delay.a
          -D node.exe
  DEPENDS ${DIARKIS_NODE_API_DEF} VERBATIM)
add_custom_command(
  OUTPUT ${DIARKIS_IMPLIB_DIR}/libuv_delay.a
  COMMAND ${CMAKE_COMMAND} -E make_directory ${DIARKIS_IMPLIB_DIR}
  COMMAND sh -c "${DIARKIS_GENDEF} - \"$0\" 2>/dev/null | awk 'NR==1{print \"LIBRARY node.exe\\nEXPORTS\"} /^uv_/{print $1}' > \"$1\""
          ${DIARKIS_WIN_NODE_EXE} ${DIARKIS_IMPLIB_DIR}/uv.def
  COMMAND ${DIARKIS_DLLTOOL} -d ${DIARKIS_IMPLIB_DIR}/uv.def -y ${DIARKIS_IMPLIB_DIR}/libuv_delay.a
          -D node.exe
  DEPENDS ${DIARKIS_WIN_NODE_EXE} VERBATIM)
add_custom_target(diarkis_node_implibs DEPENDS ${DIARKIS_IMPLIB_DIR}/libnode_api_delay.a
                                               ${DIARKIS_IMPLIB_DIR}/libuv_delay.a)

# diarkis_addon_smoke.node: a separate test target, not the product.
add_library(diarkis_addon_smoke SHARED ${CMAKE_CURRENT_SOURCE_DIR}/test/windows/addon_smoke.cc
                                       ${CMAKE_CURRENT_SOURCE_DIR}/native/win/node_delay_load_hook.cc)
add_dependencies(diarkis_addon_smoke diarkis_node_implibs)
set_target_properties(diarkis_addon_smoke PROPERTIES PREFIX "" SUFFIX ".node")
target_include_directories(diarkis_addon_smoke SYSTEM PRIVATE ${DIARKIS_NODE_API_INCLUDE}
                                                             ${DIARKIS_NODE_INCLUDE})
target_compile_definitions(diarkis_addon_smoke PRIVATE NAPI_VERSION=8 BUILDING_NODE_EXTENSION)
target_compile_options(diarkis_addon_smoke PRIVATE ${DIARKIS_WARNINGS})
target_link_libraries(diarkis_addon_smoke PRIVATE ${DIARKIS_IMPLIB_DIR}/libnode_api_delay.a
                      ${DIARKIS_IMPLIB_DIR}/libuv_delay.a delayimp)

# The addon itself (win32-x64 prebuild): bindings/node over the core, the same
# delay-loaded imports and hook as the smoke addon; the host-loop driver watches the
# sockets with uv_poll_init_socket. scripts/windows/prebuild.sh copies it to
# prebuilds/win32-x64/node.napi.node.
execute_process(COMMAND node -p "require('path').resolve(require('node-addon-api').include_dir)"
                WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}
                OUTPUT_VARIABLE DIARKIS_NODE_ADDON_API_DIR OUTPUT_STRIP_TRAILING_WHITESPACE)
file(GLOB DIARKIS_BINDING_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/bindings/node/*.cc)
add_library(diarkis_node SHARED ${DIARKIS_BINDING_SOURCES}
                                ${CMAKE_CURRENT_SOURCE_DIR}/native/win/node_delay_load_hook.cc)
add_dependencies(diarkis_node diarkis_node_implibs)
set_target_properties(diarkis_node PROPERTIES PREFIX "" SUFFIX ".node")
target_include_directories(diarkis_node PRIVATE ${DIARKIS_NODE_ADDON_API_DIR} ${DIARKIS_SRC})
target_include_directories(diarkis_node SYSTEM PRIVATE ${DIARKIS_NODE_API_INCLUDE} ${DIARKIS_NODE_INCLUDE})
target_compile_definitions(diarkis_node PRIVATE NAPI_VERSION=8 BUILDING_NODE_EXTENSION
                           NODE_ADDON_API_DISABLE_DEPRECATED NODE_ADDON_API_CPP_EXCEPTIONS
                           NODE_ADDON_API_CPP_EXCEPTIONS_ALL)
target_compile_options(diarkis_node PRIVATE ${DIARKIS_WARNINGS} -Wno-unused-parameter)
target_link_libraries(diarkis_node PRIVATE diarkis_core ${DIARKIS_IMPLIB_DIR}/libnode_api_delay.a
                      ${DIARKIS_IMPLIB_DIR}/libuv_delay.a delayimp)
target_link_options(diarkis_node PRIVATE -Wl,--exclude-libs,ALL $<$<CONFIG:Release>:-s>)
