#include "plots.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace gatetwin::studio_ui {

namespace {

float nice_step(float range, int target_ticks) {
  if (!(range > 0)) return 1.0f;
  const float raw = range / static_cast<float>(target_ticks);
  const float mag = std::pow(10.0f, std::floor(std::log10(raw)));
  const float n = raw / mag;
  return mag * (n < 1.5f ? 1.0f : n < 3.5f ? 2.0f : n < 7.5f ? 5.0f : 10.0f);
}

std::string tick_label(float v, bool hour, float step) {
  char buf[32];
  if (hour) {
    const int minutes = static_cast<int>(std::lround(v * 60.0f));
    std::snprintf(buf, sizeof buf, "%02d:%02d", minutes / 60, minutes % 60);
  } else if (step >= 1.0f || v == 0.0f) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.*f", step >= 0.1f ? 1 : step >= 0.01f ? 2 : 3, v);
  }
  return buf;
}

struct Frame {
  ImVec2 lo, hi;  // the data area in screen coordinates
  float x0, x1, y0, y1;
  ImVec2 map(float x, float y) const {
    const float fx = x1 > x0 ? (x - x0) / (x1 - x0) : 0.5f;
    const float fy = y1 > y0 ? (y - y0) / (y1 - y0) : 0.0f;
    return {lo.x + fx * (hi.x - lo.x), hi.y - fy * (hi.y - lo.y)};
  }
  float unmap_x(float sx) const { return x0 + (sx - lo.x) / (hi.x - lo.x) * (x1 - x0); }
};

// Draws the frame, ticks and labels; returns the data area.
Frame draw_axes(const char* id, ImVec2 size, const Axes& a, float x0, float x1, float y0, float y1) {
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImVec2 p = ImGui::GetCursorScreenPos();
  ImGui::InvisibleButton(id, size);
  const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text);
  const ImU32 grid = ImGui::GetColorU32(ImGuiCol_Border, 0.5f);
  const float line_h = ImGui::GetTextLineHeight();
  Frame f;
  f.lo = {p.x + 52.0f, p.y + line_h + 8.0f};
  f.hi = {p.x + size.x - 10.0f, p.y + size.y - 2.0f * line_h - 6.0f};
  dl->AddRectFilled(p, {p.x + size.x, p.y + size.y}, ImGui::GetColorU32(ImGuiCol_FrameBg, 0.6f), 4.0f);
  dl->AddText({p.x + 8.0f, p.y + 3.0f}, text, a.title.c_str());
  const float ystep = nice_step(y1 - y0, 4);
  y1 = std::max(y1, y0 + ystep);
  y1 = std::ceil(y1 / ystep) * ystep;
  f.x0 = x0;
  f.x1 = x1;
  f.y0 = y0;
  f.y1 = y1;
  for (float y = y0; y <= y1 + ystep * 0.01f; y += ystep) {
    const ImVec2 s = f.map(x0, y);
    dl->AddLine({f.lo.x, s.y}, {f.hi.x, s.y}, grid);
    const std::string t = tick_label(y, false, ystep);
    dl->AddText({f.lo.x - 6.0f - ImGui::CalcTextSize(t.c_str()).x, s.y - line_h * 0.5f}, text, t.c_str());
  }
  const float xstep = a.x_is_hour || a.x_integer ? std::max(1.0f, nice_step(x1 - x0, 6)) : nice_step(x1 - x0, 6);
  for (std::size_t k = 0; k < a.categories.size(); ++k) {  // bins of width 1 from x0
    const ImVec2 s = f.map(x0 + static_cast<float>(k) + 0.5f, y0);
    const char* t = a.categories[k].c_str();
    dl->AddText({s.x - ImGui::CalcTextSize(t).x * 0.5f, f.hi.y + 5.0f}, text, t);
  }
  for (float x = std::ceil(x0 / xstep) * xstep; a.categories.empty() && x <= x1 + xstep * 0.01f; x += xstep) {
    const ImVec2 s = f.map(x, y0);
    dl->AddLine({s.x, f.hi.y}, {s.x, f.hi.y + 4.0f}, text);
    const std::string t = tick_label(x, a.x_is_hour, xstep);
    dl->AddText({s.x - ImGui::CalcTextSize(t.c_str()).x * 0.5f, f.hi.y + 5.0f}, text, t.c_str());
  }
  dl->AddRect(f.lo, f.hi, ImGui::GetColorU32(ImGuiCol_Border));
  const ImVec2 xl = ImGui::CalcTextSize(a.x_label.c_str());
  dl->AddText({(f.lo.x + f.hi.x - xl.x) * 0.5f, f.hi.y + line_h + 6.0f}, text, a.x_label.c_str());
  dl->AddText({p.x + 6.0f, f.hi.y + line_h + 6.0f}, text, a.y_label.c_str());
  if (a.reference_y && *a.reference_y >= y0 && *a.reference_y <= y1) {
    const float sy = f.map(x0, *a.reference_y).y;
    const ImU32 red = IM_COL32(220, 60, 60, 255);
    for (float sx = f.lo.x; sx < f.hi.x; sx += 10.0f) dl->AddLine({sx, sy}, {std::min(sx + 6.0f, f.hi.x), sy}, red, 1.5f);
    dl->AddText({f.hi.x - ImGui::CalcTextSize(a.reference_label.c_str()).x - 4.0f, sy - line_h - 1.0f}, red,
                a.reference_label.c_str());
  }
  return f;
}

