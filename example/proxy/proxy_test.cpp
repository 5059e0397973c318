//
// example/proxy/proxy_test.cpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// The proxy's tests, at small scale: each case starts the upstream servers
// and a proxy as processes, talks HTTP to them as a client would, and checks
// what the client sees, the proxy's counters (GET /admin/stats) and the
// proxy's exit (status 0, after SIGTERM; under ASan, no report).
//
// Usage: proxy_test -- <proxy binary> <upstream binary>
//

#define BOOST_TEST_MODULE proxy
#include <boost/test/unit_test.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

// ASan's quarantine keeps freed memory resident: the proxy's RSS says
// nothing in that build (g++ and clang name the feature differently).
#if defined(__SANITIZE_ADDRESS__)
#define PROXY_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PROXY_TEST_ASAN 1
#endif
#endif

extern char** environ;

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

/// The path of the upstream program (@p upstream) or of the proxy: the
/// two arguments, in either order (b2 passes its input files in its own).
std::string program(bool upstream)
{
  auto& suite = boost::unit_test::framework::master_test_suite();
  BOOST_TEST_REQUIRE(suite.argc == 3, "usage: proxy_test -- <proxy> <upstream>");
  const bool first_is_upstream = std::string_view(suite.argv[1]).ends_with("upstream");
  return suite.argv[first_is_upstream == upstream ? 1 : 2];
}

/// A child process whose standard output the test reads line by line.
class process
{
public:
  explicit process(std::vector<std::string> args)
  {
    int out[2];
    BOOST_TEST_REQUIRE(::pipe(out) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    BOOST_TEST_REQUIRE(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    out_ = ::fdopen(out[0], "r");
  }

  process(const process&) = delete;
  process& operator=(const process&) = delete;

  ~process()
  {
    if (pid_ > 0)
    {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_)
      std::fclose(out_);
  }

  /// The next line of output, without its newline ("" at the end).
  std::string line()
  {
    char buffer[4096];
    if (!std::fgets(buffer, sizeof buffer, out_))
      return {};
    std::string s = buffer;
    if (!s.empty() && s.back() == '\n')
      s.pop_back();
    return s;
  }

  /// Sends SIGTERM; @returns the rest of the output and the exit status.
  std::pair<std::string, int> terminate()
  {
    ::kill(pid_, SIGTERM);
    std::string rest;
    for (std::string l = line(); !l.empty(); l = line())
      rest += l + "\n";
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return {rest, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)};
  }

private:
  pid_t pid_ = -1;
  std::FILE* out_ = nullptr;
};

/// The number after @p key in @p text ("... key=N ...").
long field(const std::string& text, const std::string& key)
{
  const auto at = text.find(" " + key + "=");
  const auto start = at == std::string::npos ? text.find(key + "=") : at + 1;
  BOOST_TEST_REQUIRE(start != std::string::npos, key << " not in: " << text);
  return std::stol(text.substr(start + key.size() + 1));
}

/// A blocking HTTP client connection; every read gives up after 20 s.
class client
{
public:
  explicit client(unsigned short port) : socket_(io_)
  {
    socket_.connect(tcp::endpoint(asio::ip::address_v4::loopback(), port));
    timeval tv{20, 0};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }

  void send(http::verb verb, const std::string& target, bool keep_alive = true)
  {
    http::request<http::empty_body> req(verb, target, 11);
    req.set(http::field::host, "127.0.0.1");
    req.keep_alive(keep_alive);
    http::write(socket_, req);
  }

  http::response<http::string_body> receive()
  {
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    http::read(socket_, buffer_, parser);
    return parser.release();
  }

  http::response<http::string_body> request(
      http::verb verb, const std::string& target, bool keep_alive = true)
  {
    send(verb, target, keep_alive);
    return receive();
  }

  /// Whether a byte arrives (or the peer closes) within @p d.
  bool readable_within(std::chrono::milliseconds d)
  {
    if (buffer_.size() > 0)
      return true;
    pollfd p{socket_.native_handle(), POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(d.count())) > 0;
  }

