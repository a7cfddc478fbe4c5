#include "src/cli/command_line.hpp"

#include <boost/program_options.hpp>

#include <algorithm>
#include <cassert>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <ostream>

namespace keyledger::cli {
namespace po = boost::program_options;

namespace {

// Where positional arguments go inside Program_options; never a valid option name of ours.
constexpr const char* kPositional = "kl-positional-arguments";
constexpr size_t kHelpWidth = 80;
constexpr size_t kMaxFlagColumn = 28;

std::string_view Bare(std::string_view name) {
  while (name.starts_with('-')) name.remove_prefix(1);
  return name;
}

std::string Dashed(std::string_view name) { return "--" + std::string(name); }

Error BadUsage(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

std::optional<bool> ParseSwitch(std::string value) {
  for (char& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (value == "true" || value == "yes" || value == "on" || value == "1") return true;
  if (value == "false" || value == "no" || value == "off" || value == "0") return false;
  return std::nullopt;
}

// "a", "a or b", "a, b or c".
std::string OneOf(const std::vector<std::string>& words) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += i + 1 == words.size() ? " or " : ", ";
    out += words[i];
  }
  return out;
}

// The name Program_options gives an error, as the user typed it ("--colour", "-x").
std::string OptionNameOf(const po::error_with_option_name& e) {
  std::string name = e.get_option_name();
  if (name.empty()) return e.what();
  // An unknown "--colour=x" is named with its value; the name is what the user needs.
  if (const size_t eq = name.find('='); name.starts_with("--") && eq != std::string::npos) {
    name.resize(eq);
  }
  return name;
}

// Program_options' exceptions as our one-line messages.
Error Translate(const po::error& e) {
  if (const auto* unknown = dynamic_cast<const po::unknown_option*>(&e)) {
    return BadUsage("unknown option " + OptionNameOf(*unknown));
  }
  if (const auto* twice = dynamic_cast<const po::multiple_occurrences*>(&e)) {
    return BadUsage(OptionNameOf(*twice) + " was given twice");
  }
  if (const auto* syntax = dynamic_cast<const po::invalid_command_line_syntax*>(&e)) {
    switch (syntax->kind()) {
      case po::invalid_syntax::missing_parameter:
        return BadUsage(OptionNameOf(*syntax) + " needs a value");
      case po::invalid_syntax::extra_parameter:
        return BadUsage(OptionNameOf(*syntax) + " takes no value");
      default:
        break;
    }
  }
  return BadUsage(e.what());
}

// Appends `text` wrapped to `width` columns, every line indented by `indent` (the first line by
// `first_indent` more, so it can follow the flag column). '\n' in `text` forces a new line.
void AppendWrapped(std::string& out, std::string_view text, size_t indent, size_t first_column) {
  size_t column = first_column;
  bool line_empty = true;
  auto new_line = [&] {
    out += '\n';
    out.append(indent, ' ');
    column = indent;
    line_empty = true;
  };
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '\n') {
      new_line();
      ++i;
      continue;
    }
    if (text[i] == ' ') {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < text.size() && text[end] != ' ' && text[end] != '\n') ++end;
    const std::string_view word = text.substr(i, end - i);
    if (!line_empty && column + 1 + word.size() > kHelpWidth) new_line();
    if (!line_empty) {
      out += ' ';
      ++column;
    }
    out += word;
    column += word.size();
    line_empty = false;
    i = end;
  }
  out += '\n';
}

}  // namespace

const char* SystemEnv(const char* name) { return std::getenv(name); }
const char* NoEnv(const char*) { return nullptr; }

// ---- Args ----

const Args::Value* Args::Find(std::string_view name) const {
  auto it = values_.find(Bare(name));
  return it == values_.end() ? nullptr : &it->second;
}

bool Args::Has(std::string_view name) const {
  const Value* v = Find(name);
  return v != nullptr && v->source != Source::kDefault;
}

std::optional<Args::Source> Args::SourceOf(std::string_view name) const {
  const Value* v = Find(name);
  if (v == nullptr || v->values.empty()) return std::nullopt;
  return v->source;
}

std::optional<std::string> Args::Get(std::string_view name) const {
  const Value* v = Find(name);
  if (v == nullptr || v->values.empty()) return std::nullopt;
  return v->values.back();
}

std::vector<std::string> Args::GetAll(std::string_view name) const {
  const Value* v = Find(name);
  return v == nullptr ? std::vector<std::string>{} : v->values;
}

bool Args::IsOn(std::string_view name) const {
  const std::optional<std::string> v = Get(name);
  return v.has_value() && ParseSwitch(*v).value_or(false);
}

std::string Args::Label(std::string_view name) const {
  const Value* v = Find(name);
  if (v != nullptr && v->source == Source::kEnvironment) {
    return v->env + " (" + Dashed(Bare(name)) + ")";
  }
  return Dashed(Bare(name));
}