void legend(const Frame& f, const std::vector<std::pair<std::string, ImU32>>& entries) {
  ImDrawList* dl = ImGui::GetWindowDrawList();
  float x = f.lo.x + 8.0f;
  const float y = f.lo.y + 4.0f;
  for (const auto& [label, colour] : entries) {
    if (label.empty()) continue;
    dl->AddRectFilled({x, y + 3.0f}, {x + 10.0f, y + 13.0f}, colour);
    dl->AddText({x + 14.0f, y}, ImGui::GetColorU32(ImGuiCol_Text), label.c_str());
    x += 24.0f + ImGui::CalcTextSize(label.c_str()).x;
  }
}

constexpr ImU32 kPalette[] = {IM_COL32(60, 130, 230, 255), IM_COL32(245, 150, 40, 255), IM_COL32(70, 180, 90, 255),
                              IM_COL32(200, 70, 180, 255), IM_COL32(150, 110, 70, 255), IM_COL32(90, 200, 200, 255),
                              IM_COL32(230, 210, 60, 255), IM_COL32(140, 140, 140, 255)};

}  // namespace

ImU32 series_colour(int k, float alpha) {
  ImVec4 c = ImGui::ColorConvertU32ToFloat4(kPalette[static_cast<std::size_t>(k) % std::size(kPalette)]);
  c.w = alpha;
  return ImGui::ColorConvertFloat4ToU32(c);
}

