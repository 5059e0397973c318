//
// src/await_tree.cpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// Introspection (DESIGN.md §8): reads what coroutine states await, through
// the same interface the cascade uses (awaited_control::describe() and
// for_each_awaited()), and prints it.
//

#ifndef COFLOW_NO_INTROSPECTION

#include <coflow/await_tree.hpp>
#include <coflow/detail/coroutine_state_base.hpp>
#include <coflow/detail/waiter_registry.hpp>

#include <cxxabi.h>

#include <algorithm>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <typeinfo>
#include <unordered_set>
#include <utility>

namespace coflow {
namespace detail {

namespace {

/// A readable name of @p type: the demangled one, else the compiler's.
std::string readable(const std::type_info& type)
{
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), std::free);
  std::string text = status == 0 && name ? std::string(name.get()) : std::string(type.name());
  // libstdc++'s inline namespace of exception_ptr.
  constexpr std::string_view inner = "std::__exception_ptr::exception_ptr";
  for (std::size_t at; (at = text.find(inner)) != std::string::npos;)
    text.replace(at, inner.size(), "std::exception_ptr");
  return text;
}

/// Collects what an awaiter waits on (the visit is noexcept: what cannot be
/// stored is counted, and shown as such).
struct collect final : awaited_visitor
{
  std::vector<const coroutine_state_base*> states;
  std::size_t dropped = 0;

  void operator()(const coroutine_state_base* awaited) noexcept override
  {
    try
    {
      states.push_back(awaited);
    }
    catch (...)
    {
      ++dropped;
    }
  }
};

/// @p name with every parameter list emptied: "f(int)::<lambda(char)>" is
/// "f()::<lambda()>".
std::string without_parameters(const std::string& name)
{
  std::string out;
  int depth = 0;
  for (const char c : name)
  {
    if (c == '(' && depth++ == 0)
      out += c;
    else if (c == ')' && --depth == 0)
      out += c;
    else if (depth == 0)
      out += c;
  }
  return out;
}

/// A coroutine function's name without its return type, parameters and
/// template arguments' bindings, as a tree shows it: g++ spells the whole
/// signature ("coflow::coroutine<int> level2(int)" is "level2"), clang the
/// name alone.
std::string name_in_signature(const char* pretty)
{
  std::string_view f = pretty ? pretty : "";
  if (const auto with = f.find(" [with "); with != std::string_view::npos)
    f = f.substr(0, with);
  if (f.size() > 6 && f.substr(f.size() - 6) == " const")
    f = f.substr(0, f.size() - 6);
  if (f.empty() || f.back() != ')')
    return std::string(f);
  // The parameter list: the last ')' and its '('.
  std::size_t open = std::string_view::npos;
  int depth = 0;
  for (std::size_t i = f.size(); i-- > 0;)
  {
    if (f[i] == ')')
      ++depth;
    else if (f[i] == '(' && --depth == 0)
    {
      open = i;
      break;
    }
  }
  if (open == std::string_view::npos)
    return std::string(f);
  // The name: after the last space outside template arguments.
  const std::string_view head = f.substr(0, open);
  std::size_t start = 0;
  int angle = 0;
  for (std::size_t i = head.size(); i-- > 0;)
  {
    if (head[i] == '>')
      ++angle;
    else if (head[i] == '<')
      --angle;
    else if (head[i] == ' ' && angle == 0)
    {
      start = i + 1;
      break;
    }
  }
  return std::string(head.substr(start));
}

/// function_name() as a tree shows it.
std::string short_name(const char* pretty)
{
  std::string name = name_in_signature(pretty);
  // A lambda (g++: "f(int, char)::<lambda(int)>"): the parameter lists of
  // the functions around it say little and can be long.
  if (name.find("::<lambda") != std::string::npos)
    name = without_parameters(name);
  // g++'s spelling of an unnamed namespace says nothing a reader needs.
  constexpr std::string_view unnamed = "{anonymous}::";
  for (std::size_t at; (at = name.find(unnamed)) != std::string::npos;)
    name.erase(at, unnamed.size());
  return name;
}

/// Whether @p file is one of coflow's own headers: a combinator's or a
/// spawn's coroutine, which a tree shows as what it awaits.
bool library_file(const char* file) noexcept
{
  const std::string_view f = file ? file : "";
  return f.size() > 4 && f.substr(f.size() - 4) == ".hpp"
      && f.find("include/coflow/") != std::string_view::npos;
}

bool fan_in(await_kind kind) noexcept
{
  return kind == await_kind::join || kind == await_kind::gather || kind == await_kind::race
      || kind == await_kind::timeout || kind == await_kind::shield
      || kind == await_kind::task_group;
}

} // namespace

