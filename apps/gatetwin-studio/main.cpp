// gatetwin-studio: the planner's window over the simulation library (Dear ImGui + GLFW + OpenGL 3).
//   gatetwin-studio [SCENARIO] [--script FILE] [--width W --height H]
// Without a display it fails with a clear message; under Xvfb it runs on Mesa's software OpenGL.
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>
#include <imgui.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "gatetwin/studio/session.hpp"
#include "script.hpp"
#include "window.hpp"

namespace {

// The back buffer as a PNG (called after rendering, before the swap).
bool save_framebuffer(GLFWwindow* window, const std::string& path, std::string* error) {
  int w = 0, h = 0;
  glfwGetFramebufferSize(window, &w, &h);
  cv::Mat rgb(h, w, CV_8UC3);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadBuffer(GL_BACK);
  glReadPixels(0, 0, w, h, GL_RGB, GL_UNSIGNED_BYTE, rgb.data);
  cv::Mat flipped, bgr;
  cv::flip(rgb, flipped, 0);
  cv::cvtColor(flipped, bgr, cv::COLOR_RGB2BGR);
  try {
    if (!cv::imwrite(path, bgr, {cv::IMWRITE_PNG_COMPRESSION, 9})) {
      *error = path + ": cannot write the PNG";
      return false;
    }
  } catch (const cv::Exception& e) {
    *error = path + ": " + e.what();
    return false;
  }
  return true;
}

void glfw_error(int code, const char* what) { std::fprintf(stderr, "gatetwin-studio: GLFW error %d: %s\n", code, what); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gatetwin-studio: size gate capacity and compare policies interactively"};
  std::string scenario, script_file;
  int width = 1600, height = 1000;
  app.add_option("scenario", scenario, "scenario file to open")->check(CLI::ExistingFile);
  app.add_option("--script", script_file, "run a scripted session (docs/studio.md) and exit")->check(CLI::ExistingFile);
  app.add_option("--width", width, "window width")->check(CLI::Range(640, 7680));
  app.add_option("--height", height, "window height")->check(CLI::Range(480, 4320));
  CLI11_PARSE(app, argc, argv);

  std::vector<gatetwin::studio_ui::ScriptLine> lines;
  if (!script_file.empty()) {
    try {
      lines = gatetwin::studio_ui::parse_script(script_file);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "gatetwin-studio: %s\n", e.what());
      return 2;
    }
  }

  glfwSetErrorCallback(glfw_error);
  if (!glfwInit()) {
    std::fprintf(stderr, "gatetwin-studio: no display (set DISPLAY, or run under xvfb-run)\n");
    return 3;
  }
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 0);
  GLFWwindow* window = glfwCreateWindow(width, height, "GateTwin Studio", nullptr, nullptr);
  if (!window) {
    std::fprintf(stderr, "gatetwin-studio: cannot create an OpenGL 3.0 window\n");
    glfwTerminate();
    return 3;
  }
  glfwMakeContextCurrent(window);
  glfwSwapInterval(script_file.empty() ? 1 : 0);

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGui::GetIO().IniFilename = nullptr;  // the layout is the program's, not a file in the working directory
  // A script's screenshots do not depend on where the pointer happens to be (no hover tooltips).
  if (!script_file.empty()) ImGui::GetIO().ConfigFlags |= ImGuiConfigFlags_NoMouse;
  ImGui::StyleColorsDark();
  ImGui::GetStyle().FrameRounding = 3.0f;
  ImGui_ImplGlfw_InitForOpenGL(window, true);
  ImGui_ImplOpenGL3_Init("#version 130");

  int status = 0;
  {
    gatetwin::studio::Session session;
    gatetwin::studio_ui::StudioWindow ui(session);
    if (!scenario.empty()) {
      std::string error;
      if (!session.open(scenario, &error)) {
        std::fprintf(stderr, "%s", error.c_str());
        status = 2;
      }
    }
    std::optional<gatetwin::studio_ui::ScriptRunner> script;
    if (!script_file.empty()) script.emplace(script_file, std::move(lines), session, ui);
    const auto t0 = std::chrono::steady_clock::now();
    std::uint64_t drawn_version = ~0ull;
    int settle = 0;
    while (status == 0 && !glfwWindowShouldClose(window)) {
      // Interactive: sleep until input or a new snapshot (polled at 20 Hz); the simulation runs on the
      // session's worker at its own pace, never on the frame clock.
      const auto snap = session.snapshot();
      if (script || snap->version != drawn_version || snap->job != gatetwin::studio::Job::idle || settle > 0)
        glfwPollEvents();
      else
        glfwWaitEventsTimeout(0.05);
      if (script) {
        const double now = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (!script->step(now)) {
          status = script->exit_code();
          if (status != 0) std::fprintf(stderr, "gatetwin-studio: %s\n", script->error().c_str());
          break;
        }
      }
      const auto frame = session.snapshot();
      settle = frame->version != drawn_version ? 2 : std::max(0, settle - 1);
      drawn_version = frame->version;
      ImGui_ImplOpenGL3_NewFrame();
      ImGui_ImplGlfw_NewFrame();
      ImGui::NewFrame();
      ui.draw(*frame);
      ImGui::Render();
      int fw = 0, fh = 0;
      glfwGetFramebufferSize(window, &fw, &fh);
      glViewport(0, 0, fw, fh);
      glClearColor(0.10f, 0.11f, 0.13f, 1.0f);
      glClear(GL_COLOR_BUFFER_BIT);
      ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
      if (script) script->after_render([&](const std::string& path, std::string* error) { return save_framebuffer(window, path, error); });
      glfwSwapBuffers(window);
    }
  }
  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(window);
  glfwTerminate();
  return status;
}
