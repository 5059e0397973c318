// Built against an installed coflow via find_package(coflow CONFIG REQUIRED)
// by the ctest test `find_package_consumer`. Exits 0 on success.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
#include <coflow/coflow.hpp>

#include <boost/asio/error.hpp>

#include <iostream>

int main()
{
    coflow::cancelled_error e;
    std::cout << "coflow::cancelled_error: " << e.what() << '\n';
    if (e.code() != boost::asio::error::operation_aborted)
    {
        std::cerr << "unexpected error code: " << e.code().message() << '\n';
        return 1;
    }
    std::cout << "find_package(coflow) consumer OK\n";
    return 0;
}
