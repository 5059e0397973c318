//
// example/proxy/asio_proxy.cpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// The baseline of coflow_proxy.cpp: the same HTTP/1.1 reverse proxy written
// with plain asio::awaitable, as an Asio user would write it. Keep-alive,
// upstream connection reuse, a body streamed through a bounded channel
// (a reader of the upstream alongside a writer to the client), an upstream
// timeout (504) and hedging with the awaitable operators, a graceful
// shutdown at SIGTERM, and GET /admin/stats on an admin port. What it has no
// counterpart for: pause (so no quiescence, no backpressure by pause, no
// POST /admin/pause) and the await tree (no GET /admin/tree).
//
// Run `asio_proxy --help` for the command line.
//

#include "proxy_common.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <csignal>
#include <set>
#include <variant>

using namespace proxy;
using namespace boost::asio::experimental::awaitable_operators;
using asio::awaitable;
using asio::use_awaitable;

namespace {

constexpr auto use_tuple = asio::as_tuple(use_awaitable);

struct proxy_state
{
  options opt;
  counters n;
  std::vector<std::vector<std::shared_ptr<upstream_link>>> idle; // per upstream
  std::size_t next = 0;
  bool stopping = false;
  std::set<tcp::socket*> waiting_clients; // between requests: closed at shutdown

