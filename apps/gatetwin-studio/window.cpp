#include "window.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <GL/gl.h>
#include <imgui.h>
#include <imgui_stdlib.h>

#include "plots.hpp"

namespace gatetwin::studio_ui {

namespace {

namespace gs = gatetwin::sim;

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string hhmm(gs::SimTime t) {
  const auto m = static_cast<int>(gs::to_seconds(t) / 60.0);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d:%02d", m / 60, m % 60);
  return buf;
}

// Hours of day [from, to) a plot of the day spans: the scenario's open hours.
std::pair<float, float> day_span(const gs::Scenario& s) {
  return {static_cast<float>(std::floor(gs::to_seconds(s.day_start) / 3600.0)),
          static_cast<float>(std::ceil(gs::to_seconds(s.day_end) / 3600.0))};
}

std::vector<float> hours_slice(const std::array<float, 24>& v, int from, int to) {
  return std::vector<float>(v.begin() + from, v.begin() + std::max(from, to));
}

}  // namespace

const char* to_string(Tab t) {
  switch (t) {
    case Tab::day: return "Day";
    case Tab::capacity: return "Capacity";
    case Tab::ab: return "A/B";
    case Tab::figures: return "Figures";
    case Tab::live: return "Live";
  }
  return "?";
}

void StudioWindow::edit(const std::string& path, const std::string& value) {
  if (!session_.set(path, value, edit_b_)) message = "not applied: " + path + " = " + value;
}

void StudioWindow::draw(const studio::Snapshot& snap) {
  const ImGuiViewport* vp = ImGui::GetMainViewport();
  ImGui::SetNextWindowPos(vp->WorkPos);
  ImGui::SetNextWindowSize(vp->WorkSize);
  ImGui::Begin("GateTwin Studio", nullptr,
               ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings |
                   ImGuiWindowFlags_NoBringToFrontOnFocus);
  draw_toolbar(snap);
  ImGui::Separator();
  ImGui::BeginChild("editor", ImVec2(370, 0), true);
  draw_editor(snap);
  ImGui::EndChild();
  ImGui::SameLine();
  ImGui::BeginChild("results", ImVec2(0, 0), false);
  if (ImGui::BeginTabBar("tabs")) {
    for (Tab t : {Tab::day, Tab::capacity, Tab::ab, Tab::figures, Tab::live}) {
      const ImGuiTabItemFlags flags = requested_tab_ == static_cast<int>(t) ? ImGuiTabItemFlags_SetSelected : 0;
      if (ImGui::BeginTabItem(to_string(t), nullptr, flags)) {
        switch (t) {
          case Tab::day: draw_day(snap); break;
          case Tab::capacity: draw_capacity(snap); break;
          case Tab::ab: draw_ab(snap); break;
          case Tab::figures: draw_figures(snap); break;
          case Tab::live: draw_live(snap); break;
        }
        ImGui::EndTabItem();
      }
    }
    requested_tab_ = -1;
    ImGui::EndTabBar();
  }
  ImGui::EndChild();
  ImGui::End();
}

void StudioWindow::draw_toolbar(const studio::Snapshot& snap) {
  if (snap.file != shown_file_) open_path_ = shown_file_ = snap.file;  // the box follows what is open
  // A path box and its button; the command's result goes to the status line.
  const auto path_action = [&](const char* id, const char* hint, float width, const char* button, std::string& path,
                               bool (studio::Session::*command)(const std::string&, std::string*), const char* done) {
    ImGui::SetNextItemWidth(width);
    ImGui::InputTextWithHint(id, hint, &path);
    ImGui::SameLine();
    if (ImGui::Button(button)) {
      std::string error;
      message = (session_.*command)(path, &error) ? done + path : error;
    }
  };
  path_action("##open", "scenarios/jiaochangkou.yaml", 320, "Open", open_path_, &studio::Session::open, "opened ");
  ImGui::SameLine();
  path_action("##save", "save as .yaml", 240, "Save", save_path_, &studio::Session::save, "saved ");
  ImGui::SameLine();
  path_action("##export", "report directory", 200, "Export report", export_dir_, &studio::Session::export_report, "report written to ");
  ImGui::SameLine();
  bool ab = snap.b.has_value();
  if (ImGui::Checkbox("A/B", &ab)) {
    session_.enable_b(ab);
    if (!ab) edit_b_ = false;
  }

  // Status line: what the worker does, for which file.
  if (snap.file.empty()) {
    ImGui::TextUnformatted("No scenario open: type a path and press Open.");
  } else {
    const auto& a = *snap.a;
    ImGui::Text("%s  (%s, seed %llu, %s)%s", snap.file.c_str(), a.name.c_str(), static_cast<unsigned long long>(a.seed),
                a.fidelity.c_str(), snap.dirty ? "  [edited]" : "");
  }
  ImGui::SameLine(ImGui::GetWindowWidth() - 470);
  const std::string status = snap.job == studio::Job::idle ? (snap.stale ? "queued" : "up to date")
                                                             : studio::to_string(snap.job);
  ImGui::SetNextItemWidth(200);
  ImGui::ProgressBar(snap.job == studio::Job::idle ? (snap.stale ? 0.0f : 1.0f) : static_cast<float>(snap.progress),
                     ImVec2(200, 0), status.c_str());
  ImGui::SameLine();
  if (snap.run_a)
    ImGui::Text("%llu runs; last day in %.0f ms", static_cast<unsigned long long>(snap.runs_done), snap.run_a->wall_ms);
  if (!message.empty()) ImGui::TextColored(ImVec4(0.9f, 0.8f, 0.3f, 1.0f), "%s", message.c_str());
}

void StudioWindow::draw_editor(const studio::Snapshot& snap) {
  if (!snap.a) {
    ImGui::TextWrapped("Open a scenario to edit it.");
    return;
  }
  if (snap.b) {
    ImGui::TextUnformatted("Editing:");
    ImGui::SameLine();
    if (ImGui::RadioButton("A", !edit_b_)) edit_b_ = false;
    ImGui::SameLine();
    if (ImGui::RadioButton("B", edit_b_)) edit_b_ = true;
  }
  const gs::Scenario& s = edit_b_ && snap.b ? *snap.b : *snap.a;
  ImGui::PushItemWidth(150);

  if (ImGui::CollapsingHeader("Gates and staff", ImGuiTreeNodeFlags_DefaultOpen)) {
    for (std::size_t g = 0; g < s.gates.size(); ++g) {
      ImGui::PushID(static_cast<int>(g));
      const std::string base = "gates[" + std::to_string(g) + "].";
      ImGui::Text("%s%s%s", s.gates[g].name.c_str(), s.gates[g].compound.empty() ? "" : " / ",
                  s.gates[g].compound.c_str());
      int lanes = s.gates[g].lanes, staff = s.gates[g].staff;
      if (ImGui::SliderInt("lanes", &lanes, 1, 12)) edit(base + "lanes", std::to_string(lanes));
      if (ImGui::SliderInt("staff on duty", &staff, 0, 8)) edit(base + "staff", std::to_string(staff));
      ImGui::PopID();
    }
  }
  if (ImGui::CollapsingHeader("Population", ImGuiTreeNodeFlags_DefaultOpen)) {
    int households = s.population.households;
    if (ImGui::InputInt("households", &households, 50, 500, ImGuiInputTextFlags_EnterReturnsTrue))
      edit("population.households", std::to_string(std::max(1, households)));
    const auto share = [&](const char* label, const char* path, double v) {
      float pct = static_cast<float>(v * 100.0);
      if (ImGui::SliderFloat(label, &pct, 0.0f, 100.0f, "%.1f %%")) edit(path, num(pct / 100.0));
    };
    share("face enrolled", "population.face_enrolled_share", s.population.face_enrolled_share);
    share("refuse face", "population.refuse_face_share", s.population.refuse_face_share);
    share("card holders", "population.card_holder_share", s.population.card_holder_share);
    share("mask always", "population.mask_always_share", s.population.mask_always_share);
    share("mask never", "population.mask_never_share", s.population.mask_never_share);
    float fever = static_cast<float>(s.population.fever_prevalence * 100.0);
    if (ImGui::SliderFloat("febrile", &fever, 0.0f, 5.0f, "%.2f %%")) edit("population.fever_prevalence", num(fever / 100.0));
    float visitors = static_cast<float>(s.population.visitors_per_day);
    if (ImGui::SliderFloat("visitors/day", &visitors, 0.0f, 500.0f, "%.0f"))
      edit("population.visitors_per_day", num(std::round(visitors)));
  }
  if (ImGui::CollapsingHeader("Arrivals", ImGuiTreeNodeFlags_DefaultOpen)) {
    const char* profiles[] = {"weekday", "weekend", "flat"};
    int current = -1;
    for (int k = 0; k < 3; ++k)
      if (s.arrivals.profile == profiles[k]) current = k;
    if (ImGui::Combo("profile", &current, profiles, 3)) edit("arrivals.profile", profiles[current]);
    float trips = static_cast<float>(s.arrivals.trips_per_resident);
    if (ImGui::SliderFloat("trips/resident", &trips, 0.5f, 6.0f, "%.1f")) edit("arrivals.trips_per_resident", num(trips));
    float group = static_cast<float>(s.arrivals.group_size_mean);
    if (ImGui::SliderFloat("group size", &group, 1.0f, 3.0f, "%.2f")) edit("arrivals.group_size_mean", num(group));
  }
  if (ImGui::CollapsingHeader("Policy", ImGuiTreeNodeFlags_DefaultOpen)) {
    const auto& p = s.policy;
    float fever = static_cast<float>(p.fever_threshold_c);
    if (ImGui::SliderFloat("fever threshold", &fever, 36.5f, 38.5f, "%.1f C")) edit("policy.fever_threshold", fmt("%.1f", fever));
    float tu = static_cast<float>(p.threshold_unmasked), tm = static_cast<float>(p.threshold_masked);
    if (ImGui::SliderFloat("match (unmasked)", &tu, 0.3f, 0.9f, "%.2f")) edit("policy.threshold_unmasked", fmt("%.2f", tu));
    if (ImGui::SliderFloat("match (masked)", &tm, 0.3f, 0.9f, "%.2f")) edit("policy.threshold_masked", fmt("%.2f", tm));
    const char* masks[] = {"off", "remind", "require"};
    int mask = static_cast<int>(p.mask);
    if (ImGui::Combo("mask", &mask, masks, 3)) edit("policy.mask", masks[mask]);
    const char* modes[] = {"before", "after", "only", "off"};
    int mode = static_cast<int>(p.temperature_mode);
    if (ImGui::Combo("temperature", &mode, modes, 4)) edit("policy.temperature_mode", modes[mode]);
    int attempts = p.max_face_attempts;
    if (ImGui::SliderInt("face attempts", &attempts, 1, 5)) edit("policy.max_face_attempts", std::to_string(attempts));
    bool card = p.card_allowed, card_face = p.card_requires_face, remeasure = p.remeasure_on_alarm;
    if (ImGui::Checkbox("cards accepted", &card)) edit("policy.card_allowed", card ? "true" : "false");
    if (ImGui::Checkbox("card needs face 1:1", &card_face)) edit("policy.card_requires_face", card_face ? "true" : "false");
    if (ImGui::Checkbox("re-measure on alarm", &remeasure)) edit("policy.remeasure_on_alarm", remeasure ? "true" : "false");
  }
  if (ImGui::CollapsingHeader("Run")) {
    const char* fidelities[] = {"statistical", "pixel", "hil"};
    int fid = 0;
    for (int k = 0; k < 3; ++k)
      if (s.fidelity == fidelities[k]) fid = k;
    if (ImGui::Combo("fidelity", &fid, fidelities, 3)) edit("fidelity", fidelities[fid]);
    ImGui::TextDisabled("plots: statistical; pixel/hil run on the Live tab");
    int seed = static_cast<int>(s.seed % 2000000000u);
    if (ImGui::InputInt("seed", &seed, 1, 100, ImGuiInputTextFlags_EnterReturnsTrue)) edit("seed", std::to_string(std::max(0, seed)));
  }
  ImGui::PopItemWidth();

  const auto& edits = edit_b_ ? snap.edits_b : snap.edits_a;
  if (!edits.empty()) {
    ImGui::Separator();
    ImGui::Text("Edits to %s (click to undo):", edit_b_ ? "B" : "A");
    for (const auto& [path, value] : edits) {
      const std::string label = path + " = " + value;
      if (ImGui::SmallButton(label.c_str())) {
        session_.unset(path, edit_b_);
        break;  // the map changed under the loop
      }
    }
  }
  for (const auto& e : snap.errors) ImGui::TextColored(ImVec4(1.0f, 0.4f, 0.4f, 1.0f), "%s", e.c_str());
}

void StudioWindow::draw_day(const studio::Snapshot& snap) {
  if (!snap.run_a) {
    ImGui::TextUnformatted(snap.file.empty() ? "No scenario open." : "Running the first day...");
    return;
  }
  const studio::RunView& a = *snap.run_a;
  const studio::RunView* b = snap.run_b.get();
  const auto [h0, h1] = day_span(a.scenario);
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float w = (avail.x - ImGui::GetStyle().ItemSpacing.x) * 0.5f;
  const float h = std::max(150.0f, (avail.y - 2.0f * ImGui::GetStyle().ItemSpacing.y) / 3.0f);

  // Queue length per lane over the day (A; with B, the longest lane of each).
  std::vector<Line> lines;
  if (!b) {
    for (std::size_t l = 0; l < a.lane_queue.size() && l < 24; ++l)
      lines.push_back({a.lane_names[l], a.minute_h, a.lane_queue[l], series_colour(static_cast<int>(l)), 1.2f});
  } else {
    for (const auto* run : {&a, b}) {
      std::vector<float> longest(run->minute_h.size(), 0.0f);
      for (const auto& lane : run->lane_queue)
        for (std::size_t i = 0; i < lane.size() && i < longest.size(); ++i) longest[i] = std::max(longest[i], lane[i]);
      lines.push_back({run == &a ? "A: longest lane" : "B: longest lane", run->minute_h, longest,
                       series_colour(run == &a ? 0 : 1), 1.5f});
    }
  }
  line_plot("queue", ImVec2(w, h), {.title = "Queue length per lane (longest in each minute)", .x_label = "time of day",
                                    .y_label = "persons", .x_min = h0, .x_max = h1, .x_is_hour = true}, lines);
  ImGui::SameLine();
  std::vector<Bars> waits{{"A", a.wait_hist, series_colour(0)}};
  float bin = a.wait_bin_s;
  if (b) {
    // Both on A's bins (B re-binned) so the bars line up.
    std::vector<float> rb(a.wait_hist.size(), 0.0f);
    for (std::size_t i = 0; i < b->wait_hist.size(); ++i) {
      const auto k = static_cast<std::size_t>((static_cast<float>(i) + 0.5f) * b->wait_bin_s / bin);
      rb[std::min(k, rb.size() - 1)] += b->wait_hist[i];
    }
    waits.push_back({"B", rb, series_colour(1)});
  }
  const gs::Summary& ws = a.metrics.wait_s;
  bar_plot("waits", ImVec2(w, h),
           {.title = "Waiting time: P50 " + fmt("%.1f", ws.p50) + " s, P95 " + fmt("%.1f", ws.p95) + " s, max " + fmt("%.1f", ws.max) + " s",
            .x_label = "wait (s)", .y_label = "passages"},
           0.0f, bin, waits);

  const int from = static_cast<int>(h0), to = static_cast<int>(h1);
  std::vector<Bars> through{{"A", hours_slice(a.throughput_per_hour, from, to), series_colour(0)}};
  if (b) through.push_back({"B", hours_slice(b->throughput_per_hour, from, to), series_colour(1)});
  bar_plot("throughput", ImVec2(w, h), {.title = "Throughput per hour (all gates)", .x_label = "hour", .y_label = "passages",
                                        .x_is_hour = true},
           static_cast<float>(from), 1.0f, through);
  ImGui::SameLine();
  std::vector<Bars> staff{{"A", hours_slice(a.staff_per_hour, from, to), series_colour(0)}};
  if (b) staff.push_back({"B", hours_slice(b->staff_per_hour, from, to), series_colour(1)});
  bar_plot("staff", ImVec2(w, h),
           {.title = "Staff load: referrals per hour (" + fmt("%.1f", a.metrics.staff_interventions_per_hour) + "/h per gate)",
            .x_label = "hour", .y_label = "referrals", .x_is_hour = true},
           static_cast<float>(from), 1.0f, staff);

  std::vector<Bars> fever{{"A", hours_slice(a.fever_alarms_per_hour, from, to), series_colour(0)}};
  if (b) fever.push_back({"B", hours_slice(b->fever_alarms_per_hour, from, to), series_colour(1)});
  bar_plot("fever", ImVec2(w, h),
           {.title = "Fever alarms per hour (sensitivity " + fmt("%.1f", 100 * a.metrics.fever_sensitivity.value()) +
                         " %, false alarms " + fmt("%.2f", 100 * a.metrics.fever_false_alarm.value()) + " %)",
            .x_label = "hour", .y_label = "alarms", .x_is_hour = true},
           static_cast<float>(from), 1.0f, fever);
  ImGui::SameLine();
  const auto rates = [](const gs::Metrics& m) {
    return std::vector<float>{static_cast<float>(100 * m.far.value()), static_cast<float>(100 * m.frr.value()),
                              static_cast<float>(100 * m.fta.value())};
  };
  std::vector<Bars> rb{{"A", rates(a.metrics), series_colour(0)}};
  if (b) rb.push_back({"B", rates(b->metrics), series_colour(1)});
  bar_plot("rates", ImVec2(w, h),
           {.title = "FAR " + fmt("%.2f", 100 * a.metrics.far.value()) + " %  FRR " + fmt("%.2f", 100 * a.metrics.frr.value()) +
                         " %  FTA " + fmt("%.2f", 100 * a.metrics.fta.value()) + " %",
            .x_label = "decision-level rates", .y_label = "%", .categories = {"FAR", "FRR", "FTA"}},
           0.0f, 1.0f, rb);
}

void StudioWindow::draw_capacity(const studio::Snapshot& snap) {
  // The query shown is the session's; an edit is sent as a command.
  float target = static_cast<float>(snap.capacity_query.target_p95_wait_s);
  int max_lanes = snap.capacity_query.max_lanes, max_staff = snap.capacity_query.max_staff;
  ImGui::PushItemWidth(120);
  bool changed = ImGui::InputFloat("P95 wait target at the peak (s)", &target, 5.0f, 30.0f, "%.0f");
  ImGui::SameLine();
  changed |= ImGui::SliderInt("max lanes", &max_lanes, 1, 12);
  ImGui::SameLine();
  changed |= ImGui::SliderInt("max staff", &max_staff, 1, 6);
  ImGui::PopItemWidth();
  if (changed)
    session_.set_capacity_query({.target_p95_wait_s = std::max(1.0f, target), .max_lanes = max_lanes, .max_staff = max_staff});
  if (!snap.capacity) {
    ImGui::TextUnformatted(snap.job == studio::Job::capacity ? "Sizing..." : "No capacity results yet.");
    return;
  }
  const gs::CapacityResult& c = *snap.capacity;
  if (c.smallest)
    ImGui::Text("Smallest: %d lane(s) and %d staff per gate keep the worst gate's peak-hour P95 wait at %.1f s (target %.0f s).",
                c.smallest->lanes, c.smallest->staff, c.smallest->peak_p95_wait_s, c.query.target_p95_wait_s);
  else
    ImGui::TextColored(ImVec4(1.0f, 0.5f, 0.4f, 1.0f), "No configuration up to %d lanes and %d staff meets the %.0f s target.",
                       c.query.max_lanes, c.query.max_staff, c.query.target_p95_wait_s);
  std::vector<Line> lines;
  for (int staff = 1; staff <= c.query.max_staff; ++staff) {
    Line l{std::to_string(staff) + " staff", {}, {}, series_colour(staff - 1), 2.0f};
    for (const auto& p : c.curve)
      if (p.staff == staff) {
        l.x.push_back(static_cast<float>(p.lanes));
        l.y.push_back(static_cast<float>(std::min(p.peak_p95_wait_s, 10.0 * c.query.target_p95_wait_s)));
      }
    lines.push_back(std::move(l));
  }
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  line_plot("capacity", ImVec2(avail.x * 0.62f, std::max(250.0f, avail.y - 10.0f)),
            {.title = "Peak-hour P95 wait (lane + staff queue) at the worst gate, by lanes per gate (clipped at 10x the target)", .x_label = "lanes per gate",
             .y_label = "P95 wait (s)", .x_min = 0.5f, .x_max = static_cast<float>(c.query.max_lanes) + 0.5f, .x_integer = true,
             .reference_y = static_cast<float>(c.query.target_p95_wait_s), .reference_label = "target"},
            lines);
  ImGui::SameLine();
  ImGui::BeginChild("gates");
  ImGui::Text("Per gate at %d staff:", c.smallest ? c.smallest->staff : c.query.max_staff);
  if (ImGui::BeginTable("gate_lanes", 3, ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg)) {
    ImGui::TableSetupColumn("gate");
    ImGui::TableSetupColumn("lanes needed");
    ImGui::TableSetupColumn("now");
    ImGui::TableHeadersRow();
    for (std::size_t g = 0; g < c.gates.size(); ++g) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(c.gates[g].c_str());
      ImGui::TableNextColumn();
      if (c.gate_lanes[g]) ImGui::Text("%d", *c.gate_lanes[g]);
      else ImGui::Text("> %d", c.query.max_lanes);
      ImGui::TableNextColumn();
      if (snap.a && g < snap.a->gates.size()) ImGui::Text("%d", snap.a->gates[g].lanes);
    }
    ImGui::EndTable();
  }
  ImGui::EndChild();
}

