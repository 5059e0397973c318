// Tutorial step 7 (doc/tutorial.md): a TCP echo server whose connections
// live in a task_group; one cancel of the server reaches the acceptor and
// every connection.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)

#include <coflow/coflow.hpp>

#include <boost/asio.hpp>

#include <iostream>
#include <list>
#include <string>
#include <vector>

namespace asio = boost::asio;
using asio::ip::tcp;

/// Echoes what the peer sends until the peer closes the connection.
coflow::coroutine<void> session(tcp::socket socket)
{
  char data[1024];
  for (;;)
  {
    boost::system::error_code ec; // end of stream: not an error of the server
    std::size_t n = co_await socket.async_read_some(
        asio::buffer(data), asio::redirect_error(coflow::use_coroutine, ec));
    if (ec)
      co_return;
    co_await asio::async_write(socket, asio::buffer(data, n), coflow::use_coroutine);
  }
}

coflow::coroutine<void> serve(tcp::acceptor& acceptor)
{
  co_await coflow::with_task_group([&](coflow::task_group& group) -> coflow::coroutine<void> {
    for (;;)
    {
      tcp::socket socket = co_await acceptor.async_accept(coflow::use_coroutine);
      group.spawn(session(std::move(socket))); // the group waits for it
    }
  });
}

/// Connects @p socket to @p to, sends @p text and returns the echo.
coflow::coroutine<std::string> ask(tcp::socket& socket, tcp::endpoint to, std::string text)
{
  co_await socket.async_connect(to, coflow::use_coroutine);
  co_await asio::async_write(socket, asio::buffer(text), coflow::use_coroutine);
  std::string echo(text.size(), '\0');
  co_await asio::async_read(socket, asio::buffer(echo), coflow::use_coroutine);
  co_return echo;
}

coflow::coroutine<void> demo(tcp::acceptor& acceptor)
{
  auto ex = co_await coflow::this_coro::executor;
  coflow::coroutine<void> server = coflow::spawn(ex, serve(acceptor));
  std::list<tcp::socket> sockets; // a list keeps its elements in place
  std::vector<coflow::coroutine<std::string>> clients;
  for (std::string name : {"ann", "bob", "cy"})
  {
    tcp::socket& socket = sockets.emplace_back(ex);
    clients.push_back(ask(socket, acceptor.local_endpoint(), "hello from " + name));
  }
  auto all = coflow::join(std::move(clients));
  for (const std::string& echo : co_await std::move(all)) // three sessions wait for more
    std::cout << "client: echoed \"" << echo << "\"\n";

  std::cout << "main: cancelling the server\n";
  server.cancel(); // reaches the accept and every session
  try
  {
    co_await server;
  }
  catch (const coflow::cancelled_error&)
  {
    std::cout << "main: the server has stopped\n";
  }
  for (tcp::socket& socket : sockets)
  {
    char byte;
    auto [ec, n] = co_await socket.async_read_some(
        asio::buffer(&byte, 1), asio::as_tuple(coflow::use_coroutine));
    std::cout << "client: " << (ec == asio::error::eof ? "closed by the server" : ec.message()) << "\n";
  }
}

int main()
{
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)); // any free port
  coflow::spawn(io, demo(acceptor), asio::detached);
  io.run();
}