  std::size_t pick() { return next++ % opt.upstreams.size(); }
};

using request = http::request<http::string_body>;
using pipe = asio::experimental::channel<void(boost::system::error_code, std::string)>;

awaitable<void> sleep(milliseconds d)
{
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(use_awaitable);
}

/// Sends @p req to upstream @p i and reads the response's header, on a kept
/// connection if there is one (once more on a new one if that had closed).
awaitable<exchange> ask(proxy_state& px, std::size_t i, const request& req)
{
  try
  {
    for (;;)
    {
      const bool kept = !px.idle[i].empty();
      std::shared_ptr<upstream_link> up;
      if (kept)
      {
        up = std::move(px.idle[i].back());
        px.idle[i].pop_back();
      }
      else
      {
        up = std::make_shared<upstream_link>(co_await asio::this_coro::executor, i);
        co_await up->socket.async_connect(px.opt.upstreams[i], use_awaitable);
        up->socket.set_option(tcp::no_delay(true)); // a header and a body: two writes
      }
      auto parser = std::make_shared<http::response_parser<http::buffer_body>>();
      parser->body_limit(boost::none);
      parser->skip(req.method() == http::verb::head);
      auto [ec, n] = co_await http::async_write(up->socket, req, use_tuple);
      if (!ec)
        std::tie(ec, n) = co_await http::async_read_header(up->socket, up->buffer, *parser, use_tuple);
      if (ec == asio::error::operation_aborted)
        throw boost::system::system_error(ec);
      if (!ec)
        co_return exchange{std::move(up), std::move(parser)};
      if (!kept)
        throw boost::system::system_error(ec);
    }
  }
  catch (const boost::system::system_error& e)
  {
    if (e.code() == asio::error::operation_aborted)
      ++px.n.upstream_cancelled;
    throw;
  }
}

/// ask(), after the hedging delay.
awaitable<exchange> ask_later(proxy_state& px, std::size_t i, const request& req)
{
  co_await sleep(px.opt.hedge);
  ++px.n.hedged;
  co_return co_await ask(px, i, req);
}

/// The next upstream's response header; with hedging, the first of two
/// upstreams to answer (the other exchange is cancelled). A failure is
/// nothing, not an exception: `||` waits for the first *success*, so an
/// exception would wait for the deadline.
awaitable<std::optional<exchange>> fetch_header(proxy_state& px, const request& req)
{
  try
  {
    if (px.opt.hedge.count() == 0 || px.opt.upstreams.size() < 2)
      co_return co_await ask(px, px.pick(), req);
    const std::size_t first = px.pick(), second = px.pick();
    auto winner = co_await (ask(px, first, req) || ask_later(px, second, req));
    co_return std::visit([](exchange& x) { return std::move(x); }, winner);
  }
  catch (const boost::system::system_error& e)
  {
    if (e.code() == asio::error::operation_aborted)
      throw;
  }
  co_return std::nullopt; // no connection, or no header: 502
}

/// Reads the body of @p x into @p body, a piece at a time; an empty piece
/// ends it.
awaitable<void> read_body(proxy_state& px, exchange& x, pipe& body, std::size_t& held)
{
  auto& parser = *x.parser;
  while (!parser.is_done())
  {
    std::string piece(std::min({std::size_t(64 * 1024), px.opt.buffer, remaining(parser)}), '\0');
    parser.get().body().data = piece.data();
    parser.get().body().size = piece.size();
    auto [ec, n] = co_await http::async_read(x.up->socket, x.up->buffer, parser, use_tuple);
    if (ec && ec != http::error::need_buffer)
      throw boost::system::system_error(ec);
    piece.resize(piece.size() - parser.get().body().size);
    if (piece.empty())
      continue;
    held += piece.size();
    px.n.peak_buffered = std::max(px.n.peak_buffered, held);
    co_await body.async_send({}, std::move(piece), use_awaitable);
  }
  co_await body.async_send({}, std::string(), use_awaitable);
}

/// Writes @p res, its body taken from @p body, to @p client.
awaitable<void> write_body(tcp::socket& client, http::response<http::buffer_body>& res, pipe& body,
    std::size_t& held)
{
  http::response_serializer<http::buffer_body> serializer(res);
  res.body() = {nullptr, 0, true};
  co_await http::async_write_header(client, serializer, use_awaitable);
  for (;;)
  {
    const std::string piece = co_await body.async_receive(use_awaitable);
    if (piece.empty())
      break;
    held -= piece.size();
    res.body() = {const_cast<char*>(piece.data()), piece.size(), true};
    auto [ec, n] = co_await http::async_write(client, serializer, use_tuple);
    if (ec && ec != http::error::need_buffer)
      throw boost::system::system_error(ec);
  }
  res.body() = {nullptr, 0, false};
  if (!serializer.is_done())
    co_await http::async_write(client, serializer, use_awaitable);
}

/// Forwards @p req and streams the answer to @p client. @returns whether
/// the client connection stays open.
awaitable<bool> respond(proxy_state& px, tcp::socket& client, request req)
{
  const bool keep_alive = req.keep_alive();
  const unsigned version = req.version();
  req.keep_alive(true); // upstream connections are reused
  auto first = co_await (fetch_header(px, req) || sleep(px.opt.upstream_timeout));
  std::optional<exchange> x = first.index() == 0 ? std::move(std::get<0>(first)) : std::nullopt;
  const auto failure = first.index() == 0 ? http::status::bad_gateway : http::status::gateway_timeout;
  if (!x)
  {
    ++(failure == http::status::gateway_timeout ? px.n.gateway_timeouts : px.n.bad_gateway);
    auto res = make_response(failure, version, keep_alive && !px.stopping);
    co_await http::async_write(client, res, use_awaitable);
    co_return res.keep_alive();
  }

  http::response<http::buffer_body> res(x->parser->get().base());
  res.version(version);
  res.keep_alive(keep_alive && !px.stopping);
  pipe body(co_await asio::this_coro::executor, std::max<std::size_t>(1, px.opt.buffer / (64 * 1024)));
  std::size_t held = 0;
  try
  {
    co_await (read_body(px, *x, body, held) && write_body(client, res, body, held));
  }
  catch (const std::exception& e) // `&&` throws multiple_exceptions when both halves fail
  {
    if (auto s = dynamic_cast<const boost::system::system_error*>(&e);
        s && s->code() == asio::error::operation_aborted)
      throw;
    ++px.n.aborted; // the upstream or the client broke off: close
    co_return false;
  }
  if (x->parser->keep_alive())
    px.idle[x->up->upstream].push_back(std::move(x->up));
  co_return res.keep_alive();
}

/// The admin's answer to @p req: GET /admin/stats, else 404.
awaitable<bool> administer(proxy_state& px, tcp::socket& client, request req)
{
  const bool stats = req.method() == http::verb::get && req.target() == "/admin/stats";
  auto res = make_response(stats ? http::status::ok : http::status::not_found, req.version(),
      req.keep_alive(), stats ? px.n.line() + "\n" : "");
  co_await http::async_write(client, res, use_awaitable);
  co_return res.keep_alive();
}

/// One client connection: its requests in turn, each answered by @p answer
/// (which says whether the connection stays open) and bounded in time. At
/// shutdown a connection waiting for a request is closed; one with a
/// request in flight finishes it, then closes. @p counted: a proxied
/// connection.
template <class Answer>
awaitable<void> connection(proxy_state& px, tcp::socket client, bool counted, Answer answer)
{
  px.n.connections += counted;
  client.set_option(tcp::no_delay(true));
  boost::beast::flat_buffer buffer;
  try
  {
    for (bool keep_alive = true; keep_alive && !px.stopping;)
    {
      http::request_parser<http::string_body> parser;
      parser.body_limit(1 << 20);
      px.waiting_clients.insert(&client);
      auto [ec, n] = co_await http::async_read(client, buffer, parser, use_tuple);
      px.waiting_clients.erase(&client);
      if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted)
        break;
      if (ec && ec.category() == http::make_error_code(http::error::bad_target).category())
      {
        ++px.n.bad_requests;
        auto res = make_response(http::status::bad_request, 11, false);
        co_await http::async_write(client, res, use_awaitable);
      }
      if (ec)
        break;
      px.n.requests += counted;
      auto done = co_await (answer(client, parser.release()) || sleep(px.opt.request_timeout));
      if (done.index() == 1)
      {
        ++px.n.aborted; // the request took too long
        break;
      }
      keep_alive = std::get<0>(done);
    }
  }
  catch (const boost::system::system_error&)
  {
    ++px.n.aborted; // the client went
  }
  px.waiting_clients.erase(&client);
  boost::system::error_code ignored;
  client.shutdown(tcp::socket::shutdown_both, ignored);
  client.close(ignored);
}

