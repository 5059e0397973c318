# Run with `cmake -P` (registered as the ctest test `find_package_consumer`).
#
# 1. cmake --install <COFLOW_BINARY_DIR> --prefix <WORK_DIR>/prefix
# 2. configure test/find_package with CMAKE_PREFIX_PATH=<prefix> and the same
#    compiler / flags / generator as the coflow build
# 3. build it
# 4. run the consumer
# Any failing step makes the script (and so the test) fail.
#
# Copyright (c) 2026 The coflow authors
# Distributed under the Boost Software License, Version 1.0. (See accompanying
# file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
cmake_minimum_required(VERSION 3.25)

foreach(var COFLOW_BINARY_DIR CONSUMER_SOURCE_DIR WORK_DIR CXX_COMPILER)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "RunFindPackageTest.cmake: -D${var}=... is required")
  endif()
endforeach()

set(prefix "${WORK_DIR}/prefix")
set(consumer_build "${WORK_DIR}/build")
file(REMOVE_RECURSE "${prefix}" "${consumer_build}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(run_step what)
  message(STATUS "find_package_consumer: ${what}")
  string(REPLACE ";" " " _pretty "${ARGN}")
  message(STATUS "  ${_pretty}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "find_package_consumer: step '${what}' failed (${rc})")
  endif()
endfunction()

set(config_args)
if(NOT "${CONFIG}" STREQUAL "")
  set(config_args --config "${CONFIG}")
endif()

# 1. install
run_step("install coflow" "${CMAKE_COMMAND}" --install "${COFLOW_BINARY_DIR}"
         --prefix "${prefix}" ${config_args})
if(NOT EXISTS "${prefix}")
  message(FATAL_ERROR "find_package_consumer: nothing was installed into ${prefix}")
endif()

# 2. configure the consumer against the installed package only
# An outer CMAKE_PREFIX_PATH (passed ':'-separated) goes through the
# environment, where it needs no escaping; the install prefix is searched first.
if(NOT "${EXTRA_PREFIX_PATH}" STREQUAL "")
  set(_extra "${EXTRA_PREFIX_PATH}")
  if(DEFINED ENV{CMAKE_PREFIX_PATH} AND NOT "$ENV{CMAKE_PREFIX_PATH}" STREQUAL "")
    set(ENV{CMAKE_PREFIX_PATH} "${_extra}:$ENV{CMAKE_PREFIX_PATH}")
  else()
    set(ENV{CMAKE_PREFIX_PATH} "${_extra}")
  endif()
endif()
set(configure_cmd "${CMAKE_COMMAND}"
    -S "${CONSUMER_SOURCE_DIR}" -B "${consumer_build}"
    "-DCMAKE_PREFIX_PATH=${prefix}"
    "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
    "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
    "-DCMAKE_EXE_LINKER_FLAGS=${EXE_LINKER_FLAGS}"
    # find coflow from the prefix only, never from a build tree or the user registry
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
    -DCMAKE_EXPORT_NO_PACKAGE_REGISTRY=ON)
if(NOT "${GENERATOR}" STREQUAL "")
  list(APPEND configure_cmd -G "${GENERATOR}")
endif()
if(NOT "${MAKE_PROGRAM}" STREQUAL "")
  list(APPEND configure_cmd "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(NOT "${CONFIG}" STREQUAL "")
  list(APPEND configure_cmd "-DCMAKE_BUILD_TYPE=${CONFIG}")
endif()
if(NOT "${BOOST_DIR}" STREQUAL "")
  list(APPEND configure_cmd "-DBoost_DIR=${BOOST_DIR}")
endif()
run_step("configure consumer" ${configure_cmd})

# 3. build
run_step("build consumer" "${CMAKE_COMMAND}" --build "${consumer_build}" ${config_args})

# 4. run
set(exe "${consumer_build}/consumer")
if(NOT "${CONFIG}" STREQUAL "" AND EXISTS "${consumer_build}/${CONFIG}/consumer")
  set(exe "${consumer_build}/${CONFIG}/consumer")
endif()
run_step("run consumer" "${exe}")
message(STATUS "find_package_consumer: OK")