void StudioWindow::draw_ab(const studio::Snapshot& snap) {
  if (!snap.b) {
    ImGui::TextWrapped("Tick A/B in the toolbar: B starts as a copy of A; pick B in the editor and change it. Both run with "
                       "the same seed, so the same residents arrive at the same moments (common random numbers) and every "
                       "difference below is the change's.");
    return;
  }
  if (snap.deltas.empty()) {
    ImGui::TextUnformatted("Running A and B...");
    return;
  }
  ImGui::TextUnformatted("B's edits on top of A:");
  for (const auto& [k, v] : snap.edits_b) {
    ImGui::SameLine();
    ImGui::Text("%s = %s;", k.c_str(), v.c_str());
  }
  if (ImGui::BeginTable("deltas", 5, ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingFixedFit)) {
    for (const char* h : {"figure", "A", "B", "B - A", "change"}) ImGui::TableSetupColumn(h);
    ImGui::TableHeadersRow();
    for (const auto& d : snap.deltas) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::Text("%s%s%s%s", d.name.c_str(), d.unit.empty() ? "" : " (", d.unit.c_str(), d.unit.empty() ? "" : ")");
      ImGui::TableNextColumn();
      ImGui::Text("%.4g", d.a);
      ImGui::TableNextColumn();
      ImGui::Text("%.4g", d.b);
      ImGui::TableNextColumn();
      const double diff = d.b - d.a;
      const ImVec4 colour = diff == 0 ? ImGui::GetStyleColorVec4(ImGuiCol_Text)
                                      : ImVec4(diff > 0 ? 0.95f : 0.4f, diff > 0 ? 0.6f : 0.85f, 0.35f, 1.0f);
      ImGui::TextColored(colour, "%+.4g", diff);
      ImGui::TableNextColumn();
      if (d.a != 0) ImGui::Text("%+.1f %%", 100.0 * diff / std::abs(d.a));
    }
    ImGui::EndTable();
  }
  if (snap.passages) {
    const gs::RunComparison& c = *snap.passages;
    ImGui::Text("Passage by passage: %llu matched, %llu changed decision or reason%s",
                static_cast<unsigned long long>(c.matched), static_cast<unsigned long long>(c.changes.size()),
                c.same_arrivals() ? "" : " (arrivals differ: a population or arrival edit)");
    for (const auto& [t, n] : c.transitions) ImGui::BulletText("%llu  %s", static_cast<unsigned long long>(n), t.c_str());
  }
}

