//
// coflow/detail/use_coroutine_adapters.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// Asio's token adapters around use_coroutine: redirect_error, as_single,
// bind_cancellation_slot and bind_allocator. Asio's own async_result for
// them needs a fixed
// return_type (which use_coroutine cannot name: its operation's type depends
// on the initiation), and its bind_cancellation_slot would hide the
// coroutine's slot from the operation, cutting the cascade. These
// specialisations return a coroutine_operation like use_coroutine itself, so
// a body awaits them through the same await_transform.
// as_tuple needs nothing: Asio's own adapter already returns the inner
// token's operation.
//

#ifndef COFLOW_DETAIL_USE_COROUTINE_ADAPTERS_HPP
#define COFLOW_DETAIL_USE_COROUTINE_ADAPTERS_HPP

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associator.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/experimental/as_single.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/system/error_code.hpp>

#include <tuple>
#include <type_traits>
#include <utility>

namespace coflow {

class use_coroutine_t;

namespace detail {

/// Whether a token makes operations that a coroutine body awaits as
/// coroutine_operation: use_coroutine, or an adapter around such a token
/// (so adapters nest, e.g. redirect_error around bind_cancellation_slot).
template <class Token>
struct is_coroutine_token : std::false_type
{
};

template <>
struct is_coroutine_token<use_coroutine_t> : std::true_type
{
};

template <class Token>
struct is_coroutine_token<boost::asio::redirect_error_t<Token>>
  : is_coroutine_token<Token>
{
};

template <class Token>
struct is_coroutine_token<boost::asio::experimental::as_single_t<Token>>
  : is_coroutine_token<Token>
{
};

template <class Token>
struct is_coroutine_token<boost::asio::as_tuple_t<Token>>
  : is_coroutine_token<Token>
{
};

template <class Token, class Slot>
struct is_coroutine_token<boost::asio::cancellation_slot_binder<Token, Slot>>
  : is_coroutine_token<Token>
{
};

template <class Token, class Allocator>
struct is_coroutine_token<boost::asio::allocator_binder<Token, Allocator>>
  : is_coroutine_token<Token>
{
};

template <class Token>
concept coroutine_token = is_coroutine_token<Token>::value;

/// A completion handler that passes its arguments through @p Policy on the
/// way to the wrapped handler. Every associator (the coroutine's executor,
/// its cancellation slot) is the wrapped handler's, so the cascade reaches
/// the operation unchanged.
template <class Policy, class Handler>
class adapted_handler
{
public:
  adapted_handler(Policy policy, Handler handler)
    : policy_(std::move(policy)), handler_(std::move(handler))
  {
  }

  template <class... Args>
  void operator()(Args&&... args)
  {
    policy_.call(std::move(handler_), std::forward<Args>(args)...);
  }

  const Handler& handler() const noexcept { return handler_; }

private:
  Policy policy_;
  Handler handler_;
};

/// An initiation that wraps the handler in adapted_handler<Policy, ...>.
template <class Policy, class Initiation>
class adapted_initiation
{
public:
  adapted_initiation(Policy policy, Initiation initiation)
    : policy_(std::move(policy)), initiation_(std::move(initiation))
  {
  }

  template <class Handler, class... Args>
  void operator()(Handler&& handler, Args&&... args) &&
  {
    std::move(initiation_)(
        adapted_handler<Policy, std::decay_t<Handler>>(
            std::move(policy_), std::forward<Handler>(handler)),
        std::forward<Args>(args)...);
  }

private:
  Policy policy_;
  Initiation initiation_;
};

// --- redirect_error ----------------------------------------------------------

/// The signature without its leading error_code (as Asio's redirect_error).
template <class Signature>
struct redirected_signature
{
  using type = Signature;
};

template <class R, class... Args>
struct redirected_signature<R(boost::system::error_code, Args...)>
{
  using type = R(Args...);
};

template <class R, class... Args>
struct redirected_signature<R(const boost::system::error_code&, Args...)>
{
  using type = R(Args...);
};

/// Stores a leading error_code in the user's variable; the rest goes on.
class redirect_error_policy
{
public:
  explicit redirect_error_policy(boost::system::error_code& ec) noexcept : ec_(&ec) {}

  template <class Handler, class... Args>
  void call(Handler&& handler, Args&&... args)
  {
    deliver(std::forward<Handler>(handler), std::forward<Args>(args)...);
  }

private:
  template <class Handler, class First, class... Rest>
    requires std::is_same_v<std::decay_t<First>, boost::system::error_code>
  void deliver(Handler&& handler, First&& ec, Rest&&... rest)
  {
    *ec_ = ec;
    std::forward<Handler>(handler)(std::forward<Rest>(rest)...);
  }

