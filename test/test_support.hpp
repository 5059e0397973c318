//
// test/test_support.hpp: small helpers shared by the test suites.
//

#ifndef COFLOW_TEST_SUPPORT_HPP
#define COFLOW_TEST_SUPPORT_HPP

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <exception>

namespace coflow_test {

/// Whether @p e holds an exception of type E (or derived).
template <class E>
bool holds(std::exception_ptr e)
{
  if (!e)
    return false;
  try
  {
    std::rethrow_exception(e);
  }
  catch (const E&)
  {
    return true;
  }
  catch (...)
  {
    return false;
  }
}

/// Two connected TCP sockets on 127.0.0.1.
struct loopback_pair
{
  boost::asio::ip::tcp::acceptor acceptor;
  boost::asio::ip::tcp::socket client;
  boost::asio::ip::tcp::socket server;

  explicit loopback_pair(boost::asio::io_context& io)
    : acceptor(io, boost::asio::ip::tcp::endpoint(
                       boost::asio::ip::address_v4::loopback(), 0)),
      client(io),
      server(io)
  {
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server);
  }
};

} // namespace coflow_test

#endif // COFLOW_TEST_SUPPORT_HPP
