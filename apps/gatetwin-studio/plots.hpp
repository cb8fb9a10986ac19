#pragma once
// Small plots drawn with ImGui's draw lists (Debian ships no ImPlot): framed axes with "nice" ticks,
// lines, bars, a horizontal reference line, a legend, and a hover read-out. No state between frames.
#include <optional>
#include <string>
#include <vector>

#include <imgui.h>

namespace gatetwin::studio_ui {

struct Line {
  std::string label;
  std::vector<float> x, y;
  ImU32 colour = 0;
  float thickness = 1.5f;
};

struct Bars {
  std::string label;
  std::vector<float> values;  // bar k covers [x0 + k*width, x0 + (k+1)*width)
  ImU32 colour = 0;
};

struct Axes {
  std::string title, x_label, y_label;
  std::optional<float> x_min, x_max, y_min, y_max;  // unset: from the data (y from 0)
  bool x_is_hour = false;                            // ticks as hh:mm
  bool x_integer = false;                            // ticks on whole numbers (lanes, staff)
  std::vector<std::string> categories;               // bar plots: a label under each bin instead of ticks
  std::optional<float> reference_y;                  // a dashed horizontal line (a target)
  std::string reference_label;
};

// Line plot of `size` at the cursor.
void line_plot(const char* id, ImVec2 size, const Axes& axes, const std::vector<Line>& lines);
// Bars side by side per bin (one series per entry of `series`).
void bar_plot(const char* id, ImVec2 size, const Axes& axes, float x0, float width, const std::vector<Bars>& series);

// Distinct colours for series k (A blue, B orange, then others).
ImU32 series_colour(int k, float alpha = 1.0f);

}  // namespace gatetwin::studio_ui
