#pragma once
// The synthetic population: residents generated from the scenario's shares, and the outsiders (visitors,
// look-alikes, card cloners, holders of revoked cards) created as they arrive. Everyone is synthetic.
// Also the back office's rights directory over it, which the policy engine consults.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gatetwin/recognizer/policy.hpp"
#include "gatetwin/sim/random.hpp"
#include "gatetwin/sim/scenario.hpp"

namespace gatetwin::sim {

enum class PersonKind : std::uint8_t { resident, visitor, lookalike, cloned_card, revoked_card };
enum class MaskHabit : std::uint8_t { always, sometimes, never };
std::string_view to_string(PersonKind k);

struct Person {
  std::uint32_t id = 0;          // index into Population::persons()
  std::uint32_t serial = 0;      // number within its kind, for the printed id (R000001, V0001 ...)
  PersonKind kind = PersonKind::resident;
  std::uint32_t household = 0;
  bool enrolled = false;         // face template in the gallery
  bool refuses_face = false;     // refused enrolment: card access only
  bool withdrew_face = false;    // enrolled, then withdrew consent before the day: template deleted, uses a card
  bool has_card = false;
  MaskHabit mask_habit = MaskHabit::sometimes;
  bool carries_mask = true;
  bool febrile = false;          // ground truth: core temperature >= 37.3 °C
  double core_c = 36.8;
  double skin_gradient_c = 1.0;  // core minus forehead skin
  std::int32_t quarantine_until_day = INT32_MIN;  // isolated while day < this
  recognizer::HealthCode health = recognizer::HealthCode::green;
  std::uint16_t home_gate = 0;   // residents use their own compound's gate
  std::uint16_t compound = 0;    // index of the home gate's compound
  std::uint32_t impersonates = 0;  // look-alike / cloned card: the resident they pass themselves off as

  std::string label() const;     // "R000123", "V0004", "L0001", "C0002", "K0001"
  bool quarantined_on(int day) const { return day < quarantine_until_day; }
};

class Population final : public recognizer::RightsDirectory {
 public:
  Population(const Scenario& scenario);

  const std::vector<Person>& persons() const { return persons_; }
  const Person& person(std::uint32_t id) const { return persons_[id]; }
  std::uint32_t resident_count() const { return residents_; }
  std::uint32_t enrolled_count() const { return enrolled_; }
  // Compounds: gates with the same `compound` name; each has its own residents and face gallery.
  std::uint16_t compound_of_gate(std::uint16_t gate) const { return gate_compound_[gate]; }
  const std::vector<std::uint32_t>& gallery(std::uint16_t compound) const { return gallery_[compound]; }
  const std::vector<std::uint32_t>& households_first() const { return household_first_; }
  const std::vector<std::uint32_t>& free_residents() const { return free_residents_; }      // not in isolation
  const std::vector<std::uint32_t>& isolated_residents() const { return isolated_residents_; }
  const std::vector<std::uint32_t>& enrolled_residents() const { return enrolled_ids_; }
  const std::vector<std::uint32_t>& card_holders() const { return card_holder_ids_; }

  // Creates an outsider arriving now; `rng` is the arrival stream of its kind.
  std::uint32_t add_outsider(PersonKind kind, RandomStream& rng);
  // Chooses a resident gate by traffic share among gates serving `dir`.
  // Chooses a gate by traffic share among gates serving `dir` (within `compound`, if given).
  std::uint16_t pick_gate(recognizer::Direction dir, RandomStream& rng, std::optional<std::uint16_t> compound = std::nullopt) const;
  bool gate_serves(std::uint16_t gate, recognizer::Direction dir) const;

  std::optional<recognizer::Rights> rights(std::uint32_t person_id) const override;

 private:
  void draw_body(Person& p, bool febrile, RandomStream& rng) const;
  void draw_habits(Person& p, RandomStream& rng) const;
  const Scenario& scenario_;
  std::vector<Person> persons_;
  std::uint32_t residents_ = 0, enrolled_ = 0;
  std::vector<std::uint32_t> household_first_;  // first person id of each household (+ end sentinel)
  std::vector<std::uint32_t> free_residents_, isolated_residents_, enrolled_ids_, card_holder_ids_;
  std::uint32_t outsider_serial_[5] = {};
  std::vector<std::uint16_t> gate_compound_;
  std::vector<std::vector<std::uint32_t>> gallery_;  // enrolled residents per compound
};

}  // namespace gatetwin::sim