void StudioWindow::draw_figures(const studio::Snapshot& snap) {
  if (!snap.run_a) return;
  const auto show = [](const char* id, const studio::RunView& r) {
    const gs::Metrics& m = r.metrics;
    if (!ImGui::BeginTable(id, 2, ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingFixedFit)) return;
    const auto row = [](const char* k, const std::string& v) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(k);
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(v.c_str());
    };
    const auto rate = [](const gs::Rate& x) {
      return fmt("%.3f %%", 100 * x.value()) + " (" + std::to_string(x.hits) + "/" + std::to_string(x.trials) + ")";
    };
    row("residents / enrolled", std::to_string(m.residents) + " / " + std::to_string(m.enrolled));
    row("passages", std::to_string(m.passages) + " (granted " + std::to_string(m.granted) + ", denied " +
                        std::to_string(m.denied) + ", tailgated " + std::to_string(m.tailgated) + ")");
    row("FAR", rate(m.far));
    row("FRR", rate(m.frr));
    row("FTA", rate(m.fta));
    row("fever sensitivity", rate(m.fever_sensitivity));
    row("fever false alarms", rate(m.fever_false_alarm));
    row("unauthorised entries", std::to_string(m.unauthorised_entries));
    row("wait mean / P95 / max", fmt("%.1f", m.wait_s.mean) + " / " + fmt("%.1f", m.wait_s.p95) + " / " + fmt("%.1f", m.wait_s.max) + " s");
    row("longest queue", std::to_string(m.max_queue));
    row("staff interventions", std::to_string(m.staff_interventions) + " (" + fmt("%.1f", m.staff_interventions_per_hour) + "/h per gate)");
    for (const auto& [k, v] : m.credential_mix) row(("through by " + k).c_str(), fmt("%.1f %%", 100 * v));
    for (const auto& g : m.gates)
      row(("gate " + g.name).c_str(), std::to_string(g.lanes) + " lane(s), peak " + std::to_string(g.peak_hour) + ":00, P95 " +
                                          fmt("%.1f", g.peak_hour_wait_s.p95) + " s, longest queue " + std::to_string(g.max_queue));
    for (const auto& e : m.expectations)
      row(("expect " + e.name).c_str(), std::string(e.passed ? "PASS " : "FAIL ") + fmt("%.4g", e.actual) + " (limit " + fmt("%.4g", e.limit) + ")");
    row("day", hhmm(r.scenario.day_start) + " - " + hhmm(r.scenario.day_end));
    ImGui::EndTable();
  };
  ImGui::BeginGroup();
  ImGui::TextUnformatted("A");
  show("figures_a", *snap.run_a);
  ImGui::EndGroup();
  if (snap.run_b) {
    ImGui::SameLine();
    ImGui::BeginGroup();
    ImGui::TextUnformatted("B");
    show("figures_b", *snap.run_b);
    ImGui::EndGroup();
  }
}