/// Builds the nodes; a friend of coroutine_state_base.
class await_tree_reader
{
public:
  explicit await_tree_reader(std::size_t max_depth) : max_depth_(max_depth) {}

  await_node coroutine_node(const coroutine_state_base& root, std::size_t depth)
  {
    if (depth > max_depth_)
      return truncated();
    const coroutine_state_base* s = &root;
    // A tail call: the state that runs now stands for the ones it replaced.
    for (int hops = 0; s->awaited_ && s->awaited_->describe().tail_call; ++hops)
    {
      collect next;
      s->awaited_->for_each_awaited(next);
      if (next.states.empty() || hops > 100000)
        return awaited_node(*s->awaited_, depth);
      s = next.states.front();
      seen_below_.insert(s);
    }
    if (depth > 0)
      seen_below_.insert(s);

    await_node node;
    node.kind = await_kind::coroutine;
    node.name = short_name(s->function_site_.function_name());
    const auto w = s->state();
    const stage at = s->current_stage();
    node.pause_count = coroutine_state_base::pauses(w);
    const bool suspended = at == stage::in_body && s->awaited_;
    if (at < stage::in_body)
      node.state = await_state::starting;
    else if (at >= stage::body_done)
      node.state = node.pause_count && at == stage::body_done ? await_state::paused
                                                               : await_state::finished;
    else if (coroutine_state_base::is_cancelled(w))
      node.state = await_state::cancelling;
    else if (node.pause_count)
      node.state = await_state::paused;
    else
      node.state = suspended ? await_state::suspended : await_state::running;
    if (suspended)
    {
      node.location = s->function_site_.location_at(s->await_site_);
      await_node awaited = awaited_node(*s->awaited_, depth + 1);
      if (library_file(s->function_site_.file_name())
          && (awaited.kind == await_kind::coroutine || fan_in(awaited.kind)
              || std::string_view(s->function_site_.file_name()).find("include/coflow/detail/")
                  != std::string_view::npos))
      {
        // coflow's own coroutine (join's, timeout's, spawn's of a callable,
        // a branch's around an operation) stands for what it awaits, which
        // then shows its state (a coroutine has its own).
        if (awaited.kind != await_kind::coroutine)
        {
          awaited.state = node.state;
          awaited.pause_count = node.pause_count;
        }
        return awaited;
      }
      node.children.push_back(std::move(awaited));
    }
    else
      node.location = boost::source_location(
          s->function_site_.file_name(), 0, s->function_site_.function_name());
    return node;
  }

  static bool runs_on(const coroutine_state_base& s, const boost::asio::any_io_executor& ex) noexcept
  {
    return s.runs_on(ex);
  }

  const std::unordered_set<const coroutine_state_base*>& seen_below() const noexcept
  {
    return seen_below_;
  }

private:
  await_node awaited_node(const awaited_control& awaited, std::size_t depth)
  {
    if (depth > max_depth_)
      return truncated();
    const awaited_description d = awaited.describe();
    collect below;
    awaited.for_each_awaited(below);
    await_node node;
    switch (d.kind)
    {
    case awaited_kind::coroutine:
      if (!below.states.empty())
        return coroutine_node(*below.states.front(), depth);
      node.kind = await_kind::elsewhere;
      node.name = "coroutine";
      return node;
    case awaited_kind::deferred:
      node.kind = await_kind::deferred;
      break;
    case awaited_kind::operation:
      node.kind = await_kind::operation;
      break;
    case awaited_kind::awaitable:
      node.kind = await_kind::awaitable;
      break;
    case awaited_kind::fan_in:
      node.kind = fan_in_kind(d.name);
      break;
    }
    if (d.signature)
      node.name = readable(*d.signature);
    if (node.kind == await_kind::task_group) // listed newest first: the body last
      std::reverse(below.states.begin(), below.states.end());
    for (const coroutine_state_base* s : below.states)
      node.children.push_back(coroutine_node(*s, depth + 1));
    if (below.dropped != 0)
    {
      await_node more = truncated();
      more.name = std::to_string(below.dropped) + " more not shown";
      node.children.push_back(std::move(more));
    }
    return node;
  }