/// Accepts client connections until the acceptor is closed.
template <class Answer>
awaitable<void> serve(proxy_state& px, tcp::acceptor& acceptor, bool counted, Answer answer)
{
  for (;;)
  {
    auto [ec, client] = co_await acceptor.async_accept(use_tuple);
    if (ec == asio::error::operation_aborted)
      co_return;
    if (!ec)
      asio::co_spawn(acceptor.get_executor(), connection(px, std::move(client), counted, answer), asio::detached);
  }
}

} // namespace

int main(int argc, char** argv)
{
  auto opt = parse_options(argc, argv, "asio_proxy", true);
  if (!opt)
    return 0;
  asio::io_context io;
  proxy_state px{*opt, {}, std::vector<std::vector<std::shared_ptr<upstream_link>>>(opt->upstreams.size()), 0, false, {}};
  tcp::acceptor listener(io, opt->listen), admin(io, opt->admin);
  std::cout << "asio_proxy: listening on " << listener.local_endpoint() << ", admin on "
            << admin.local_endpoint() << std::endl;

  asio::signal_set signals(io, SIGINT, SIGTERM);
  bool failed = false;
  auto on_exit = [&](std::exception_ptr e) {
    try
    {
      if (e)
        std::rethrow_exception(e);
    }
    catch (const std::exception& x)
    {
      failed = true;
      std::cerr << "asio_proxy: failed: " << x.what() << std::endl;
    }
    signals.cancel();
    listener.close();
    admin.close();
  };
  asio::co_spawn(io, serve(px, listener, true, [&px](tcp::socket& client, request req) {
    return respond(px, client, std::move(req));
  }), on_exit);
  asio::co_spawn(io, serve(px, admin, false, [&px](tcp::socket& client, request req) {
    return administer(px, client, std::move(req));
  }), on_exit);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (ec)
      return;
    px.stopping = true; // responses from now on say "Connection: close"
    listener.close();
    admin.close();
    for (tcp::socket* s : px.waiting_clients)
      s->cancel();
  });
  io.run();
  std::cout << "asio_proxy: exiting: " << px.n.line() << std::endl;
  return failed ? 1 : 0;
}