  template <class Handler, class... Args>
  void deliver(Handler&& handler, Args&&... args)
  {
    std::forward<Handler>(handler)(std::forward<Args>(args)...);
  }

  boost::system::error_code* ec_;
};

// --- as_single ---------------------------------------------------------------

/// Two or more arguments become one tuple (as Asio's as_single).
template <class Signature>
struct single_signature
{
  using type = Signature;
};

template <class R, class A, class B, class... Rest>
struct single_signature<R(A, B, Rest...)>
{
  using type = R(std::tuple<std::decay_t<A>, std::decay_t<B>, std::decay_t<Rest>...>);
};

class as_single_policy
{
public:
  template <class Handler, class... Args>
  void call(Handler&& handler, Args&&... args)
  {
    if constexpr (sizeof...(Args) < 2)
      std::forward<Handler>(handler)(std::forward<Args>(args)...);
    else
      std::forward<Handler>(handler)(
          std::tuple<std::decay_t<Args>...>(std::forward<Args>(args)...));
  }
};

// --- bind_cancellation_slot --------------------------------------------------

/// Installed in the user's slot: owns the signal whose slot the operation
/// sees, and passes the user's emissions on to it, type unchanged.
struct joined_cancellation
{
  boost::asio::cancellation_signal signal;

  void operator()(boost::asio::cancellation_type_t type) { signal.emit(type); }
};

/// Installed in the coroutine's slot: passes the cascade's emission (a
/// cancel of the coroutine) on to the joined signal.
class joined_cancellation_forwarder
{
public:
  explicit joined_cancellation_forwarder(boost::asio::cancellation_signal* target) noexcept
    : target_(target)
  {
  }

  void operator()(boost::asio::cancellation_type_t type) { target_->emit(type); }

private:
  boost::asio::cancellation_signal* target_;
};

/// Clears the user's slot when the operation completes: the joined signal
/// there holds the operation's own cancellation handler, which may refer to
/// an I/O object that goes before the user's signal does (coflow's own slot
/// is cleared likewise by the operation handler).
template <class Slot>
class clear_slot_policy
{
public:
  explicit clear_slot_policy(Slot slot) noexcept : slot_(std::move(slot)) {}

  template <class Handler, class... Args>
  void call(Handler&& handler, Args&&... args)
  {
    slot_.clear();
    std::forward<Handler>(handler)(std::forward<Args>(args)...);
  }

private:
  Slot slot_;
};

/// Initiates with a handler whose slot both the user's slot and the
/// coroutine's slot reach. Binding the user's slot in place of the
/// coroutine's (what Asio's adapter does) would cut the cascade: a cancel of
/// the coroutine would wait for the operation to complete by itself.
///
/// The joined signal lives in the user's slot, whose signal outlives the
/// operation (Asio's rule for a bound slot); the forwarder lives in the
/// coroutine's slot, which goes with the co_await. Nothing points from a
/// longer-lived object into a shorter-lived one, and both are cleared when
/// the operation completes.
template <class Slot, class Initiation>
class slot_joining_initiation
{
public:
  slot_joining_initiation(Slot slot, Initiation initiation)
    : slot_(std::move(slot)), initiation_(std::move(initiation))
  {
  }

  template <class Handler, class... Args>
  void operator()(Handler&& handler, Args&&... args) &&
  {
    auto own = boost::asio::get_associated_cancellation_slot(handler);
    if (!slot_.is_connected())
    {
      std::move(initiation_)(std::forward<Handler>(handler), std::forward<Args>(args)...);
    }
    else if (!own.is_connected())
    {
      // Nothing to join: the user's slot alone, as with Asio's adapter.
      std::move(initiation_)(
          boost::asio::bind_cancellation_slot(slot_, std::forward<Handler>(handler)),
          std::forward<Args>(args)...);
    }
    else
    {
      auto& joined = slot_.template emplace<joined_cancellation>();
      own.template emplace<joined_cancellation_forwarder>(&joined.signal);
      using clearing = adapted_handler<clear_slot_policy<Slot>, std::decay_t<Handler>>;
      std::move(initiation_)(
          boost::asio::bind_cancellation_slot(joined.signal.slot(),
              clearing(clear_slot_policy<Slot>(slot_), std::forward<Handler>(handler))),
          std::forward<Args>(args)...);
    }
  }

private:
  Slot slot_;
  Initiation initiation_;
};

// --- bind_allocator ----------------------------------------------------------

/// Initiates with the handler bound to the user's allocator, which the
/// operation then allocates with. Asio's allocator_binder passes every
/// other associator on to the handler it wraps: the operation still sees
/// the coroutine's executor and cancellation slot.
template <class Allocator, class Initiation>
class allocator_binding_initiation
{
public:
  allocator_binding_initiation(Allocator allocator, Initiation initiation)
    : allocator_(std::move(allocator)), initiation_(std::move(initiation))
  {
  }