  static await_kind fan_in_kind(const char* name) noexcept
  {
    const std::string_view n = name ? name : "";
    if (n == "join")
      return await_kind::join;
    if (n == "gather")
      return await_kind::gather;
    if (n == "shield")
      return await_kind::shield;
    if (n == "task_group")
      return await_kind::task_group;
    if (n == "timeout")
      return await_kind::timeout;
    return await_kind::race;
  }

  static await_node truncated()
  {
    await_node node;
    node.kind = await_kind::truncated;
    return node;
  }

  std::size_t max_depth_;
  std::unordered_set<const coroutine_state_base*> seen_below_;
};

await_node await_tree_of(const coroutine_state_base& state, std::size_t max_depth)
{
  await_tree_reader reader(max_depth);
  return reader.coroutine_node(state, 0);
}

} // namespace detail

std::vector<await_node> await_forest(boost::asio::execution_context& context, std::size_t max_depth)
{
  return detail::await_forest_of(context, nullptr, max_depth);
}

std::vector<await_node> detail::await_forest_of(boost::asio::execution_context& context,
    const boost::asio::any_io_executor* only, std::size_t max_depth)
{
  using detail::coroutine_state_base;
  if (!boost::asio::has_service<detail::waiter_registry>(context))
    return {};
  // The roots are kept alive while they are read.
  struct refs
  {
    std::vector<coroutine_state_base*> held;
    ~refs()
    {
      for (coroutine_state_base* s : held)
        s->release();
    }
  } roots;
  auto& registry = boost::asio::use_service<detail::waiter_registry>(context);
  roots.held.reserve(registry.listed_count() + 16);
  registry.hold_roots(roots.held);
  std::reverse(roots.held.begin(), roots.held.end()); // oldest first
  detail::await_tree_reader reader(max_depth);
  std::vector<await_node> trees;
  trees.reserve(roots.held.size());
  for (coroutine_state_base* s : roots.held)
  {
    if (only && !detail::await_tree_reader::runs_on(*s, *only))
    {
      await_node other;
      other.kind = await_kind::elsewhere;
      other.name = "coroutine";
      trees.push_back(std::move(other));
    }
    else
      trees.push_back(reader.coroutine_node(*s, 0));
  }
  // A root that another root awaits is in that one's tree already.
  std::vector<await_node> forest;
  for (std::size_t i = 0; i < trees.size(); ++i)
    if (!reader.seen_below().count(roots.held[i]))
      forest.push_back(std::move(trees[i]));
  return forest;
}

// --- printing ---------------------------------------------------------------------

const char* to_string(await_state state) noexcept
{
  switch (state)
  {
  case await_state::starting: return "starting";
  case await_state::running: return "running";
  case await_state::suspended: return "suspended";
  case await_state::paused: return "paused";
  case await_state::cancelling: return "cancelling";
  case await_state::finished: return "finished";
  }
  return "?";
}

const char* to_string(await_kind kind) noexcept
{
  switch (kind)
  {
  case await_kind::coroutine: return "coroutine";
  case await_kind::deferred: return "deferred";
  case await_kind::operation: return "operation";
  case await_kind::awaitable: return "asio::awaitable";
  case await_kind::join: return "join";
  case await_kind::gather: return "gather";
  case await_kind::race: return "race";
  case await_kind::timeout: return "timeout";
  case await_kind::shield: return "shield";
  case await_kind::task_group: return "task_group";
  case await_kind::elsewhere: return "elsewhere";
  case await_kind::truncated: return "truncated";
  }
  return "?";
}

