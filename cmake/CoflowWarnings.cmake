# coflow_target_warnings(<target>)
#
# Adds coflow's warning flags to one of coflow's OWN targets (library, tests,
# examples, benchmarks). The flags are PRIVATE, so they never leak into the
# interface of the installed coflow::coflow target or into consumers.
# -Werror is controlled by the COFLOW_WERROR option (default ON).
#
# Copyright (c) 2026 The coflow authors
# Distributed under the Boost Software License, Version 1.0. (See accompanying
# file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
include_guard(GLOBAL)

function(coflow_target_warnings target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
    if(COFLOW_WERROR)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
      # GCC 12 (Debian 12's g++ 12.2) emits false positives at -O2/-O3 from
      # code it inlines out of libstdc++, e.g. `"text" + std::string(...)` gives
      # -Wrestrict on char_traits::copy (GCC PR105329/PR105651). -Wrestrict is
      # switched off; the other usual suspects stay visible as warnings but do
      # not fail the -Werror build.
      target_compile_options(${target} PRIVATE
        -Wno-restrict
        -Wno-error=array-bounds
        -Wno-error=stringop-overflow
        -Wno-error=stringop-overread
        -Wno-error=maybe-uninitialized)
    endif()
  elseif(MSVC)
    target_compile_options(${target} PRIVATE /W4 /permissive-)
    if(COFLOW_WERROR)
      target_compile_options(${target} PRIVATE /WX)
    endif()
  endif()
endfunction()
