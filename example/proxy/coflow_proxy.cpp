//
// example/proxy/coflow_proxy.cpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// An HTTP/1.1 reverse proxy on Boost.Beast, written with coflow. What the
// cascade gives it (example/proxy/README.md shows each):
//
// - Backpressure is a pause: a body streams from the upstream to the client
//   through a bounded pipe, and when the client reads slower than the
//   upstream sends, the pipe pauses the coroutine that reads the upstream.
// - Quiescence is a pause: POST /admin/pause pauses the root, so every
//   connection, request and upstream exchange holds still, results held,
//   until POST /admin/resume.
// - Shutdown is a cancel: SIGTERM cancels the root; idle connections close
//   at once, a request in flight finishes inside shield(timeout(...)).
// - Deadlines and hedging are timeout() and race().
// - GET /admin/tree shows what every coroutine waits on.
//
// Run `coflow_proxy --help` for the command line.
//

#include "proxy_common.hpp"

#include <coflow/coflow.hpp>
#include <coflow/await_tree.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <algorithm>
#include <csignal>
#include <deque>
#include <memory>
#include <optional>

using namespace proxy;

namespace {

/// use_coroutine, counting the operations that start while the proxy is
/// paused: its quiescence test requires none.
struct counted_t
{
  counters* n;
};

} // namespace

template <class... Signatures>
struct boost::asio::async_result<counted_t, Signatures...>
{
  template <class Initiation, class... Args>
  static auto initiate(Initiation&& initiation, counted_t token, Args&&... args)
  {
    token.n->initiated_while_paused += token.n->paused;
    return async_initiate<const coflow::use_coroutine_t&, Signatures...>(
        std::forward<Initiation>(initiation), coflow::use_coroutine, std::forward<Args>(args)...);
  }
};

namespace {

/// A connection to an upstream, kept open between requests.
struct upstream_link
{
  upstream_link(const asio::any_io_executor& ex, std::size_t i) : socket(ex), upstream(i) {}

  tcp::socket socket;
  boost::beast::flat_buffer buffer;
  std::size_t upstream;
};

/// An upstream's response whose header has arrived.
struct exchange
{
  std::shared_ptr<upstream_link> up;
  std::shared_ptr<http::response_parser<http::buffer_body>> parser;
};

struct proxy_state
{
  options opt;
  counters n;
  std::vector<std::vector<std::shared_ptr<upstream_link>>> idle; // per upstream
  std::size_t next = 0;
  bool stopping = false;

  counted_t use() { return {&n}; }
  std::size_t pick() { return next++ % opt.upstreams.size(); }
};

using request = http::request<http::string_body>;

/// Sends @p req to upstream @p i and reads the response's header, on a kept
/// connection if there is one (once more on a new one if that had closed).
coflow::coroutine<exchange> ask(proxy_state& px, std::size_t i, const request& req)
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
        up = std::make_shared<upstream_link>(co_await coflow::this_coro::executor, i);
        co_await up->socket.async_connect(px.opt.upstreams[i], px.use());
      }
      auto parser = std::make_shared<http::response_parser<http::buffer_body>>();
      parser->body_limit(boost::none);
      parser->skip(req.method() == http::verb::head);
      auto [ec, n] = co_await http::async_write(up->socket, req, asio::as_tuple(px.use()));
      if (!ec)
        std::tie(ec, n) = co_await http::async_read_header(up->socket, up->buffer, *parser,
            asio::as_tuple(px.use()));
      if (!ec)
        co_return exchange{std::move(up), std::move(parser)};
      if (!kept)
        throw boost::system::system_error(ec);
    }
  }
  catch (const coflow::cancelled_error&)
  {
    ++px.n.upstream_cancelled;
    throw;
  }
}

/// ask(), after the hedging delay.
coflow::coroutine<exchange> ask_later(proxy_state& px, std::size_t i, const request& req)
{
  co_await coflow::sleep(px.opt.hedge);
  ++px.n.hedged;
  co_return co_await ask(px, i, req);
}

/// The next upstream's response header; with hedging, the first of two
/// upstreams to answer (the other exchange is cancelled).
coflow::coroutine<exchange> fetch_header(proxy_state& px, const request& req)
{
  if (px.opt.hedge.count() == 0 || px.opt.upstreams.size() < 2)
    co_return co_await ask(px, px.pick(), req);
  std::vector<coflow::coroutine<exchange>> both;
  both.push_back(ask(px, px.pick(), req));
  both.push_back(ask_later(px, px.pick(), req));
  auto race = coflow::race(std::move(both));
  co_return (co_await std::move(race)).second;
}

/// A body on its way: pieces read from the upstream wait here for the
/// client. Backpressure is a pause: once `buffer` bytes wait, the pipe
/// pauses the coroutine that reads the upstream (its read in flight
/// completes and is held), and unpauses it when the client has taken half.
/// The reader has no line about it.
struct body_pipe
{
  explicit body_pipe(proxy_state& p) : px(p) {}

