#include "gatetwin/sim/population.hpp"

#include <algorithm>
#include <optional>
#include <cmath>
#include <cstdio>

namespace gatetwin::sim {

using recognizer::Direction;
using recognizer::HealthCode;

std::string_view to_string(PersonKind k) {
  switch (k) {
    case PersonKind::resident: return "resident";
    case PersonKind::visitor: return "visitor";
    case PersonKind::lookalike: return "lookalike";
    case PersonKind::cloned_card: return "cloned_card";
    case PersonKind::revoked_card: return "revoked_card";
  }
  return "?";
}

std::string Person::label() const {
  static constexpr char prefix[] = {'R', 'V', 'L', 'C', 'K'};
  char buf[24];
  std::snprintf(buf, sizeof buf, kind == PersonKind::resident ? "%c%06u" : "%c%04u", prefix[static_cast<int>(kind)], serial);
  return buf;
}

Population::Population(const Scenario& scenario) : scenario_(scenario) {
  const auto& spec = scenario.population;
  std::vector<std::string> compound_names;
  for (const auto& g : scenario.gates) {
    const auto it = std::find(compound_names.begin(), compound_names.end(), g.compound);
    gate_compound_.push_back(static_cast<std::uint16_t>(it - compound_names.begin()));
    if (it == compound_names.end()) compound_names.push_back(g.compound);
  }
  gallery_.resize(compound_names.size());
  RandomStream rng(scenario.seed, "population");
  // Households of 1 + Poisson(mean - 1) persons, capped at 8.
  for (int h = 0; h < spec.households; ++h) {
    household_first_.push_back(static_cast<std::uint32_t>(persons_.size()));
    const auto size = std::min<std::uint32_t>(8, 1 + rng.poisson(spec.persons_per_household - 1.0));
    const std::uint16_t gate = pick_gate(Direction::entry, rng);
    for (std::uint32_t k = 0; k < size; ++k) {
      Person p;
      p.id = static_cast<std::uint32_t>(persons_.size());
      p.serial = p.id + 1;
      p.household = static_cast<std::uint32_t>(h);
      p.home_gate = gate;
      p.compound = gate_compound_[gate];
      persons_.push_back(p);
    }
  }
  household_first_.push_back(static_cast<std::uint32_t>(persons_.size()));
  residents_ = static_cast<std::uint32_t>(persons_.size());

  // Shares are assigned to exact counts over a shuffled order, so a scenario's "90% enrolled" is 90%.
  auto shuffled = [&](RandomStream& r) {
    std::vector<std::uint32_t> order(residents_);
    for (std::uint32_t i = 0; i < residents_; ++i) order[i] = i;
    for (std::uint32_t i = residents_; i > 1; --i) std::swap(order[i - 1], order[r.below(i)]);
    return order;
  };
  auto count_of = [&](double share) { return static_cast<std::uint32_t>(std::llround(share * residents_)); };

  RandomStream enrol_rng(scenario.seed, "population.enrolment");
  const auto enrol_order = shuffled(enrol_rng);
  const std::uint32_t n_enrolled = count_of(spec.face_enrolled_share);
  const std::uint32_t n_refuse = std::min(residents_ - n_enrolled, count_of(spec.refuse_face_share));
  for (std::uint32_t k = 0; k < residents_; ++k) {
    Person& p = persons_[enrol_order[k]];
    p.enrolled = k < n_enrolled;
    p.refuses_face = k >= n_enrolled && k < n_enrolled + n_refuse;
    p.has_card = p.refuses_face || enrol_rng.bernoulli(spec.card_holder_share);
    if (!p.enrolled && !p.refuses_face) p.has_card = p.has_card || enrol_rng.bernoulli(0.5);
  }
  // Privacy (own stream, drawn after the enrolment so that it shifts nobody else's numbers). Those who
  // refused or withdrew are given a card unless privacy.card_access is off (then they go to staff). The
  // compliance counterfactual enrols them all instead, with the cards they hold.
  const auto& privacy = scenario.privacy;
  if (privacy.everyone_uses_face) {
    for (std::uint32_t k = 0; k < residents_; ++k) {
      Person& p = persons_[enrol_order[k]];
      if (!p.refuses_face) continue;
      p.enrolled = true;
      p.refuses_face = false;
      p.has_card = privacy.card_access;
    }
  } else {
    for (std::uint32_t k = 0; k < residents_; ++k) {
      Person& p = persons_[enrol_order[k]];
      if (p.refuses_face && !privacy.card_access) p.has_card = false;
    }
    RandomStream withdraw_rng(scenario.seed, "population.withdrawal");
    std::vector<std::uint32_t> enrolled;
    for (std::uint32_t id = 0; id < residents_; ++id)
      if (persons_[id].enrolled) enrolled.push_back(id);
    const auto n_withdrawn = static_cast<std::uint32_t>(std::llround(spec.withdrawn_share * static_cast<double>(enrolled.size())));
    for (std::uint32_t k = 0; k < n_withdrawn; ++k) {
      std::swap(enrolled[k], enrolled[k + withdraw_rng.below(enrolled.size() - k)]);
      Person& p = persons_[enrolled[k]];
      p.enrolled = false;
      p.withdrew_face = true;
      p.has_card = privacy.card_access;
    }
  }

  RandomStream body_rng(scenario.seed, "population.body");
  const auto fever_order = shuffled(body_rng);
  const std::uint32_t n_febrile = count_of(spec.fever_prevalence);
  for (std::uint32_t k = 0; k < residents_; ++k) draw_body(persons_[fever_order[k]], k < n_febrile, body_rng);

  RandomStream habit_rng(scenario.seed, "population.habits");
  for (auto& p : persons_) draw_habits(p, habit_rng);

  RandomStream q_rng(scenario.seed, "population.quarantine");
  const auto q_order = shuffled(q_rng);
  const auto n_q = std::min<std::uint32_t>(residents_, static_cast<std::uint32_t>(spec.quarantined));
  for (std::uint32_t k = 0; k < n_q; ++k) {
    // Isolation ends on a day in (day_index, day_index + days_max]: everyone drawn is isolated today.
    const double days = std::max(1.0, std::ceil(q_rng.uniform() * spec.quarantine_days_max));
    persons_[q_order[k]].quarantine_until_day = scenario.day_index + static_cast<std::int32_t>(days);
  }

  RandomStream hc_rng(scenario.seed, "population.health_code");
  for (auto& p : persons_) {
    const double u = hc_rng.uniform();
    p.health = u < spec.health_code_red_share ? HealthCode::red
               : u < spec.health_code_red_share + spec.health_code_yellow_share ? HealthCode::yellow
                                                                                 : HealthCode::green;
  }

  for (const auto& p : persons_) {
    (p.quarantined_on(scenario.day_index) ? isolated_residents_ : free_residents_).push_back(p.id);
    if (p.enrolled) {
      enrolled_ids_.push_back(p.id);
      gallery_[p.compound].push_back(p.id);
    }
    if (p.has_card) card_holder_ids_.push_back(p.id);
  }
  enrolled_ = static_cast<std::uint32_t>(enrolled_ids_.size());
}

void Population::draw_body(Person& p, bool febrile, RandomStream& rng) const {
  const auto& t = scenario_.thermal;
  p.febrile = febrile;
  if (febrile) {
    p.core_c = std::max(37.3, rng.normal(t.core_fever_mean_c, t.core_fever_sd_c));
  } else {
    p.core_c = std::min(37.25, rng.normal(t.core_normal_mean_c, t.core_normal_sd_c));
  }
  // Colder air cools the skin more: the gradient grows as the ambient falls below 22 °C.
  const double cold = std::max(0.0, 22.0 - t.ambient_c);
  p.skin_gradient_c = t.skin_gradient_c + t.skin_gradient_per_c * cold + rng.normal(0.0, t.skin_gradient_sd_c);
}

void Population::draw_habits(Person& p, RandomStream& rng) const {
  const auto& spec = scenario_.population;
  const double u = rng.uniform();
  p.mask_habit = u < spec.mask_always_share                              ? MaskHabit::always
                 : u < spec.mask_always_share + spec.mask_never_share ? MaskHabit::never
                                                                       : MaskHabit::sometimes;
  p.carries_mask = rng.bernoulli(spec.carries_mask_share);
}

std::uint32_t Population::add_outsider(PersonKind kind, RandomStream& rng) {
  Person p;
  p.id = static_cast<std::uint32_t>(persons_.size());
  p.kind = kind;
  p.serial = ++outsider_serial_[static_cast<int>(kind)];
  p.household = UINT32_MAX;
  draw_body(p, rng.bernoulli(scenario_.population.fever_prevalence), rng);
  draw_habits(p, rng);
  p.home_gate = pick_gate(Direction::entry, rng);
  p.compound = gate_compound_[p.home_gate];
  if (kind == PersonKind::lookalike && !gallery_[p.compound].empty()) {
    p.impersonates = gallery_[p.compound][rng.below(gallery_[p.compound].size())];
  }
  if (kind == PersonKind::cloned_card || kind == PersonKind::revoked_card) {
    p.has_card = true;
    if (kind == PersonKind::cloned_card && !card_holder_ids_.empty()) {
      p.impersonates = card_holder_ids_[rng.below(card_holder_ids_.size())];
    }
  }
  persons_.push_back(p);
  return p.id;
}

bool Population::gate_serves(std::uint16_t gate, Direction dir) const {
  const auto d = scenario_.gates[gate].direction;
  return d == GateDirection::both || (dir == Direction::entry ? d == GateDirection::entry : d == GateDirection::exit);
}

std::uint16_t Population::pick_gate(Direction dir, RandomStream& rng, std::optional<std::uint16_t> compound) const {
  const auto eligible = [&](std::uint16_t g) {
    return gate_serves(g, dir) && scenario_.gates[g].traffic_share > 0 && (!compound || gate_compound_[g] == *compound);
  };
  double total = 0;
  for (std::uint16_t g = 0; g < scenario_.gates.size(); ++g)
    if (eligible(g)) total += scenario_.gates[g].traffic_share;
  double x = rng.uniform() * total;
  std::uint16_t last = 0;
  for (std::uint16_t g = 0; g < scenario_.gates.size(); ++g) {
    if (!eligible(g)) continue;
    last = g;
    if (x < scenario_.gates[g].traffic_share) return g;
    x -= scenario_.gates[g].traffic_share;
  }
  return last;
}

std::optional<recognizer::Rights> Population::rights(std::uint32_t person_id) const {
  if (person_id >= residents_) return std::nullopt;  // only residents are in the back office's register
  const Person& p = persons_[person_id];
  recognizer::Rights r;
  r.resident = true;
  if (p.quarantine_until_day != INT32_MIN) r.quarantine_until_s = static_cast<std::int64_t>(p.quarantine_until_day) * 86400;
  r.health = p.health;
  r.has_face_template = p.enrolled;
  return r;
}

}  // namespace gatetwin::sim
