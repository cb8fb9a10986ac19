#pragma once
// The gate policy as a YAML file (the keys of recognizer::Policy; every key optional, defaults as in
// policy.hpp). Errors name the file, line, column and key, all at once.
#include <filesystem>
#include <stdexcept>

#include "gatetwin/recognizer/policy.hpp"

namespace gatetwin::gatectl {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

recognizer::Policy load_policy(const std::filesystem::path& file);

}  // namespace gatetwin::gatectl