  proxy_state& px;
  coflow::coroutine<void> reader;
  std::deque<std::string> pieces;
  std::size_t held = 0;
  bool done = false;
  bool reader_paused = false;
  std::optional<coflow::deferred<void>> writer_waits;

  void push(std::string piece)
  {
    held += piece.size();
    px.n.peak_buffered = std::max(px.n.peak_buffered, held);
    pieces.push_back(std::move(piece));
    if (held >= px.opt.buffer && !reader_paused)
    {
      reader_paused = true;
      reader.pause();
    }
    wake_writer();
  }

  std::string pop()
  {
    std::string piece = std::move(pieces.front());
    pieces.pop_front();
    held -= piece.size();
    if (reader_paused && held <= px.opt.buffer / 2)
    {
      reader_paused = false;
      reader.unpause();
    }
    return piece;
  }

  void finish()
  {
    done = true;
    wake_writer();
  }

  void wake_writer()
  {
    if (writer_waits)
      std::exchange(writer_waits, std::nullopt)->callback();
  }
};

/// Reads the body of @p x into @p pipe, a piece at a time.
coflow::coroutine<void> read_body(proxy_state& px, exchange& x, body_pipe& pipe)
{
  auto& parser = *x.parser;
  while (!parser.is_done())
  {
    std::string piece(std::min<std::size_t>(64 * 1024, px.opt.buffer), '\0');
    parser.get().body().data = piece.data();
    parser.get().body().size = piece.size();
    auto [ec, n] = co_await http::async_read(x.up->socket, x.up->buffer, parser, asio::as_tuple(px.use()));
    if (ec && ec != http::error::need_buffer)
      throw boost::system::system_error(ec);
    piece.resize(piece.size() - parser.get().body().size);
    if (!piece.empty())
      pipe.push(std::move(piece));
  }
  pipe.finish();
}

/// Writes @p res, its body taken from @p pipe, to @p client.
coflow::coroutine<void> write_body(
    proxy_state& px, tcp::socket& client, http::response<http::buffer_body>& res, body_pipe& pipe)
{
  http::response_serializer<http::buffer_body> serializer(res);
  res.body() = {nullptr, 0, true};
  co_await http::async_write_header(client, serializer, px.use());
  while (!pipe.done || !pipe.pieces.empty())
  {
    if (pipe.pieces.empty())
    {
      co_await pipe.writer_waits.emplace(co_await coflow::this_coro::executor);
      continue;
    }
    const std::string piece = pipe.pop();
    res.body() = {const_cast<char*>(piece.data()), piece.size(), true};
    auto [ec, n] = co_await http::async_write(client, serializer, asio::as_tuple(px.use()));
    if (ec && ec != http::error::need_buffer)
      throw boost::system::system_error(ec);
  }
  res.body() = {nullptr, 0, false};
  if (!serializer.is_done())
    co_await http::async_write(client, serializer, px.use());
}

/// Forwards @p req and streams the answer to @p client. @returns whether
/// the client connection stays open.
coflow::coroutine<bool> respond(proxy_state& px, tcp::socket& client, request req)
{
  const bool keep_alive = req.keep_alive();
  const unsigned version = req.version();
  req.keep_alive(true); // upstream connections are reused
  std::optional<exchange> x;
  auto failure = http::status::bad_gateway;
  try
  {
    x.emplace(co_await coflow::timeout(px.opt.upstream_timeout, fetch_header(px, req)));
  }
  catch (const coflow::cancelled_error&)
  {
    throw;
  }
  catch (const coflow::timeout_error&)
  {
    failure = http::status::gateway_timeout;
  }
  catch (const boost::system::system_error&)
  {
    // No connection, or no header: 502.
  }
  if (!x)
  {
    ++(failure == http::status::gateway_timeout ? px.n.gateway_timeouts : px.n.bad_gateway);
    auto res = make_response(failure, version, keep_alive && !px.stopping);
    co_await http::async_write(client, res, px.use());
    co_return res.keep_alive();
  }

  http::response<http::buffer_body> res(x->parser->get().base());
  res.version(version);
  res.keep_alive(keep_alive && !px.stopping);
  body_pipe pipe(px);
  pipe.reader = read_body(px, *x, pipe);
  try
  {
    co_await coflow::join(pipe.reader, write_body(px, client, res, pipe));
  }
  catch (const coflow::cancelled_error&)
  {
    throw;
  }
  catch (const boost::system::system_error&)
  {
    ++px.n.aborted; // the upstream or the client broke off: close
    co_return false;
  }
  if (x->parser->keep_alive())
    px.idle[x->up->upstream].push_back(std::move(x->up));
  co_return res.keep_alive();
}