  template <class Handler, class... Args>
  void operator()(Handler&& handler, Args&&... args) &&
  {
    std::move(initiation_)(
        boost::asio::bind_allocator(allocator_, std::forward<Handler>(handler)),
        std::forward<Args>(args)...);
  }

private:
  Allocator allocator_;
  Initiation initiation_;
};

} // namespace detail
} // namespace coflow

namespace boost {
namespace asio {

// Each specialisation below is more specialised than Asio's own for the
// same adapter (an R(Args...) signature and a coroutine token), so it is
// the one chosen whenever the adapted token is use_coroutine.

template <class Token, class R, class... Args>
  requires coflow::detail::coroutine_token<Token>
class async_result<redirect_error_t<Token>, R(Args...)>
{
public:
  template <class Initiation, class RawToken, class... InitArgs>
  static auto initiate(Initiation&& initiation, RawToken&& token, InitArgs&&... args)
  {
    using adapted = coflow::detail::adapted_initiation<
        coflow::detail::redirect_error_policy, std::decay_t<Initiation>>;
    Token inner(token.token_);
    return async_initiate<Token,
        typename coflow::detail::redirected_signature<R(Args...)>::type>(
        adapted(coflow::detail::redirect_error_policy(token.ec_),
            std::forward<Initiation>(initiation)),
        inner, std::forward<InitArgs>(args)...);
  }
};

template <class Token, class R, class... Args>
  requires coflow::detail::coroutine_token<Token>
class async_result<experimental::as_single_t<Token>, R(Args...)>
{
public:
  template <class Initiation, class RawToken, class... InitArgs>
  static auto initiate(Initiation&& initiation, RawToken&& token, InitArgs&&... args)
  {
    using adapted = coflow::detail::adapted_initiation<
        coflow::detail::as_single_policy, std::decay_t<Initiation>>;
    Token inner(token.token_);
    return async_initiate<Token,
        typename coflow::detail::single_signature<R(Args...)>::type>(
        adapted({}, std::forward<Initiation>(initiation)), inner,
        std::forward<InitArgs>(args)...);
  }
};

template <class Token, class Slot, class R, class... Args>
  requires coflow::detail::coroutine_token<Token>
class async_result<cancellation_slot_binder<Token, Slot>, R(Args...)>
{
public:
  template <class Initiation, class RawToken, class... InitArgs>
  static auto initiate(Initiation&& initiation, RawToken&& token, InitArgs&&... args)
  {
    using joining = coflow::detail::slot_joining_initiation<Slot, std::decay_t<Initiation>>;
    Token inner(token.get());
    return async_initiate<Token, R(Args...)>(
        joining(token.get_cancellation_slot(), std::forward<Initiation>(initiation)),
        inner, std::forward<InitArgs>(args)...);
  }
};

template <class Token, class Allocator, class R, class... Args>
  requires coflow::detail::coroutine_token<Token>
class async_result<allocator_binder<Token, Allocator>, R(Args...)>
{
public:
  template <class Initiation, class RawToken, class... InitArgs>
  static auto initiate(Initiation&& initiation, RawToken&& token, InitArgs&&... args)
  {
    using binding =
        coflow::detail::allocator_binding_initiation<Allocator, std::decay_t<Initiation>>;
    Token inner(token.get());
    return async_initiate<Token, R(Args...)>(
        binding(token.get_allocator(), std::forward<Initiation>(initiation)), inner,
        std::forward<InitArgs>(args)...);
  }
};

template <template <class, class> class Associator, class Policy, class Handler,
    class DefaultCandidate>
struct associator<Associator, coflow::detail::adapted_handler<Policy, Handler>,
    DefaultCandidate>
  : Associator<Handler, DefaultCandidate>
{
  static typename Associator<Handler, DefaultCandidate>::type get(
      const coflow::detail::adapted_handler<Policy, Handler>& h) noexcept
  {
    return Associator<Handler, DefaultCandidate>::get(h.handler());
  }

  static auto get(const coflow::detail::adapted_handler<Policy, Handler>& h,
      const DefaultCandidate& c) noexcept
      -> decltype(Associator<Handler, DefaultCandidate>::get(h.handler(), c))
  {
    return Associator<Handler, DefaultCandidate>::get(h.handler(), c);
  }
};

} // namespace asio
} // namespace boost

#endif // COFLOW_DETAIL_USE_COROUTINE_ADAPTERS_HPP
