//
// test/header/selfcontained.cpp: the b2 build's header self-containment
// check (test/Jamfile compiles this once per public header, with
// COFLOW_HEADER defined as "coflow/<header>.hpp"): the header is the first
// include of its translation unit, and a second include checks its include
// guard. test/CMakeLists.txt generates the same translation units.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#include COFLOW_HEADER
#include COFLOW_HEADER
