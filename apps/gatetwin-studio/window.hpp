#pragma once
// The studio's window: draws one frame from a session snapshot and turns the planner's input into
// session commands. Everything it remembers between frames is in StudioWindow's members (no statics).
#include <map>
#include <memory>
#include <string>

#include "gatetwin/studio/session.hpp"

namespace gatetwin::studio_ui {

enum class Tab { day, capacity, ab, figures, live };
const char* to_string(Tab t);

class StudioWindow {
 public:
  explicit StudioWindow(studio::Session& session) : session_(session) {}
  ~StudioWindow();  // frees the live view's textures (the GL context must still be current)
  StudioWindow(const StudioWindow&) = delete;
  StudioWindow& operator=(const StudioWindow&) = delete;
  void draw(const studio::Snapshot& snap);  // the whole viewport
  void select_tab(Tab t) { requested_tab_ = static_cast<int>(t); }
  std::string message;                      // shown in the status line (the last command's result)

 private:
  void draw_toolbar(const studio::Snapshot& snap);
  void draw_editor(const studio::Snapshot& snap);
  void draw_day(const studio::Snapshot& snap);
  void draw_capacity(const studio::Snapshot& snap);
  void draw_ab(const studio::Snapshot& snap);
  void draw_figures(const studio::Snapshot& snap);
  void draw_live(const studio::Snapshot& snap);
  void upload(const studio::LiveView& view);
  void edit(const std::string& path, const std::string& value);

  studio::Session& session_;
  bool edit_b_ = false;           // the editor changes configuration B
  int requested_tab_ = -1;        // a script's tab request, honoured once
  std::string open_path_, save_path_, export_dir_;
  std::string shown_file_;        // the file the open box was last filled from
  std::map<std::string, unsigned> textures_;         // live view: an OpenGL texture per lane
  std::shared_ptr<const studio::LiveView> uploaded_;  // the live view the textures hold
};

}  // namespace gatetwin::studio_ui