StudioWindow::~StudioWindow() {
  for (auto& [lane, tex] : textures_) glDeleteTextures(1, &tex);
}

void StudioWindow::upload(const studio::LiveView& view) {
  for (const auto& lane : view.lanes) {
    if (lane.image.empty()) continue;
    auto [it, fresh] = textures_.try_emplace(lane.name, 0u);
    if (fresh) {
      glGenTextures(1, &it->second);
      glBindTexture(GL_TEXTURE_2D, it->second);
      glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
      glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_LINEAR);
    }
    glBindTexture(GL_TEXTURE_2D, it->second);
    glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
    const cv::Mat& img = lane.image.isContinuous() ? lane.image : lane.image.clone();
    glTexImage2D(GL_TEXTURE_2D, 0, GL_RGB, img.cols, img.rows, 0, GL_RGB, GL_UNSIGNED_BYTE, img.data);
  }
}

void StudioWindow::draw_live(const studio::Snapshot& snap) {
  if (!snap.a) return;
  const bool can = snap.a->fidelity == "pixel" || snap.a->fidelity == "hil";
  if (!can) {
    ImGui::TextWrapped("A live run renders the residents at the lanes: set the fidelity to pixel (the real core in this "
                       "process) or hil (gatectl over the emulated devices, in real time) in the editor's Run section, or "
                       "open scenarios/pixel/calibration-small.yaml or scenarios/hil/regression.yaml.");
  } else {
    const bool running = snap.job == studio::Job::live;
    if (running) ImGui::BeginDisabled();
    if (ImGui::Button(snap.a->fidelity == "hil" ? "Run live (HIL, real time)" : "Run live (pixel)")) {
      std::string error;
      if (!session_.run_live(&error)) message = error;
    }
    if (running) ImGui::EndDisabled();
  }
  if (!snap.live) return;
  const studio::LiveView& v = *snap.live;
  if (snap.live != uploaded_) {
    upload(v);
    uploaded_ = snap.live;
  }
  ImGui::SameLine();
  ImGui::Text("%s run %s at %s: %llu decisions%s", v.fidelity.c_str(), v.running ? "running" : "finished", v.sim_time.c_str(),
              static_cast<unsigned long long>(v.decisions),
              v.fidelity == "hil" ? (", " + std::to_string(v.gatectl_events) + " gatectl events").c_str() : "");
  if (!v.error.empty()) ImGui::TextColored(ImVec4(1.0f, 0.4f, 0.4f, 1.0f), "%s", v.error.c_str());

  // The lanes: the camera's latest frame, the faces found (the deciding one green), gatectl's face (cyan), the door.
  const float avail = ImGui::GetContentRegionAvail().x;
  const int per_row = std::max(1, static_cast<int>(avail / 400.0f));
  int k = 0;
  for (const auto& lane : v.lanes) {
    if (k++ % per_row != 0) ImGui::SameLine();
    ImGui::BeginGroup();
    ImGui::Text("%s", lane.name.c_str());
    ImGui::SameLine();
    ImGui::TextColored(lane.door_open ? ImVec4(0.3f, 0.9f, 0.4f, 1.0f) : ImVec4(0.6f, 0.6f, 0.6f, 1.0f), "%s",
                       lane.door_open ? "door OPEN" : "door locked");
    const auto it = textures_.find(lane.name);
    const float w = 384.0f;
    if (it != textures_.end() && !lane.image.empty()) {
      const float h = w * static_cast<float>(lane.image.rows) / static_cast<float>(lane.image.cols);
      const float k_img = w / static_cast<float>(lane.image.cols);
      const ImVec2 p = ImGui::GetCursorScreenPos();
      ImGui::Image(reinterpret_cast<ImTextureID>(static_cast<std::intptr_t>(it->second)), ImVec2(w, h));
      ImDrawList* dl = ImGui::GetWindowDrawList();
      const auto rect = [&](const cv::Rect2f& b, ImU32 colour, float thick) {
        dl->AddRect({p.x + b.x * k_img, p.y + b.y * k_img}, {p.x + (b.x + b.width) * k_img, p.y + (b.y + b.height) * k_img}, colour, 0.0f, 0, thick);
      };
      for (const auto& f : lane.faces) rect(f.box, f.deciding ? IM_COL32(60, 230, 90, 255) : IM_COL32(240, 210, 60, 255), f.deciding ? 2.5f : 1.5f);
      if (lane.gatectl_box) rect(*lane.gatectl_box, IM_COL32(40, 220, 240, 255), 2.0f);
      ImGui::TextUnformatted(lane.caption.c_str());
      if (!lane.gatectl_said.empty()) ImGui::TextColored(ImVec4(0.2f, 0.85f, 0.95f, 1.0f), "gatectl: %s", lane.gatectl_said.c_str());
    } else {
      ImGui::Dummy(ImVec2(w, w * 0.75f));
      ImGui::TextDisabled("no frame yet");
    }
    ImGui::EndGroup();
  }

  // The event log, newest first.
  ImGui::Separator();
  if (ImGui::BeginTable("live_events", 8, ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_ScrollY |
                                              ImGuiTableFlags_SizingFixedFit,
                        ImVec2(0, std::max(120.0f, ImGui::GetContentRegionAvail().y)))) {
    for (const char* h : {"time", "lane", "passage", "person", "from", "credential", "decision", "reason / temperature"})
      ImGui::TableSetupColumn(h);
    ImGui::TableSetupScrollFreeze(0, 1);
    ImGui::TableHeadersRow();
    for (auto e = v.events.rbegin(); e != v.events.rend(); ++e) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(gs::format_clock(e->t).substr(0, 12).c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(e->lane.c_str());
      ImGui::TableNextColumn();
      ImGui::Text("%llu", static_cast<unsigned long long>(e->passage));
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(e->person.c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(e->from_gatectl ? "gatectl" : "outcome");
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(e->credential.c_str());
      ImGui::TableNextColumn();
      const ImVec4 c = e->decision == "grant" ? ImVec4(0.4f, 0.9f, 0.5f, 1.0f)
                       : e->decision == "deny" ? ImVec4(1.0f, 0.45f, 0.4f, 1.0f)
                                               : ImGui::GetStyleColorVec4(ImGuiCol_Text);
      ImGui::TextColored(c, "%s", e->decision.c_str());
      ImGui::TableNextColumn();
      if (e->temperature_c) ImGui::Text("%s  %.1f C", e->reason.c_str(), *e->temperature_c);
      else ImGui::TextUnformatted(e->reason.c_str());
    }
    ImGui::EndTable();
  }
}

}  // namespace gatetwin::studio_ui