  /// Reads to the end of the stream; @returns the bytes and the error that
  /// ended it (eof for a clean close).
  std::pair<std::string, boost::system::error_code> read_to_end()
  {
    std::string data(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    buffer_.consume(buffer_.size());
    char piece[65536];
    boost::system::error_code ec;
    while (!ec)
      data.append(piece, socket_.read_some(asio::buffer(piece), ec));
    return {data, ec};
  }

  tcp::socket& socket() { return socket_; }

private:
  asio::io_context io_;
  tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

unsigned short port_after(const std::string& line, const std::string& marker)
{
  const auto at = line.find(marker);
  BOOST_TEST_REQUIRE(at != std::string::npos, "'" << marker << "' not in: " << line);
  const auto colon = line.find(':', at + marker.size());
  return static_cast<unsigned short>(std::stoul(line.substr(colon + 1)));
}

/// Two upstreams and a proxy in front of them, with @p flags.
struct servers
{
  explicit servers(std::vector<std::string> flags = {}, bool dead_upstream = false)
    : upstream({program(true), "--count", "2"})
  {
    up[0] = port_after(upstream.line(), "listening on");
    up[1] = port_after(upstream.line(), "listening on");
    std::vector<std::string> args{program(false)};
    for (int i = 0; i < 2; ++i)
      args.insert(args.end(), {"--upstream", std::to_string(up[i])});
    if (dead_upstream)
    {
      // A port that nobody listens on: bound, then closed.
      asio::io_context io;
      tcp::acceptor a(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
      const auto dead = a.local_endpoint().port();
      a.close();
      args = {program(false), "--upstream", std::to_string(dead)};
    }
    args.insert(args.end(), flags.begin(), flags.end());
    proxy.emplace(args);
    const std::string first = proxy->line();
    port = port_after(first, "listening on");
    admin = port_after(first, "admin on");
  }

  std::string admin_call(http::verb verb, const std::string& target)
  {
    client c(admin);
    return c.request(verb, target, false).body();
  }

  std::string stats() { return admin_call(http::verb::get, "/admin/stats"); }

  /// Waits (polling the tree, no sleep) until the proxy's tree shows @p text.
  void await_tree_shows(const std::string& text)
  {
    const auto until = std::chrono::steady_clock::now() + 20s;
    while (admin_call(http::verb::get, "/admin/tree").find(text) == std::string::npos)
      BOOST_TEST_REQUIRE((std::chrono::steady_clock::now() < until), "the tree never showed " << text);
  }

  /// Waits until an upstream has received the request for @p target, a
  /// /delay/ or /slow-on-first/ one (the upstream prints a line for it).
  void upstream_holds(const std::string& target)
  {
    for (std::string line = upstream.line(); !line.ends_with(" delays " + target); line = upstream.line())
      BOOST_TEST_REQUIRE(!line.empty(), "the upstreams' output ended");
  }

  /// SIGTERM: the proxy must exit 0 with its summary line.
  std::string stop()
  {
    auto [rest, status] = proxy->terminate();
    BOOST_TEST(status == 0);
    BOOST_TEST(rest.find("_proxy: exiting: ") != std::string::npos, rest);
    return rest;
  }

  process upstream;
  unsigned short up[2] = {};
  std::optional<process> proxy;
  unsigned short port = 0, admin = 0;
};

} // namespace

BOOST_AUTO_TEST_CASE(forwards_round_robin_on_one_kept_connection)
{
  servers s;
  client c(s.port);
  for (int i = 0; i < 4; ++i)
  {
    auto res = c.request(http::verb::get, "/hello/" + std::to_string(i));
    BOOST_TEST(res.result_int() == 200u);
    BOOST_TEST(res["X-Upstream"] == std::to_string(i % 2));
    BOOST_TEST(res.body() == "upstream " + std::to_string(i % 2) + ": /hello/" + std::to_string(i) + "\n");
    BOOST_TEST(res.keep_alive());
  }
  auto big = c.request(http::verb::get, "/bytes/1000000");
  BOOST_TEST(big.body() == std::string(1000000, 'x'));
  const std::string stats = s.stats();
  BOOST_TEST(field(stats, "connections") == 1);
  BOOST_TEST(field(stats, "requests") == 5);
  s.stop();
}

BOOST_AUTO_TEST_CASE(admin_stats_and_404)
{
  servers s;
  BOOST_TEST(s.stats().find("connections=0 requests=0") == 0u);
  client c(s.admin);
  BOOST_TEST(c.request(http::verb::get, "/admin/nothing", false).result_int() == 404u);
  s.stop();
}

// Label "pause": what only the coflow proxy does (pause, resume, the tree);
// the asio::awaitable twin runs the others (ctest example_proxy_asio_twin).
BOOST_AUTO_TEST_CASE(admin_pause_resume_and_tree, *boost::unit_test::label("pause"))
{
  servers s;
  const std::string tree = s.admin_call(http::verb::get, "/admin/tree");
  BOOST_TEST(tree.find("serve [suspended]") != std::string::npos, tree);
  BOOST_TEST(tree.find("task_group") != std::string::npos, tree);
  BOOST_TEST(s.admin_call(http::verb::post, "/admin/pause") == "paused\n");
  BOOST_TEST(field(s.stats(), "paused") == 1);
  BOOST_TEST(s.admin_call(http::verb::get, "/admin/tree").find("serve [paused]") != std::string::npos);
  BOOST_TEST(s.admin_call(http::verb::post, "/admin/resume") == "resumed\n");
  BOOST_TEST(field(s.stats(), "paused") == 0);
  s.stop();
}

BOOST_AUTO_TEST_CASE(quiescence_holds_every_result_until_resume, *boost::unit_test::label("pause"))
{
  servers s;
  client in_flight(s.port), idle(s.port);
  BOOST_TEST(idle.request(http::verb::get, "/warm").result_int() == 200u);
  in_flight.send(http::verb::get, "/delay/300");
  s.await_tree_shows("ask [suspended]"); // the request has reached its upstream
  BOOST_TEST(s.admin_call(http::verb::post, "/admin/pause") == "paused\n");
  client late(s.port); // accepted by the kernel; the proxy holds the accept
  idle.send(http::verb::get, "/during-pause");
  late.send(http::verb::get, "/late");
  // The upstream answers the request in flight at 300 ms: held, as are the
  // new requests. Nothing reaches any client while paused.
  BOOST_TEST(!in_flight.readable_within(1000ms));
  BOOST_TEST(!idle.readable_within(10ms));
  BOOST_TEST(!late.readable_within(10ms));
  BOOST_TEST(field(s.stats(), "requests") == 2);
  BOOST_TEST(s.admin_call(http::verb::post, "/admin/resume") == "resumed\n");
  BOOST_TEST(in_flight.receive().body() == "upstream 1: /delay/300\n");
  BOOST_TEST(idle.receive().body().find("/during-pause") != std::string::npos);
  BOOST_TEST(late.receive().body().find("/late") != std::string::npos);
  const std::string stats = s.stats();
  BOOST_TEST(field(stats, "initiated_while_paused") == 0);
  BOOST_TEST(field(stats, "requests") == 4);
  s.stop();
}

BOOST_AUTO_TEST_CASE(bounded_memory_under_a_slow_client)
{
  servers s({"--buffer-kib", "256"});
  client c(s.port);
  const long rss_before = field(s.stats(), "peak_rss_kib");
  const std::size_t total = 16 << 20;
  c.send(http::verb::get, "/bytes/" + std::to_string(total));
  // The client takes at most 64 KiB every 2 ms: half a second at least, far
  // slower than the upstream sends.
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  boost::beast::flat_buffer buffer;
  http::read_header(c.socket(), buffer, parser);
  std::size_t received = 0;
  std::vector<char> piece(64 * 1024);
  while (!parser.is_done())
  {
    parser.get().body().data = piece.data();
    parser.get().body().size = piece.size();
    boost::system::error_code ec;
    http::read(c.socket(), buffer, parser, ec);
    BOOST_TEST_REQUIRE((!ec || ec == http::error::need_buffer), ec.message());
    received += piece.size() - parser.get().body().size;
    std::this_thread::sleep_for(2ms); // the throttle, not a synchronisation
  }
  BOOST_TEST(received == total);
  const std::string stats = s.stats();
  // At most the bound plus the piece whose read was in flight.
  BOOST_TEST(field(stats, "peak_buffered") <= 256 * 1024 + 64 * 1024);
#ifndef PROXY_TEST_ASAN
  BOOST_TEST(field(stats, "peak_rss_kib") - rss_before < 8 * 1024, stats); // 16 MiB went through
#else
  (void)rss_before;
#endif
  s.stop();
}

BOOST_AUTO_TEST_CASE(upstream_timeout_gives_504)
{
  servers s({"--upstream-timeout-ms", "200"});
  client c(s.port);
  const auto start = std::chrono::steady_clock::now();
  auto res = c.request(http::verb::get, "/delay/5000");
  BOOST_TEST(res.result_int() == 504u);
  BOOST_TEST((std::chrono::steady_clock::now() - start < 4s));
  BOOST_TEST(c.request(http::verb::get, "/after").result_int() == 200u); // still kept
  BOOST_TEST(field(s.stats(), "gateway_timeouts") == 1);
  s.stop();
}

BOOST_AUTO_TEST_CASE(hedged_requests_take_the_first_answer)
{
  servers s({"--hedge-ms", "50"});
  client c(s.port);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 2; ++i)
  {
    // Asked of upstream 0 (slow: 5 s) and, 50 ms later, of upstream 1.
    auto res = c.request(http::verb::get, "/slow-on-first/5000");
    BOOST_TEST(res.result_int() == 200u);
    BOOST_TEST(res["X-Upstream"] == "1");
  }
  BOOST_TEST((std::chrono::steady_clock::now() - start < 4s));
  const std::string stats = s.stats();
  BOOST_TEST(field(stats, "hedged") == 2);
  BOOST_TEST(field(stats, "upstream_cancelled") == 2); // the slow exchanges
  s.stop();
}

BOOST_AUTO_TEST_CASE(graceful_shutdown_finishes_requests_in_flight)
{
  servers s;
  client in_flight(s.port), idle(s.port);
  BOOST_TEST(idle.request(http::verb::get, "/warm").result_int() == 200u);
  in_flight.send(http::verb::get, "/delay/500");
  s.upstream_holds("/delay/500");
  const std::string rest = s.stop();
  auto res = in_flight.receive();
  BOOST_TEST(res.body() == "upstream 1: /delay/500\n");
  BOOST_TEST(!res.keep_alive()); // "Connection: close": the proxy is stopping
  BOOST_TEST(in_flight.read_to_end().second == asio::error::eof);
  auto [bytes, ec] = idle.read_to_end(); // the idle connection: closed at once
  BOOST_TEST(bytes.empty());
  BOOST_TEST(ec == asio::error::eof);
  BOOST_TEST(field(rest, "aborted") == 0);
}

BOOST_AUTO_TEST_CASE(a_refused_upstream_connection_gives_502)
{
  servers s({}, true);
  client c(s.port);
  BOOST_TEST(c.request(http::verb::get, "/x").result_int() == 502u);
  BOOST_TEST(c.request(http::verb::get, "/y").result_int() == 502u);
  BOOST_TEST(field(s.stats(), "bad_gateway") == 2);
  s.stop();
}

BOOST_AUTO_TEST_CASE(an_upstream_reset_mid_body_closes_the_client_connection)
{
  servers s;
  client c(s.port);
  c.send(http::verb::get, "/reset/300000"); // announces 600 000 bytes
  auto [bytes, ec] = c.read_to_end();
  BOOST_TEST(bytes.find("Content-Length: 600000") != std::string::npos);
  BOOST_TEST(bytes.size() < 600000u);
  BOOST_TEST(ec == asio::error::eof); // a clean close, not a reset
  client next(s.port);
  BOOST_TEST(next.request(http::verb::get, "/next").result_int() == 200u);
  BOOST_TEST(field(s.stats(), "aborted") == 1);
  s.stop();
}

BOOST_AUTO_TEST_CASE(a_client_gone_mid_response_leaves_the_proxy_serving)
{
  servers s;
  {
    client c(s.port);
    c.send(http::verb::get, "/bytes/67108864"); // 64 MiB
    char piece[65536];
    std::size_t n = 0;
    while (n < (1u << 20))
      n += c.socket().read_some(asio::buffer(piece));
  } // closed with 63 MiB to go
  client next(s.port);
  BOOST_TEST(next.request(http::verb::get, "/next").result_int() == 200u);
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (field(s.stats(), "aborted") != 1)
    BOOST_TEST_REQUIRE((std::chrono::steady_clock::now() < until));
  s.stop();
}

BOOST_AUTO_TEST_CASE(a_malformed_request_gives_400_and_a_close)
{
  servers s;
  client c(s.port);
  const std::string garbage = "GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: nonsense\r\n\r\n";
  asio::write(c.socket(), asio::buffer(garbage));
  auto [bytes, ec] = c.read_to_end();
  BOOST_TEST(bytes.starts_with("HTTP/1.1 400 Bad Request\r\n"), bytes);
  BOOST_TEST(ec == asio::error::eof);
  BOOST_TEST(field(s.stats(), "bad_requests") == 1);
  s.stop();
}
