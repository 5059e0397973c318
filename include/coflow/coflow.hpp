//
// coflow/coflow.hpp
//
// Includes every public header of coflow.
//

#ifndef COFLOW_COFLOW_HPP
#define COFLOW_COFLOW_HPP

#include <coflow/coroutine.hpp>
#include <coflow/deferred.hpp>
#include <coflow/error.hpp>
#include <coflow/spawn.hpp>
#include <coflow/tail_call.hpp>
#include <coflow/this_coro.hpp>
#include <coflow/unhandled_error.hpp>
#include <coflow/use_coroutine.hpp>
#include <coflow/use_deferred.hpp>

#endif // COFLOW_COFLOW_HPP
