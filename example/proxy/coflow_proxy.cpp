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

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_future.hpp>

#include <csignal>
#include <deque>

using namespace proxy;

namespace {

struct proxy_state
{
  options opt;
  counters n;
  std::vector<std::vector<std::shared_ptr<upstream_link>>> idle; // per upstream
  std::size_t next = 0;
  bool stopping = false;

  /// use_coroutine; counts the operations started while paused (the
  /// quiescence test requires none): a body that runs then has escaped.
  const coflow::use_coroutine_t& use(bool counted = true)
  {
    n.initiated_while_paused += n.paused && counted;
    return coflow::use_coroutine;
  }
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
        up->socket.set_option(tcp::no_delay(true)); // a header and a body: two writes
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
  const std::size_t first = px.pick(), second = px.pick();
  auto hedged = coflow::race(std::vector{ask(px, first, req), ask_later(px, second, req)});
  co_return (co_await std::move(hedged)).second;
}

/// A body on its way: pieces read from the upstream wait here for the
/// client. Backpressure is a pause: while `buffer` bytes wait, the pipe
/// holds a pause of the coroutine that reads the upstream (its read in
/// flight completes and is held). The reader has no line about it.
struct body_pipe
{
  proxy_state& px;
  coflow::coroutine<void> reader;
  std::deque<std::string> pieces; // an empty one ends the body
  std::size_t held = 0;
  std::optional<coflow::deferred<void>> writer_waits;

  void push(std::string piece)
  {
    resize(piece.size(), true);
    pieces.push_back(std::move(piece));
    if (writer_waits)
      std::exchange(writer_waits, std::nullopt)->callback();
  }