namespace {

std::string_view base_name(const char* path)
{
  const std::string_view p = path ? path : "";
  const auto slash = p.find_last_of('/');
  return slash == std::string_view::npos ? p : p.substr(slash + 1);
}

/// "paused", "paused ×2", "cancelling, paused", "suspended".
std::string state_text(const await_node& node)
{
  std::string text = to_string(node.state);
  if (node.pause_count != 0)
  {
    if (node.state != await_state::paused)
      text += ", paused";
    if (node.pause_count > 1)
    {
      text += " \u00d7";
      text += std::to_string(node.pause_count);
    }
  }
  return text;
}

/// " [paused]" after a node that is not a coroutine: only a state other
/// than plain `suspended` (which every pending operation is) is shown.
std::string state_suffix(const await_node& node, std::string_view separator)
{
  if (node.state == await_state::suspended && node.pause_count == 0)
    return {};
  return std::string(separator) + '[' + state_text(node) + ']';
}

/// One line's text for @p node (no children). @p separator goes between
/// the name, the state and the location.
std::string label(const await_node& node, std::string_view separator)
{
  std::string text;
  switch (node.kind)
  {
  case await_kind::coroutine:
    text = node.name;
    text += separator;
    text += '[';
    text += state_text(node);
    text += ']';
    if (node.location.line() != 0)
    {
      text += separator;
      text += "at ";
      text += base_name(node.location.file_name());
      text += ':';
      text += std::to_string(node.location.line());
    }
    return text;
  case await_kind::operation:
  case await_kind::awaitable:
    text = to_string(node.kind);
    if (!node.name.empty())
    {
      text += separator;
      text += node.name;
    }
    return text + state_suffix(node, separator);
  case await_kind::elsewhere:
    return node.name + " on another executor (not read)";
  case await_kind::truncated:
    return node.name.empty() ? std::string("... deeper levels not shown")
                             : "... " + node.name;
  default:
    text = to_string(node.kind);
    if (!node.children.empty() && node.kind != await_kind::shield
        && node.kind != await_kind::timeout)
      text += " of " + std::to_string(node.children.size());
    return text + state_suffix(node, separator);
  }
}

void print(std::string& out, const await_node& node, std::string& prefix)
{
  out += label(node, " ");
  out += '\n';
  for (std::size_t i = 0; i < node.children.size(); ++i)
  {
    const bool last = i + 1 == node.children.size();
    out += prefix;
    out += last ? "\u2514\u2500 " : "\u251c\u2500 ";
    const std::size_t size = prefix.size();
    prefix += last ? "   " : "\u2502  ";
    print(out, node.children[i], prefix);
    prefix.resize(size);
  }
}

std::string dot_escaped(std::string_view text)
{
  std::string out;
  for (const char c : text)
  {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out;
}

const char* fill_of(const await_node& node) noexcept
{
  switch (node.state)
  {
  case await_state::starting: return "lightblue";
  case await_state::running: return "palegreen";
  case await_state::suspended: return "white";
  case await_state::paused: return "orange";
  case await_state::cancelling: return "tomato";
  case await_state::finished: return "lightgrey";
  }
  return "white";
}

void dot(std::string& out, const await_node& node, std::size_t& next_id)
{
  const std::size_t id = next_id++;
  out += "  n" + std::to_string(id) + " [label=\"";
  // "\n" in a DOT label is a line break: one per part of the label.
  out += dot_escaped(label(node, "\x01"));
  for (std::size_t at; (at = out.find('\x01')) != std::string::npos;)
    out.replace(at, 1, "\\n");
  out += "\", shape=";
  out += node.kind == await_kind::coroutine ? "box" : "ellipse";
  out += ", fillcolor=\"";
  out += fill_of(node);
  out += "\"];\n";
  for (const await_node& child : node.children)
  {
    const std::size_t child_id = next_id;
    dot(out, child, next_id);
    out += "  n" + std::to_string(id) + " -> n" + std::to_string(child_id) + ";\n";
  }
}

std::string dot_of(const await_node* first, std::size_t count)
{
  std::string out = "digraph await_tree {\n"
                    "  node [style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n";
  std::size_t next_id = 0;
  for (std::size_t i = 0; i < count; ++i)
    dot(out, first[i], next_id);
  out += "}\n";
  return out;
}

} // namespace

std::string to_string(const await_node& node)
{
  std::string out;
  std::string prefix;
  print(out, node, prefix);
  return out;
}

std::string to_string(const std::vector<await_node>& forest)
{
  std::string out;
  for (const await_node& tree : forest)
    out += to_string(tree);
  return out;
}

std::string to_dot(const await_node& node) { return dot_of(&node, 1); }

std::string to_dot(const std::vector<await_node>& forest)
{
  return dot_of(forest.data(), forest.size());
}

} // namespace coflow

#endif // COFLOW_NO_INTROSPECTION