Result<uint64_t> Args::GetUint(std::string_view name, uint64_t min, uint64_t max) const {
  const std::optional<std::string> text = Get(name);
  if (!text) return MakeError(ErrorCode::kNotFound, Label(name) + " has no value");
  uint64_t v = 0;
  const char* end = text->data() + text->size();
  auto [ptr, ec] = std::from_chars(text->data(), end, v);
  if (text->empty() || ec != std::errc() || ptr != end || v < min || v > max) {
    if (min == 0 && max == UINT64_MAX)
      return BadUsage(Label(name) + " must be a non-negative integer");
    return BadUsage(Label(name) + " must be between " + std::to_string(min) + " and " +
                    std::to_string(max));
  }
  return v;
}

// ---- Command ----

Command::Command(std::string program) : program_(std::move(program)) {}

Command& Command::Usage(std::string text) {
  usage_ = std::move(text);
  return *this;
}

Command& Command::Epilogue(std::string text) {
  epilogue_ = std::move(text);
  return *this;
}

Command& Command::Add(Option option) {
  assert(!option.name.empty() && option.name != "help" && option.name != kPositional);
  assert(std::none_of(options_.begin(), options_.end(),
                      [&](const Option& o) { return o.name == option.name; }));
  assert(option.kind != Option::Kind::kFlag || option.env.empty());
  options_.push_back(std::move(option));
  return *this;
}

Command& Command::Positionals(size_t max) {
  max_positionals_ = max;
  return *this;
}

Result<Args> Command::Parse(const std::vector<std::string>& argv, const GetEnv& env) const {
  po::options_description desc;
  for (const Option& o : options_) {
    switch (o.kind) {
      case Option::Kind::kValue:
        desc.add_options()(o.name.c_str(), po::value<std::string>());
        break;
      case Option::Kind::kList:
        desc.add_options()(o.name.c_str(), po::value<std::vector<std::string>>());
        break;
      case Option::Kind::kFlag:
        desc.add_options()(o.name.c_str(), new po::untyped_value(/*zero_tokens=*/true));
        break;
      case Option::Kind::kSwitch:
        desc.add_options()(o.name.c_str(), po::value<std::string>()->implicit_value("true"));
        break;
    }
  }
  desc.add_options()("help,h", new po::untyped_value(/*zero_tokens=*/true));
  desc.add_options()(kPositional, po::value<std::vector<std::string>>());
  po::positional_options_description positional;
  positional.add(kPositional, -1);
  // Program_options' default style less prefix guessing: --col is not --color.
  const int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argv).options(desc).positional(positional).style(style).run(),
              vm);
  } catch (const po::error& e) {
    return Translate(e);
  }

  // Program_options takes the next word as the value even when it is one of our options
  // ("--data-dir --dry-run"): that is a forgotten value, not a directory named "--dry-run".
  auto is_option = [&](const std::string& word) {
    if (word == "-h" || word == "--help") return true;
    if (!word.starts_with("--")) return false;
    const std::string_view name = std::string_view(word).substr(2, word.find('=') - 2);
    return std::any_of(options_.begin(), options_.end(),
                       [&](const Option& o) { return o.name == name; });
  };
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == "--") break;
    if (!argv[i].starts_with("--") || argv[i].find('=') != std::string::npos) continue;
    const std::string_view name = std::string_view(argv[i]).substr(2);
    auto it = std::find_if(options_.begin(), options_.end(),
                           [&](const Option& o) { return o.name == name; });
    if (it == options_.end()) continue;
    if (it->kind == Option::Kind::kValue || it->kind == Option::Kind::kList) {
      if (is_option(argv[i + 1])) return BadUsage(argv[i] + " needs a value");
      ++i;  // the value, whatever it looks like
    }
  }

  Args out;
  out.help_ = vm.count("help") > 0;
  if (vm.count(kPositional)) out.positionals_ = vm[kPositional].as<std::vector<std::string>>();
  for (const Option& o : options_) {
    Args::Value v;
    if (vm.count(o.name)) {
      v.source = Args::Source::kCommandLine;
      switch (o.kind) {
        case Option::Kind::kValue:
        case Option::Kind::kSwitch:
          v.values.push_back(vm[o.name].as<std::string>());
          break;
        case Option::Kind::kList:
          v.values = vm[o.name].as<std::vector<std::string>>();
          break;
        case Option::Kind::kFlag:
          v.values.emplace_back("true");
          break;
      }
    } else if (const char* e = o.env.empty() || !env ? nullptr : env(o.env.c_str());
               e != nullptr && (*e != '\0' || o.kind == Option::Kind::kSwitch)) {
      v.source = Args::Source::kEnvironment;
      v.env = o.env;
      v.values.emplace_back(*e == '\0' ? "true" : e);
    } else if (!o.default_value.empty()) {
      v.values.push_back(o.default_value);
    } else if (o.kind == Option::Kind::kFlag || o.kind == Option::Kind::kSwitch) {
      v.values.emplace_back("false");
    } else {
      continue;
    }
    out.values_.emplace(o.name, std::move(v));
  }
  if (out.help_) return out;

  if (out.positionals_.size() > max_positionals_) {
    return BadUsage("unexpected argument " + out.positionals_[max_positionals_]);
  }
  for (const Option& o : options_) {
    const Args::Value* v = out.Find(o.name);
    if (v == nullptr) {
      if (!o.required) continue;
      return BadUsage(Dashed(o.name) + " is required" +
                      (o.env.empty() ? std::string() : " (or set " + o.env + ")"));
    }
    if (v->source == Args::Source::kDefault) continue;
    for (const std::string& value : v->values) {
      if (o.kind == Option::Kind::kSwitch && !ParseSwitch(value)) {
        return BadUsage(out.Label(o.name) + " must be true or false (or yes/no, on/off, 1/0)");
      }
      if (!o.choices.empty() &&
          std::find(o.choices.begin(), o.choices.end(), value) == o.choices.end()) {
        return BadUsage(out.Label(o.name) + " must be " + OneOf(o.choices));
      }
    }
  }
  return out;
}

