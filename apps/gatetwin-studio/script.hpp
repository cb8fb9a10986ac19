#pragma once
// A scripted session, one command per line, for tests, demos and screenshots (docs/studio.md):
//   open PATH | set PATH VALUE | set-b PATH VALUE | unset PATH | ab on|off | capacity TARGET_S MAX_LANES MAX_STAFF
//   live | tab Day|Capacity|A/B|Figures|Live | wait [TIMEOUT_S] | pause SECONDS | screenshot FILE.png | save FILE.yaml | export DIR
//   dump FILE.json | quit
// '#' starts a comment. The window keeps drawing while a command waits. A failing command stops the
// script with "file:line: message" and exit status 2 (a `wait` that times out: 3).
#include <functional>
#include <string>
#include <vector>

#include "gatetwin/studio/session.hpp"
#include "window.hpp"

namespace gatetwin::studio_ui {

struct ScriptLine {
  int number = 0;
  std::vector<std::string> words;
};

// Parses the whole script first: unknown commands and wrong argument counts are reported before anything runs.
// Throws std::runtime_error("file:line: ...").
std::vector<ScriptLine> parse_script(const std::string& path);

class ScriptRunner {
 public:
  ScriptRunner(std::string file, std::vector<ScriptLine> lines, studio::Session& session, StudioWindow& window)
      : file_(std::move(file)), lines_(std::move(lines)), session_(session), window_(window) {}
  // Called once per frame before drawing. Returns false when the script has finished (see exit_code()).
  bool step(double now_s);
  // Called after a frame was rendered, with a function that saves the framebuffer to a PNG.
  void after_render(const std::function<bool(const std::string&, std::string*)>& save_png);
  int exit_code() const { return exit_code_; }
  const std::string& error() const { return error_; }

 private:
  bool fail(int code, const std::string& message);
  std::string file_;
  std::vector<ScriptLine> lines_;
  studio::Session& session_;
  StudioWindow& window_;
  std::size_t next_ = 0;
  double wait_until_ = -1;        // a `wait` in progress: its deadline
  int frames_to_screenshot_ = -1; // frames to draw before the pending screenshot is taken
  std::string screenshot_;
  int exit_code_ = 0;
  std::string error_;
  bool done_ = false;
};

}  // namespace gatetwin::studio_ui