  void resize(std::size_t by, bool grow)
  {
    const bool full = held >= px.opt.buffer;
    held = grow ? held + by : held - by;
    px.n.peak_buffered = std::max(px.n.peak_buffered, held);
    if (full != (held >= px.opt.buffer))
      full ? reader.unpause() : reader.pause();
  }
};

/// Reads the body of @p x into @p pipe, a piece at a time.
coflow::coroutine<void> read_body(proxy_state& px, exchange& x, body_pipe& pipe)
{
  auto& parser = *x.parser;
  while (!parser.is_done())
  {
    std::string piece(std::min({std::size_t(64 * 1024), px.opt.buffer, remaining(parser)}), '\0');
    parser.get().body().data = piece.data();
    parser.get().body().size = piece.size();
    auto [ec, n] = co_await http::async_read(x.up->socket, x.up->buffer, parser, asio::as_tuple(px.use()));
    if (ec && ec != http::error::need_buffer)
      throw boost::system::system_error(ec);
    piece.resize(piece.size() - parser.get().body().size);
    if (!piece.empty())
      pipe.push(std::move(piece));
  }
  pipe.push({});
}

/// Writes @p res, its body taken from @p pipe, to @p client.
coflow::coroutine<void> write_body(
    proxy_state& px, tcp::socket& client, http::response<http::buffer_body>& res, body_pipe& pipe)
{
  http::response_serializer<http::buffer_body> serializer(res);
  res.body() = {nullptr, 0, true};
  co_await http::async_write_header(client, serializer, px.use());
  for (;;)
  {
    if (pipe.pieces.empty())
      co_await pipe.writer_waits.emplace(co_await coflow::this_coro::executor);
    const std::string piece = std::move(pipe.pieces.front());
    pipe.pieces.pop_front();
    if (piece.empty())
      break;
    pipe.resize(piece.size(), false);
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
  auto failure = http::status::bad_gateway; // no connection, or no header
  try
  {
    x.emplace(co_await coflow::timeout(px.opt.upstream_timeout, fetch_header(px, req)));
  }
  catch (const boost::system::system_error& e)
  {
    if (e.code() == asio::error::operation_aborted) // cancelled
      throw;
    if (e.code() == asio::error::timed_out) // coflow::timeout_error
      failure = http::status::gateway_timeout;
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
  body_pipe pipe{px, {}, {}, 0, {}};
  pipe.reader = read_body(px, *x, pipe);
  try
  {
    co_await coflow::join(pipe.reader, write_body(px, client, res, pipe));
  }
  catch (const boost::system::system_error& e)
  {
    if (e.code() == asio::error::operation_aborted)
      throw;
    ++px.n.aborted; // the upstream or the client broke off: close
    co_return false;
  }
  if (x->parser->keep_alive())
    px.idle[x->up->upstream].push_back(std::move(x->up));
  co_return res.keep_alive();
}

/// The admin's answer to @p req, about the coroutine @p proxied.
coflow::coroutine<bool> administer(proxy_state& px, coflow::coroutine<void> proxied, tcp::socket& client, request req)
{
  const std::string what = std::string(req.method_string()) + " " + std::string(req.target());
  std::string body;
  if (what == "GET /admin/tree")
    body = coflow::to_string(coflow::await_forest(co_await coflow::this_coro::executor));
  else if (what == "GET /admin/stats")
    body = px.n.line() + "\n";
  else if (what == "POST /admin/pause" || what == "POST /admin/resume")
  {
    const bool pause = what.ends_with("pause");
    if (std::exchange(px.n.paused, pause) != pause)
      pause ? proxied.pause() : proxied.unpause();
    body = pause ? "paused\n" : "resumed\n";
  }
  auto res = make_response(body.empty() ? http::status::not_found : http::status::ok, req.version(),
      req.keep_alive(), std::move(body));
  co_await http::async_write(client, res, coflow::use_coroutine);
  co_return res.keep_alive();
}

/// A connection: its requests in turn, each answered by @p answer (which
/// says whether the connection stays open). Cancelled while it waits for a
/// request, it closes at once. @p counted: a proxied connection, whose
/// operations count while paused.
template <class Answer>
coflow::coroutine<void> session(proxy_state& px, tcp::socket client, bool counted, Answer answer)
{
  px.n.connections += counted;
  client.set_option(tcp::no_delay(true));
  boost::beast::flat_buffer buffer;
  try
  {
    for (bool keep_alive = true; keep_alive;)
    {
      http::request_parser<http::string_body> parser;
      parser.body_limit(1 << 20);
      auto [ec, n] = co_await http::async_read(client, buffer, parser, asio::as_tuple(px.use(counted)));
      if (ec && ec.category() == http::make_error_code(http::error::bad_target).category()
          && ec != http::error::end_of_stream)
      {
        ++px.n.bad_requests;
        auto res = make_response(http::status::bad_request, 11, false);
        co_await http::async_write(client, res, px.use(counted));
      }
      if (ec)
        break;
      auto answered = answer(client, parser.release());
      keep_alive = co_await std::move(answered);
    }
  }
  catch (const boost::system::system_error& e)
  {
    // Not when cancelled between requests; else the client went, or the
    // request took too long.
    px.n.aborted += e.code() != asio::error::operation_aborted;
  }
  boost::system::error_code ignored;
  client.shutdown(tcp::socket::shutdown_both, ignored);
  client.close(ignored);
}

/// Accepts connections into a group, a session each: pause and cancel of
/// this coroutine reach them all.
template <class Answer>
coflow::coroutine<void> serve(proxy_state& px, tcp::acceptor& acceptor, bool counted, Answer answer)
{
  co_await coflow::with_task_group([&](coflow::task_group& group) -> coflow::coroutine<void> {
    for (;;)
      group.spawn(session(px, co_await acceptor.async_accept(px.use(counted)), counted, answer));
  });
}

/// Waits for SIGINT or SIGTERM.
coflow::coroutine<void> until_signal(proxy_state& px, asio::signal_set& signals)
{
  co_await signals.async_wait(coflow::use_coroutine);
  px.stopping = true; // responses from now on say "Connection: close"
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

  // The signal wins the race: the cancel of the servers is the shutdown.
  // Each request is shielded from the shutdown's cancel, and bounded in time.
  auto proxied = serve(px, listener, true, [&px](tcp::socket& client, request req) {
    ++px.n.requests;
    return coflow::shield(coflow::timeout(px.opt.request_timeout, respond(px, client, std::move(req))));
  });
  auto administered = serve(px, admin, false, [&px, proxied](tcp::socket& client, request req) {
    return administer(px, proxied, client, std::move(req));
  });
  asio::signal_set signals(io, SIGINT, SIGTERM);
  auto all = coflow::race(proxied, std::move(administered), until_signal(px, signals));
  auto done = coflow::spawn(io, std::move(all), asio::use_future);
  io.run();
  std::cout << "coflow_proxy: exiting: " << px.n.line() << std::endl;
  try
  {
    done.get();
    return 0;
  }
  catch (const std::exception& e)
  {
    std::cerr << "coflow_proxy: failed: " << e.what() << std::endl;
    return 1;
  }
}