/// One client connection: its requests in turn. A request in flight is
/// shielded from the shutdown's cancel and bounded in time; an idle
/// connection closes at once.
coflow::coroutine<void> connection(proxy_state& px, tcp::socket client)
{
  ++px.n.connections;
  boost::beast::flat_buffer buffer;
  try
  {
    for (bool keep_alive = true; keep_alive;)
    {
      http::request_parser<http::string_body> parser;
      parser.body_limit(1 << 20);
      auto [ec, n] = co_await http::async_read(client, buffer, parser, asio::as_tuple(px.use()));
      if (ec == http::error::end_of_stream)
        break;
      if (ec && ec.category() == http::make_error_code(http::error::bad_target).category())
      {
        ++px.n.bad_requests;
        auto res = make_response(http::status::bad_request, 11, false);
        co_await http::async_write(client, res, px.use());
      }
      if (ec)
        break;
      ++px.n.requests;
      auto exchange = coflow::timeout(px.opt.request_timeout, respond(px, client, parser.release()));
      keep_alive = co_await coflow::shield(std::move(exchange));
    }
  }
  catch (const coflow::cancelled_error&)
  {
    // The shutdown: no request in flight.
  }
  catch (const boost::system::system_error&)
  {
    ++px.n.aborted; // the client went, or the request took too long
  }
  boost::system::error_code ignored;
  client.shutdown(tcp::socket::shutdown_both, ignored);
  client.close(ignored);
}

/// Accepts client connections into a group: pause and cancel reach them all.
coflow::coroutine<void> serve(proxy_state& px, tcp::acceptor& acceptor)
{
  co_await coflow::with_task_group([&](coflow::task_group& group) -> coflow::coroutine<void> {
    for (;;)
      group.spawn(connection(px, co_await acceptor.async_accept(px.use())));
  });
}

/// One admin request, answered and closed.
coflow::coroutine<void> admin_request(proxy_state& px, tcp::socket s, coflow::coroutine<void> root)
{
  try
  {
    boost::beast::flat_buffer buffer;
    request req;
    co_await http::async_read(s, buffer, req, coflow::use_coroutine);
    const bool get = req.method() == http::verb::get, post = req.method() == http::verb::post;
    auto status = http::status::ok;
    std::string body;
    if (get && req.target() == "/admin/tree")
      body = coflow::to_string(coflow::await_forest(co_await coflow::this_coro::executor));
    else if (get && req.target() == "/admin/stats")
      body = px.n.line() + "\n";
    else if (post && req.target() == "/admin/pause")
    {
      if (!std::exchange(px.n.paused, true))
        root.pause();
      body = "paused\n";
    }
    else if (post && req.target() == "/admin/resume")
    {
      if (std::exchange(px.n.paused, false))
        root.unpause();
      body = "resumed\n";
    }
    else
      status = http::status::not_found;
    auto res = make_response(status, req.version(), false, std::move(body));
    co_await http::async_write(s, res, coflow::use_coroutine);
  }
  catch (const boost::system::system_error&)
  {
    // The admin client went away.
  }
}

/// The admin endpoints, on their own port, outside the root they pause.
coflow::coroutine<void> serve_admin(proxy_state& px, tcp::acceptor& acceptor, coflow::coroutine<void> root)
{
  co_await coflow::with_task_group([&](coflow::task_group& group) -> coflow::coroutine<void> {
    for (;;)
      group.spawn(admin_request(px, co_await acceptor.async_accept(coflow::use_coroutine), root));
  });
}

} // namespace

int main(int argc, char** argv)
{
  auto opt = parse_options(argc, argv, "coflow_proxy", true);
  if (!opt)
    return 0;
  asio::io_context io;
  proxy_state px{*opt, {}, std::vector<std::vector<std::shared_ptr<upstream_link>>>(opt->upstreams.size())};
  tcp::acceptor listener(io, opt->listen), admin(io, opt->admin);
  std::cout << "coflow_proxy: listening on " << listener.local_endpoint() << ", admin on "
            << admin.local_endpoint() << std::endl;

  auto root = coflow::spawn(io, serve(px, listener));
  auto admin_root = coflow::spawn(io, serve_admin(px, admin, root));
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (ec)
      return;
    px.stopping = true; // responses from now on say "Connection: close"
    root.cancel();
  });
  bool failed = false;
  root.async_wait([&](std::exception_ptr e) {
    try
    {
      if (e)
        std::rethrow_exception(e);
    }
    catch (const coflow::cancelled_error&)
    {
    }
    catch (const std::exception& x)
    {
      failed = true;
      std::cerr << "coflow_proxy: failed: " << x.what() << std::endl;
    }
    signals.cancel();
    admin_root.cancel();
  });
  io.run();
  std::cout << "coflow_proxy: exiting: " << px.n.line() << std::endl;
  return failed ? 1 : 0;
}