std::string Command::Help() const {
  struct Entry {
    std::string flag;
    std::string text;
  };
  std::vector<Entry> entries;
  for (const Option& o : options_) {
    Entry e;
    e.flag = Dashed(o.name);
    if (o.kind == Option::Kind::kValue || o.kind == Option::Kind::kList) {
      e.flag += " " + o.value_name;
    } else if (o.kind == Option::Kind::kSwitch) {
      e.flag += "[=BOOL]";
    }
    e.text = o.help;
    std::vector<std::string> notes;
    if (o.kind == Option::Kind::kList) notes.push_back("repeatable");
    if (!o.default_value.empty()) notes.push_back("default: " + o.default_value);
    if (!o.env.empty()) notes.push_back("env " + o.env);
    if (o.required) notes.emplace_back("required");
    if (!notes.empty()) {
      std::string joined;
      for (const std::string& n : notes) joined += (joined.empty() ? "" : "; ") + n;
      e.text += (e.text.empty() ? "(" : " (") + joined + ")";
    }
    entries.push_back(std::move(e));
  }
  entries.push_back({"-h, --help", "print this help and exit"});

  size_t column = 0;
  for (const Entry& e : entries) {
    if (e.flag.size() <= kMaxFlagColumn) column = std::max(column, e.flag.size());
  }
  column += 4;  // two spaces of indent, two between the flag and its text

  std::string out = usage_;
  if (!out.empty() && !out.ends_with("\n\n")) out += out.ends_with('\n') ? "\n" : "\n\n";
  out += "Options:\n";
  for (const Entry& e : entries) {
    out += "  " + e.flag;
    size_t at = 2 + e.flag.size();
    if (at + 2 > column) {
      out += '\n';
      at = 0;
    }
    out.append(column - at, ' ');
    AppendWrapped(out, e.text, column, column);
  }
  if (!epilogue_.empty()) out += "\n" + epilogue_;
  return out;
}

std::string UsageErrorText(std::string_view program, std::string_view message) {
  std::string out(program);
  out += ": ";
  out += message;
  out += "\nRun '";
  out += program;
  out += " --help' for usage.\n";
  return out;
}

int RunSubcommands(std::string_view program, std::string_view usage, std::string_view epilogue,
                   const std::vector<Subcommand>& subcommands, const std::vector<std::string>& args,
                   std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    err << UsageErrorText(program, "a command is required");
    return ToInt(ExitCode::kUsage);
  }
  const std::string& name = args.front();
  if (name == "help" || name == "-h" || name == "--help") {
    out << usage;
    if (!usage.empty() && !usage.ends_with('\n')) out << '\n';
    out << "\ncommands:\n";
    size_t width = 0;
    for (const Subcommand& s : subcommands) width = std::max(width, s.name.size());
    for (const Subcommand& s : subcommands) {
      std::string line = "  " + s.name;
      line.append(width + 4 - s.name.size(), ' ');
      std::string wrapped;
      AppendWrapped(wrapped, s.summary, width + 6, width + 6);
      out << line << wrapped;
    }
    if (!epilogue.empty()) out << '\n' << epilogue;
    return ToInt(ExitCode::kOk);
  }
  for (const Subcommand& s : subcommands) {
    if (s.name == name) return s.run(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  err << UsageErrorText(program, "unknown command " + name);
  return ToInt(ExitCode::kUsage);
}

}  // namespace keyledger::cli