void line_plot(const char* id, ImVec2 size, const Axes& a, const std::vector<Line>& lines) {
  float x0 = INFINITY, x1 = -INFINITY, y1 = 0;
  for (const auto& l : lines)
    for (std::size_t i = 0; i < l.x.size() && i < l.y.size(); ++i) {
      x0 = std::min(x0, l.x[i]);
      x1 = std::max(x1, l.x[i]);
      y1 = std::max(y1, l.y[i]);
    }
  if (!(x0 < x1)) {
    x0 = 0;
    x1 = 1;
  }
  if (a.reference_y) y1 = std::max(y1, *a.reference_y * 1.1f);
  const Frame f = draw_axes(id, size, a, a.x_min.value_or(x0), a.x_max.value_or(x1), a.y_min.value_or(0.0f), a.y_max.value_or(y1));
  ImDrawList* dl = ImGui::GetWindowDrawList();
  dl->PushClipRect(f.lo, f.hi, true);
  std::vector<ImVec2> pts;
  for (const auto& l : lines) {
    pts.clear();
    for (std::size_t i = 0; i < l.x.size() && i < l.y.size(); ++i) pts.push_back(f.map(l.x[i], l.y[i]));
    if (pts.size() >= 2) dl->AddPolyline(pts.data(), static_cast<int>(pts.size()), l.colour, 0, l.thickness);
    if (pts.size() <= 12)
      for (const auto& q : pts) dl->AddCircleFilled(q, 3.0f, l.colour);
  }
  dl->PopClipRect();
  std::vector<std::pair<std::string, ImU32>> entries;
  for (const auto& l : lines) entries.emplace_back(l.label, l.colour);
  if (lines.size() <= 8) legend(f, entries);
  if (ImGui::IsItemHovered() && !lines.empty()) {
    const float mx = f.unmap_x(ImGui::GetIO().MousePos.x);
    ImGui::BeginTooltip();
    ImGui::TextUnformatted(tick_label(mx, a.x_is_hour, 0.01f).c_str());
    for (const auto& l : lines) {
      if (l.x.empty()) continue;
      const auto it = std::lower_bound(l.x.begin(), l.x.end(), mx);
      const std::size_t i = std::min<std::size_t>(static_cast<std::size_t>(it - l.x.begin()), l.x.size() - 1);
      ImGui::Text("%s: %.3g", l.label.c_str(), l.y[i]);
    }
    ImGui::EndTooltip();
  }
}

void bar_plot(const char* id, ImVec2 size, const Axes& a, float x0, float width, const std::vector<Bars>& series) {
  std::size_t n = 0;
  float y1 = 0;
  for (const auto& s : series) {
    n = std::max(n, s.values.size());
    for (float v : s.values) y1 = std::max(y1, v);
  }
  const float xe = x0 + width * static_cast<float>(std::max<std::size_t>(n, 1));
  const Frame f = draw_axes(id, size, a, a.x_min.value_or(x0), a.x_max.value_or(xe), 0.0f, a.y_max.value_or(y1));
  ImDrawList* dl = ImGui::GetWindowDrawList();
  dl->PushClipRect(f.lo, f.hi, true);
  const float k = static_cast<float>(std::max<std::size_t>(series.size(), 1));
  for (std::size_t s = 0; s < series.size(); ++s)
    for (std::size_t i = 0; i < series[s].values.size(); ++i) {
      const float bx = x0 + width * static_cast<float>(i);
      const float l = bx + width * (0.1f + 0.8f * static_cast<float>(s) / k);
      const float r = bx + width * (0.1f + 0.8f * static_cast<float>(s + 1) / k);
      const ImVec2 lo = f.map(l, series[s].values[i]), hi = f.map(r, 0.0f);
      if (series[s].values[i] > 0) dl->AddRectFilled(lo, {std::max(hi.x, lo.x + 1.0f), hi.y}, series[s].colour);
    }
  dl->PopClipRect();
  std::vector<std::pair<std::string, ImU32>> entries;
  for (const auto& s : series) entries.emplace_back(s.label, s.colour);
  legend(f, entries);
  if (ImGui::IsItemHovered() && n > 0) {
    const float mx = f.unmap_x(ImGui::GetIO().MousePos.x);
    const auto i = static_cast<std::size_t>(std::clamp((mx - x0) / width, 0.0f, static_cast<float>(n - 1)));
    ImGui::BeginTooltip();
    const float from = x0 + width * static_cast<float>(i);
    ImGui::Text("%s - %s", tick_label(from, a.x_is_hour, width).c_str(), tick_label(from + width, a.x_is_hour, width).c_str());
    for (const auto& s : series)
      if (i < s.values.size()) ImGui::Text("%s: %.4g", s.label.c_str(), s.values[i]);
    ImGui::EndTooltip();
  }
}

}  // namespace gatetwin::studio_ui
